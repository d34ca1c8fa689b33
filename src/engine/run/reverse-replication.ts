import type { ResolvedConfig } from '../../config/resolved-config.js';
import { clientsFor, destroyClients, type TableClients } from '../../aws/clients.js';
import { roleFor } from '../../aws/errors.js';
import type { KeySchema } from '../../core/item.js';
import type { RateMeter } from '../../core/rate-limiter.js';
import type { ItemMapper } from '../../core/transform.js';
import { dynamoDbDriver } from '../../sinks/dynamodb/dynamodb-driver.js';
import type { Sink } from '../../sinks/sink.js';
import { StreamReader } from '../../sources/stream/stream-reader.js';
import { sdkStreamsApi } from '../../sources/stream/streams-api.js';
import type { StreamState } from '../../state/migration-state.js';
import type { ApplyStats } from '../catch-up.js';
import type { FailurePolicy } from '../failure-policy.js';
import type { Logger } from '../logger.js';
import { reverseMapper } from '../reverse.js';
import { reverseApplier } from '../reverse-applier.js';
import { StreamApplier, type StreamFeed } from './stream-applier.js';

export interface ReverseReplicationDeps {
  config: ResolvedConfig;
  /** The target stream positions opened at `cutover writes` (moved by the readers). */
  positions: () => Record<string, StreamState>;
  sourceClients: Record<string, TableClients>;
  sourceKeys: Record<string, KeySchema>;
  mapper: ItemMapper;
  failures: FailurePolicy;
  stats: ApplyStats;
  meter: RateMeter;
  log: Logger;
}

/** Target streams → the source, through the inverse transform: keeps the old table current after writes moved. */
export class ReverseReplication extends StreamApplier {
  /** What `open` created: this actor owns them, and destroys them when its streams stop. */
  private opened: { clients: TableClients[]; sink?: Sink } = { clients: [] };

  constructor(private readonly deps: ReverseReplicationDeps) {
    super(deps.meter);
  }

  protected open(): StreamFeed[] {
    const { config } = this.deps;
    const sourceName = Object.keys(config.sources)[0]!;
    const sourceRef = config.sources[sourceName]!;
    const sourceKey = this.deps.sourceKeys[sourceName]!;
    const mapper = reverseMapper(config, this.deps.mapper.keySchemaOf(Object.keys(config.targets)[0]!)!, sourceKey);
    const sink = dynamoDbDriver.open(
      sourceName,
      { ...sourceRef, kind: 'dynamodb' },
      {
        keySchema: sourceKey,
        concurrency: config.write.concurrency,
        side: 'source',
      },
    );
    this.opened = { clients: [], sink };
    return Object.entries(this.deps.positions()).map(([target, stream]) => this.feed(target, stream, { sourceName, sourceKey, mapper, sink }));
  }

  private feed(target: string, stream: StreamState, on: { sourceName: string; sourceKey: KeySchema; mapper: ItemMapper; sink: Sink }): StreamFeed {
    const { config, log } = this.deps;
    const { sourceName, sourceKey, mapper, sink } = on;
    const sourceRef = config.sources[sourceName]!;
    const ref = config.targets[target]!;
    const clients = this.targetClients(target);
    return {
      source: target,
      reader: new StreamReader({
        api: sdkStreamsApi(clients.streams),
        source: target,
        state: stream,
        onCheckpoint: () => {},
        pollIntervalMs: config.stream.pollIntervalMs,
        discoveryIntervalMs: config.stream.discoveryIntervalMs,
        log,
      }),
      apply: reverseApplier({
        inverse: mapper,
        forward: this.deps.mapper,
        target,
        targetKey: this.deps.mapper.keySchemaOf(target)!,
        source: { name: sourceName, client: this.deps.sourceClients[sourceName]!.dynamodb, table: sourceRef.table, keySchema: sourceKey },
        // Reverse replication is refused for any target but DynamoDB (plan-checks), whose config names its table.
        targetTable: { client: clients.dynamodb, table: (ref as { table: string }).table },
        // As many source items at once as the source writer sends writes at once.
        concurrency: config.write.concurrency,
        sink,
        failures: this.deps.failures,
        stats: this.deps.stats,
      }),
    };
  }

  private targetClients(target: string): TableClients {
    const ref = this.deps.config.targets[target]!;
    const clients = clientsFor(ref, roleFor('target', target, ref));
    this.opened.clients.push(clients);
    return clients;
  }

  protected override async release(): Promise<void> {
    const { clients, sink } = this.opened;
    this.opened = { clients: [] };
    for (const c of clients) destroyClients(c);
    // Closing only frees sockets: a failure here must not hide why the streams stopped.
    await sink?.close?.().catch((err: unknown) => this.deps.log.warn({ error: err }, 'reverse replication: closing the source writer failed'));
  }

  protected announce(streams: number): void {
    this.deps.log.info({ direction: 'reverse', streams }, 'reverse replication: applying the target stream to the source');
  }
}
