import type { ResolvedConfig } from '../../config/resolved-config.js';
import type { TableClients } from '../../aws/clients.js';
import type { AttributeMap, KeySchema } from '../../core/item.js';
import type { RateMeter } from '../../core/rate-limiter.js';
import type { ItemMapper } from '../../core/transform.js';
import { isExpired } from '../../core/ttl.js';
import type { Sink } from '../../sinks/sink.js';
import { StreamReader } from '../../sources/stream/stream-reader.js';
import { sdkStreamsApi, type StreamsApi } from '../../sources/stream/streams-api.js';
import type { SourceState } from '../../state/migration-state.js';
import { changeApplier, type ApplyStats } from '../catch-up.js';
import type { FailurePolicy } from '../failure-policy.js';
import type { Logger } from '../logger.js';
import { strategyFor } from '../strategies/registry.js';
import type { SnapshotGates } from './snapshot-gates.js';
import { StreamApplier, type StreamFeed } from './stream-applier.js';

export interface ForwardReplicationDeps {
  config: ResolvedConfig;
  /** Per source: its stream position (moved by the readers) and backfill record (read only). */
  sources: Record<string, SourceState>;
  sourceClients: Record<string, TableClients>;
  sourceKeys: Record<string, KeySchema>;
  /** Open while the backfill runs alongside: the applier marks each record's key there and waits for pages' locks. */
  gates: SnapshotGates;
  /** TEST ONLY: a source's streams API in place of the SDK's (the short-retention stand-in), and its retention. */
  testStreams?: { api: (source: string) => StreamsApi | undefined; retentionMs: number };
  ttlAttributes: Record<string, string | undefined>;
  mapper: ItemMapper;
  sinks: Record<string, Sink>;
  failures: FailurePolicy;
  stats: ApplyStats;
  meter: RateMeter;
  log: Logger;
}

/**
 * Source streams → targets. Independent of the backfill: it applies whatever the stream holds after each source's
 * position, passing over records older than `skipBefore` (already in the snapshot), and can start at any time.
 */
export class ForwardReplication extends StreamApplier {
  constructor(private readonly deps: ForwardReplicationDeps) {
    super(deps.meter);
  }

  protected open(): StreamFeed[] {
    const { config, log, gates, testStreams } = this.deps;
    return Object.entries(this.deps.sources).map(([name, src]) => {
      const prepare = strategyFor(src.backfill.strategy).prepareRecord?.(config);
      // The gate is read when the stream starts: open while the backfill runs alongside, absent after it.
      const gate = gates.get(name);
      const reader = new StreamReader({
        api: testStreams?.api(name) ?? sdkStreamsApi(this.deps.sourceClients[name]!.streams),
        source: name,
        state: src.stream,
        onCheckpoint: () => {},
        pollIntervalMs: config.stream.pollIntervalMs,
        discoveryIntervalMs: config.stream.discoveryIntervalMs,
        log,
        ...(testStreams ? { retentionMs: testStreams.retentionMs } : {}),
      });
      const apply = changeApplier({
        mapper: this.deps.mapper,
        sinks: this.deps.sinks,
        failures: this.deps.failures,
        stats: this.deps.stats,
        log,
        ...(gate ? { gate: { gate, sourceKeySchema: this.deps.sourceKeys[name]! } } : {}),
        ...(src.stream.skipBefore !== undefined ? { skipBefore: src.stream.skipBefore } : {}),
        ...(prepare ? { prepare } : {}),
        ...this.expiredFilter(name),
      });
      return { source: name, reader, apply };
    });
  }

  protected announce(streams: number): void {
    this.deps.log.info({ direction: 'forward', streams }, 'applying the source stream to the targets');
  }

  private expiredFilter(source: string): { isExpired?: (item: AttributeMap) => boolean } {
    const ttlAttribute = this.deps.ttlAttributes[source];
    if (!this.deps.config.backfill.skipExpired || !ttlAttribute) return {};
    return { isExpired: (item) => isExpired(item, ttlAttribute, Date.now()) };
  }
}
