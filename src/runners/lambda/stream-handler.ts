import type { ResolvedConfig } from '../../config/resolved-config.js';
import type { ChangeRecord } from '../../core/change.js';
import type { AttributeMap } from '../../core/item.js';
import type { ItemMapper } from '../../core/transform.js';
import { isExpired } from '../../core/ttl.js';
import { FailurePolicy } from '../../engine/failure-policy.js';
import { strategyFor } from '../../engine/strategies/registry.js';
import type { Sink } from '../../sinks/sink.js';
import type { DynamoDbStateStore, RunnerRuntime } from '../../state/dynamodb-state-store.js';
import type { MigrationState } from '../../state/migration-state.js';
import { applyBatchInOrder } from './batch-apply.js';
import { lambdaToChangeRecord } from './event-records.js';
import { EmfMetrics, jsonLogger, type JsonLogger } from './observability.js';
import { configLoader, loadRuntime, mapperFor, openSinks, stateStoreFor, type RunnerOptions } from './runtime.js';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent, LambdaContext } from './types.js';

export interface StreamHandlerOptions extends RunnerOptions {
  /** How long a state that allows applying is reused before it is read again (default 30 s). */
  stateCacheMs?: number;
}

export type StreamHandler = (event: DynamoDBStreamEvent, context?: LambdaContext) => Promise<DynamoDBBatchResponse>;

/** Everything opened once per container: config, state store, prepared runtime facts, mapper and sinks. */
interface Container {
  config: ResolvedConfig;
  store: DynamoDbStateStore;
  log: JsonLogger;
  applier?: { runtime: RunnerRuntime; mapper: ItemMapper; sinks: Record<string, Sink> };
  ready?: { state: MigrationState; at: number };
}

/**
 * The Lambda on the source's DynamoDB stream (event source mapping with ReportBatchItemFailures). It runs the CLI's
 * apply code — toChangeRecord, changeWrites, the same sinks and FailurePolicy — on each batch, in order, and returns
 * the records from the first failing one on as batchItemFailures, so Lambda retries from there and no later change to
 * an item overtakes an earlier failed one.
 *
 * It applies nothing until the backfill is complete (the protocol's replay starts only after the snapshot): before
 * that, every record is returned as failed and Lambda delivers it again later. The CDK construct also keeps the
 * mapping disabled until the state machine has finished the backfill; this check is the second line of defence.
 *
 * @example
 * // index.ts bundled with your dynashift.config.json
 * export const streamHandler = createStreamHandler();
 */
