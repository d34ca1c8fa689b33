import type { ResolvedConfig } from '../../config/resolved-config.js';
import type { ChangeRecord } from '../../core/change.js';
import { RecentRemovals } from '../../core/recent-removals.js';
import type { AttributeMap } from '../../core/item.js';
import type { ItemMapper } from '../../core/transform.js';
import { isExpired } from '../../core/ttl.js';
import { FailurePolicy } from '../../engine/failure-policy.js';
import { strategyFor } from '../../engine/strategies/registry.js';
import type { Sink } from '../../sinks/sink.js';
import type { DynamoDbStateStore, RunnerRuntime } from '../../state/dynamodb-state-store.js';
import type { MigrationState } from '../../state/migration-state.js';
import type { SpoolMode } from '../../state/key-spool.js';
import { applyBatchInOrder } from './batch-apply.js';
import { spoolBatchInOrder } from './batch-spool.js';
import { lambdaToChangeRecord } from './event-records.js';
import { EmfMetrics, jsonLogger, type JsonLogger } from './observability.js';
import { configLoader, loadRuntime, mapperFor, openSinks, spoolsDuringBackfill, stateStoreFor, type RunnerOptions } from './runtime.js';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent, LambdaContext } from './types.js';

export interface StreamHandlerOptions extends RunnerOptions {
  /** How long a state that allows applying is reused before it is read again (default `state.cacheSeconds`, 30 s). */
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
  /** The last spool mode read per source (sources that spool during their backfill). */
  modes: Map<string, { mode: SpoolMode; at: number }>;
  /** Keys whose last delivered record was a deletion, per source: DynamoDB Local's duplicate REMOVE is passed over. */
  recentRemovals: Map<string, RecentRemovals>;
}

/**
 * The Lambda on the source's DynamoDB stream (event source mapping with ReportBatchItemFailures). It runs the CLI's
 * apply code — toChangeRecord, changeWrites, the same sinks and FailurePolicy — on each batch, in order, and returns
 * the records from the first failing one on as batchItemFailures, so Lambda retries from there and no later change to
 * an item overtakes an earlier failed one.
 *
 * It applies nothing until the backfill is complete (the protocol's replay starts only after the snapshot). With
 * stream.duringBackfill (the default) the state machine enables the mapping right after Prepare, and while the
 * backfill runs each batch is *spooled* (batch-spool.ts): the source keys it touched go to the dirty-key spool in the
 * state table, which the Replay task re-reads after the backfill; once the replay is live, batches are applied. With
 * stream.duringBackfill false, every record is returned as failed until the backfill is complete and Lambda delivers
 * it again later (the construct keeps the mapping disabled until then; this check is the second line of defence).
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
    container = { config, store: stateStoreFor(opts, config), log, modes: new Map(), recentRemovals: new Map() };
    return container;
  };

  return async (event, context) => {
    const c = await open();
    const log = c.log.child({ ...(context?.awsRequestId ? { function_request_id: context.awsRequestId } : {}) });
    const metrics = new EmfMetrics({ dimensions: { migration: c.config.name }, ...(opts.write ? { write: opts.write } : {}) });
    try {
      return await handleBatch(c, event, log, metrics, opts.stateCacheMs ?? (c.config.state?.cacheSeconds ?? 30) * 1000);
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
      return redeliverAll(records);
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
    const direction = forwardDirection(gate.state);
    if (direction === 'finished') {
      // `dynashift finish` stopped replication for good: the batch is acknowledged, nothing is applied.
      log.info({ source, records: records.length }, 'the migration is finished: replication stopped, the batch is not applied');
      metrics.add('RecordsSkipped', 'Count', records.length);
      return { batchItemFailures: [] };
    }
    if (direction !== 'forward') {
      // Writes were cut over and the source drained: the target is the system of record, and forward replication
      // resumes only after `dynashift rollback` (it would bounce reverse replication's writes back to the target).
      log.warn(
        { source, records: records.length, reason: direction },
        'not applying: forward replication is paused; returning the batch for redelivery',
      );
      metrics.add('RecordsDeferred', 'Count', records.length);
      return failAll();
    }
    const mode = await sourceMode(c, gate.state, source, cacheMs);
    if (mode.defer) {
      log.warn({ source, records: records.length, reason: mode.defer }, 'not applying yet: returning the batch for redelivery');
      metrics.add('RecordsDeferred', 'Count', records.length);
      return failAll();
    }
    // The touch strategy's marker is stripped before anything maps a record (the CLI's catch-up does the same).
    const prepare = strategyFor(src.backfill.strategy).prepareRecord?.(c.config);
    const batch = prepare ? records.map(prepare) : records;
    const maxLagMs = (c.config.state?.maxLagSeconds ?? 60) * 1000;
    if (mode.spool) {
      const spooled = await spoolBatch(c, log, metrics, source, src.stream.skipBefore, batch, maxLagMs);
      if (spooled) return spooled;
      // The replay went live between the mode read and the spool write: the batch is applied like any other.
    }
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
      records: batch,
      ...duplicateRemoves(c, log, metrics, source),
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
    if (!(await recordProgress(c.store, log, source, records, { applied, skipped: outcome.skipped, writes: outcome.writes, last, age, maxLagMs })))
      return redeliverAll(records);

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

  /**
   * Whether the protocol allows handling batches now: prepared, and every source's backfill complete — except the
   * sources that spool during their backfill (their spool's mode decides, see sourceMode).
   */
  async function readyState(c: Container, cacheMs: number): Promise<{ ok: true; state: MigrationState } | { ok: false; reason: string }> {
    // Once reads are cut over the state is read for every batch: a switch of direction written by `dynashift cutover
    // writes` or `rollback` must take effect at once (the commands wait `state.cacheSeconds` after `cutover reads`).
    if (c.ready && Date.now() - c.ready.at < cacheMs && c.applier && !CUTOVER_PHASES.has(c.ready.state.phase))
      return { ok: true, state: c.ready.state };
    const state = await c.store.peek();
    if (!state) return { ok: false, reason: "the migration has not been prepared (the state machine's Prepare step writes its state)" };
    const pending = Object.entries(state.sources)
      .filter(
        ([, s]) => strategyFor(s.backfill.strategy).copiesSnapshot && !s.backfill.completedAt && !spoolsDuringBackfill(c.config, s.backfill.strategy),
      )
      .map(([n]) => n);
    if (pending.length > 0) return { ok: false, reason: `the backfill of ${pending.join(', ')} is not complete` };
    if (!c.applier) {
      const runtime = await loadRuntime(c.store, c.config);
      if (!runtime) return { ok: false, reason: 'the prepared runtime facts are missing (run the state machine again)' };
      c.applier = { runtime, mapper: mapperFor(c.config, runtime), sinks: await openSinks(c.config, runtime, opts) };
    }
    c.ready = { state, at: Date.now() };
    return { ok: true, state };
  }

  /**
   * How a batch of this source is handled. A source that spools during its backfill follows its spool's mode:
   * 'spooling' → spool, 'handoff' → redeliver (the replay's final pass runs), 'live' → apply. 'live' is final and kept
   * for the container's life; 'spooling' is reused for the state cache time (a stale one is caught by the spool write's
   * condition); 'handoff' is read again every batch.
   */
  async function sourceMode(c: Container, state: MigrationState, source: string, cacheMs: number): Promise<{ spool?: true; defer?: string }> {
    const src = state.sources[source]!;
    if (!spoolsDuringBackfill(c.config, src.backfill.strategy)) return {};
    const cached = c.modes.get(source);
    if (cached && (cached.mode === 'live' || (cached.mode === 'spooling' && Date.now() - cached.at < cacheMs)))
      return cached.mode === 'live' ? {} : { spool: true };
    const control = await c.store.spool().control(source);
    if (!control) {
      // A migration prepared before the spool existed: the old rule, apply once the backfill is complete.
      if (src.backfill.completedAt) return {};
      return { defer: `the spool of source ${source} is not open (the Prepare step opens it)` };
    }
    c.modes.set(source, { mode: control.mode, at: Date.now() });
    if (control.mode === 'handoff') return { defer: `the replay of source ${source}'s spool is in its final pass` };
    return control.mode === 'spooling' ? { spool: true } : {};
  }

  /** Spools the batch; undefined when the spool is already live (the caller applies the batch instead). */
  async function spoolBatch(
    c: Container,
    log: JsonLogger,
    metrics: EmfMetrics,
    source: string,
    skipBefore: number | undefined,
    records: ChangeRecord[],
    maxLagMs: number,
  ): Promise<DynamoDBBatchResponse | undefined> {
    const { runtime, mapper } = c.applier!;
    const ttlAttribute = runtime.ttlAttributes[source];
    const outcome = await spoolBatchInOrder({
      mapper,
      spool: c.store.spool(),
      failures: new FailurePolicy(c.store, c.config.onError, log),
      onError: c.config.onError,
      source,
      shardId: 'lambda',
      records,
      ...duplicateRemoves(c, log, metrics, source),
      ...(skipBefore !== undefined ? { skipBefore } : {}),
      ...(c.config.backfill.skipExpired && ttlAttribute ? { isExpired: (item: AttributeMap) => isExpired(item, ttlAttribute, Date.now()) } : {}),
    });
    if (outcome.refused) {
      c.modes.set(source, { mode: outcome.refused === 'missing' ? 'handoff' : outcome.refused, at: Date.now() });
      if (outcome.refused === 'live') return undefined;
      log.warn(
        { source, records: records.length, mode: outcome.refused },
        'the spool is closed for the final replay pass: returning the batch for redelivery',
      );
      metrics.add('RecordsDeferred', 'Count', records.length);
      metrics.add('BatchItemFailures', 'Count', records.length);
      return redeliverAll(records);
    }
    const spooled = outcome.failedFrom ?? records.length;
    metrics.add('RecordsSpooled', 'Count', spooled);
    metrics.add('KeysSpooled', 'Count', outcome.keys);
    metrics.add('RecordsSkipped', 'Count', outcome.skipped);
    metrics.add('DeadLetters', 'Count', outcome.deadLettered);
    metrics.add('BatchItemFailures', 'Count', records.length - spooled);
    const age = iteratorAge(records);
    if (age !== undefined) metrics.add('IteratorAge', 'Milliseconds', age);
    const recorded = await recordProgress(c.store, log, source, records, {
      applied: spooled,
      skipped: outcome.skipped,
      writes: 0,
      last: records[spooled - 1],
      age,
      maxLagMs,
      spooled: true,
    });
    if (!recorded) return redeliverAll(records);
    if (outcome.failedFrom === undefined) {
      log.info(
        { source, records: records.length, keys: outcome.keys, deadLettered: outcome.deadLettered },
        'batch spooled (the backfill is running)',
      );
      return { batchItemFailures: [] };
    }
    log.error(
      { source, spooled, failedFrom: records[outcome.failedFrom]!.sequenceNumber, error: outcome.failure, deadLetters: c.store.deadLetterLocation() },
      'batch stopped at a failing record; it and every later record are returned for redelivery',
    );
    return { batchItemFailures: records.slice(outcome.failedFrom).map((r) => ({ itemIdentifier: r.sequenceNumber })) };
  }
}