export function createStreamHandler(opts: StreamHandlerOptions = {}): StreamHandler {
  const loadConfig = configLoader(opts);
  let container: Container | undefined;

  const open = async (): Promise<Container> => {
    if (container) return container;
    const config = await loadConfig();
    const log = jsonLogger({ fields: { migration: config.name }, ...(opts.write ? { write: opts.write } : {}) });
    container = { config, store: stateStoreFor(opts, config), log };
    return container;
  };

  return async (event, context) => {
    const c = await open();
    const log = c.log.child({ ...(context?.awsRequestId ? { function_request_id: context.awsRequestId } : {}) });
    const metrics = new EmfMetrics({ dimensions: { migration: c.config.name }, ...(opts.write ? { write: opts.write } : {}) });
    try {
      return await handleBatch(c, event, log, metrics, opts.stateCacheMs ?? 30_000);
    } finally {
      metrics.flush();
    }
  };

  async function handleBatch(
    c: Container,
    event: DynamoDBStreamEvent,
    log: JsonLogger,
    metrics: EmfMetrics,
    cacheMs: number,
  ): Promise<DynamoDBBatchResponse> {
    const raw = event.Records ?? [];
    if (raw.length === 0) return { batchItemFailures: [] };
    // A record without a sequence number or keys can't be reported or applied: toChangeRecord throws, the whole batch
    // fails and is retried (and the Errors alarm fires) — never dropped.
    const records = raw.map(lambdaToChangeRecord);
    metrics.add('RecordsReceived', 'Count', records.length);
    const failAll = (): DynamoDBBatchResponse => {
      metrics.add('BatchItemFailures', 'Count', records.length);
      return { batchItemFailures: records.map((r) => ({ itemIdentifier: r.sequenceNumber })) };
    };

    const gate = await readyState(c, cacheMs);
    if (!gate.ok) {
      log.warn({ records: records.length, reason: gate.reason }, 'not applying yet: returning the batch for redelivery');
      metrics.add('RecordsDeferred', 'Count', records.length);
      return failAll();
    }
    const arn = raw[0]!.eventSourceARN;
    const sources = Object.entries(gate.state.sources);
    const match = sources.find(([, s]) => s.stream.streamArn === arn) ?? (arn === undefined && sources.length === 1 ? sources[0] : undefined);
    if (!match) {
      log.error(
        { code: 'STREAM_CHANGED', eventSourceARN: arn, recorded: sources.map(([, s]) => s.stream.streamArn) },
        'this batch comes from a stream the migration did not open (was the stream disabled and re-enabled?); nothing is applied',
      );
      return failAll();
    }
    const [source, src] = match;
    const { runtime, mapper, sinks } = c.applier!;
    const ttlAttribute = runtime.ttlAttributes[source];
    const failures = new FailurePolicy(c.store, c.config.onError, log);
    const outcome = await applyBatchInOrder({
      mapper,
      sinks,
      failures,
      onError: c.config.onError,
      source,
      shardId: 'lambda',
      records,
      ...(src.stream.skipBefore !== undefined ? { skipBefore: src.stream.skipBefore } : {}),
      ...(c.config.backfill.skipExpired && ttlAttribute ? { isExpired: (item: AttributeMap) => isExpired(item, ttlAttribute, Date.now()) } : {}),
    });

    const applied = outcome.failedFrom ?? records.length;
    const last = records[applied - 1];
    metrics.add('RecordsApplied', 'Count', applied);
    metrics.add('RecordsSkipped', 'Count', outcome.skipped);
    metrics.add('WritesLanded', 'Count', outcome.writes);
    metrics.add('DeadLetters', 'Count', outcome.deadLettered);
    metrics.add('BatchItemFailures', 'Count', records.length - applied);
    const age = iteratorAge(records);
    if (age !== undefined) metrics.add('IteratorAge', 'Milliseconds', age);
    await recordProgress(c.store, log, source, records, applied, outcome.skipped, outcome.writes, last);

    if (outcome.failedFrom === undefined) {
      log.info(
        { source, records: records.length, skipped: outcome.skipped, writes: outcome.writes, deadLettered: outcome.deadLettered },
        'batch applied',
      );
      return { batchItemFailures: [] };
    }
    const failed = records[outcome.failedFrom]!;
    log.error(
      {
        source,
        applied,
        failedFrom: failed.sequenceNumber,
        redelivered: records.length - applied,
        error: outcome.failure,
        deadLetters: c.store.deadLetterLocation(),
      },
      'batch stopped at a failing record; it and every later record are returned for redelivery',
    );
    return { batchItemFailures: records.slice(outcome.failedFrom).map((r) => ({ itemIdentifier: r.sequenceNumber })) };
  }

  /** Whether the protocol allows applying now: prepared, and every source's backfill complete. */
  async function readyState(c: Container, cacheMs: number): Promise<{ ok: true; state: MigrationState } | { ok: false; reason: string }> {
    if (c.ready && Date.now() - c.ready.at < cacheMs && c.applier) return { ok: true, state: c.ready.state };
    const state = await c.store.peek();
    if (!state) return { ok: false, reason: "the migration has not been prepared (the state machine's Prepare step writes its state)" };
    const pending = Object.entries(state.sources)
      .filter(([, s]) => strategyFor(s.backfill.strategy).copiesSnapshot && !s.backfill.completedAt)
      .map(([n]) => n);
    if (pending.length > 0) return { ok: false, reason: `the backfill of ${pending.join(', ')} is not complete` };
    if (!c.applier) {
      const runtime = await loadRuntime(c.store, c.config);
      if (!runtime) return { ok: false, reason: 'the prepared runtime facts are missing (run the state machine again)' };
      c.applier = { runtime, mapper: mapperFor(c.config, runtime), sinks: openSinks(c.config, runtime, opts) };
    }
    c.ready = { state, at: Date.now() };
    return { ok: true, state };
  }
}

/** Age of the newest record in the batch: how far behind the stream's tip this shard is. */
function iteratorAge(records: ChangeRecord[]): number | undefined {
  const at = records[records.length - 1]?.createdAt;
  return at === undefined ? undefined : Math.max(0, Date.now() - at);
}

/** Progress counters for `status`; a failure here is logged, never allowed to fail a batch whose writes landed. */
async function recordProgress(
  store: DynamoDbStateStore,
  log: JsonLogger,
  source: string,
  records: ChangeRecord[],
  applied: number,
  skipped: number,
  writes: number,
  last: ChangeRecord | undefined,
): Promise<void> {
  try {
    await store.recordStreamBatch(source, {
      records: applied,
      skipped,
      writes,
      failed: applied < records.length,
      ...(last?.createdAt !== undefined ? { lastRecordAt: last.createdAt } : {}),
      ...(last ? { lastSequenceNumber: last.sequenceNumber } : {}),
    });
  } catch (err) {
    log.warn({ error: err }, 'could not record stream progress (progress only; the batch itself is applied)');
  }
}