/**
 * The container's memory of recent deletions for this source, and the warning for each duplicate REMOVE it lets the
 * batch pass over (DynamoDB Local writes a second REMOVE without an old image when two requests delete one key at
 * once; on DynamoDB deleting an absent item writes no record). Lambda events name no shard, so one memory per source:
 * a key's records come from one shard at a time, and a REMOVE without an old image occurs on DynamoDB only on streams
 * without old images, which `plan` refuses where a target key can move.
 */
function duplicateRemoves(
  c: Container,
  log: JsonLogger,
  metrics: EmfMetrics,
  source: string,
): { recentRemovals: RecentRemovals; onDuplicateRemove: (record: ChangeRecord) => void } {
  let recentRemovals = c.recentRemovals.get(source);
  if (!recentRemovals) c.recentRemovals.set(source, (recentRemovals = new RecentRemovals()));
  return {
    recentRemovals,
    onDuplicateRemove: (record) => {
      metrics.add('DuplicateRemovesPassedOver', 'Count', 1);
      log.warn(
        { source, sequenceNumber: record.sequenceNumber, sourceKey: record.keys },
        "passing over a REMOVE without an old image that directly follows a REMOVE of the same key: DynamoDB Local's duplicate REMOVE (two requests deleted one key at once); the first REMOVE already deleted its target items",
      );
    },
  };
}

/** Every record of the batch, for Lambda to deliver again (ReportBatchItemFailures from the first record). */
function redeliverAll(records: ChangeRecord[]): DynamoDBBatchResponse {
  return { batchItemFailures: records.map((r) => ({ itemIdentifier: r.sequenceNumber })) };
}

/** Age of the newest record in the batch: how far behind the stream's tip this shard is. */
function iteratorAge(records: ChangeRecord[]): number | undefined {
  const at = records[records.length - 1]?.createdAt;
  return at === undefined ? undefined : Math.max(0, Date.now() - at);
}

/** Phases after `cutover reads`: the handler reads the state for every batch in them. */
const CUTOVER_PHASES = new Set(['reads-cutover', 'writes-cutover', 'finished']);

/**
 * Whether forward replication runs, as `dynashift cutover`/`rollback`/`finish` recorded it (engine/cutover.ts): it
 * runs until writes are cut over and the source drained (`cutover.draining` from forward keeps it applying), and again
 * after a rollback; 'finished' stops it for good.
 */
function forwardDirection(state: MigrationState): 'forward' | 'finished' | string {
  if (state.phase === 'finished') return 'finished';
  const cut = state.cutover;
  if (!cut) return 'forward';
  const running = cut.draining ? cut.draining.from : cut.direction;
  return running === 'forward' ? 'forward' : cut.draining ? `draining ${cut.draining.from} → ${cut.draining.to}` : `direction ${cut.direction}`;
}

/**
 * Progress counters for `status`, and the in-sync evidence `cutover` checks (the batch's last sequence number, its age
 * and whether it was behind the lag threshold).
 *
 * A failed write of good news (a fresh batch) is only logged: `cutover` then sees older evidence and, at worst, refuses
 * for want of fresh evidence. A failed write of bad news (a batch behind the lag threshold) returns false, and the
 * caller hands the whole batch back for redelivery: had it been dropped, a fresh batch from another shard of the same
 * source could record an in-sync-looking lag and let `cutover` pass while this shard lags. Redelivering is safe: Lambda
 * holds the shard's next records until this batch succeeds, and applying (or spooling) the same records again in
 * order, then every later record, ends in the same state. (Not a throw: a handler that throws loses its
 * ReportBatchItemFailures answer, and the test harness's mapping, like a bug, stops on it.)
 *
 * @returns false when the batch must be redelivered
 */
async function recordProgress(
  store: DynamoDbStateStore,
  log: JsonLogger,
  source: string,
  records: ChangeRecord[],
  b: {
    applied: number;
    skipped: number;
    writes: number;
    last: ChangeRecord | undefined;
    age: number | undefined;
    maxLagMs: number;
    spooled?: boolean;
  },
): Promise<boolean> {
  const { last } = b;
  try {
    await store.recordStreamBatch(source, {
      records: b.applied,
      skipped: b.skipped,
      writes: b.writes,
      failed: b.applied < records.length,
      ...(b.spooled ? { spooled: true } : {}),
      ...(last?.createdAt !== undefined ? { lastRecordAt: last.createdAt } : {}),
      ...(last ? { lastSequenceNumber: last.sequenceNumber } : {}),
      ...(b.age !== undefined ? { ageMs: b.age, behind: b.age > b.maxLagMs } : {}),
    });
  } catch (err) {
    if (b.age !== undefined && b.age > b.maxLagMs) {
      log.error(
        { error: err, source, ageMs: b.age },
        'could not record that this batch is behind: returning it for redelivery, so the lag is not lost',
      );
      return false;
    }
    log.warn({ error: err }, 'could not record stream progress (progress only; the batch itself is applied)');
  }
  return true;
}
