import type { ChangeRecord } from '../../core/change.js';
import type { AttributeMap } from '../../core/item.js';
import { changeWrites, type MapFailure } from '../../core/protocol.js';
import type { ItemMapper } from '../../core/transform.js';
import { ItemFailureHalt, type FailurePolicy } from '../../engine/failure-policy.js';
import { writeToTargets } from '../../engine/write-all.js';
import type { RejectedWrite, Sink } from '../../sinks/sink.js';

export interface BatchApplyOptions {
  mapper: ItemMapper;
  sinks: Record<string, Sink>;
  failures: FailurePolicy;
  onError: 'halt' | 'dead-letter';
  source: string;
  /** Lambda events carry no shard id; any label other than 'backfill' marks the writes as stream writes. */
  shardId: string;
  records: ChangeRecord[];
  skipBefore?: number;
  isExpired?: (item: AttributeMap) => boolean;
}

export interface BatchOutcome {
  /** Records before this index are applied; this one and every later one must be redelivered. Undefined: all applied. */
  failedFrom?: number;
  /** Why the batch stopped, for logs. */
  failure?: { code: string; message: string };
  skipped: number;
  writes: number;
  deadLettered: number;
}

/**
 * Applies one shard's batch in order with the CLI's write rules (changeWrites + compaction + the same sinks), and stops
 * at the first record that fails — later records of the same item must never land before an earlier failed one:
 *
 * - a record the transform rejects: with onError 'halt' only the records before it are applied (one compacted page),
 *   it is dead-lettered and reported with everything after it; with 'dead-letter' it is dead-lettered and skipped;
 * - a write a target rejects: the same, from the earliest record whose write was rejected (later records' writes that
 *   landed are re-applied on redelivery, which the protocol allows: a contiguous suffix re-applied in order);
 * - a sink that fails outright: nothing about the batch is known, so it is redelivered whole.
 */
export async function applyBatchInOrder(opts: BatchApplyOptions): Promise<BatchOutcome> {
  const index = new Map(opts.records.map((r, i) => [r.sequenceNumber, i]));
  const writeOpts = {
    ...(opts.skipBefore !== undefined ? { skipBefore: opts.skipBefore } : {}),
    ...(opts.isExpired ? { isExpired: opts.isExpired } : {}),
  };
  const before = opts.failures.recorded;
  const outcome = (o: Omit<BatchOutcome, 'deadLettered'>): BatchOutcome => ({ ...o, deadLettered: opts.failures.recorded - before });

  let records = opts.records;
  let mapped = changeWrites(opts.mapper, { source: opts.source, shardId: opts.shardId, records }, writeOpts);
  let mapFailure: MapFailure | undefined;
  if (opts.onError === 'halt') {
    // The transform is pure (assumption A2), so the prefix before the first failure maps without failures.
    while (mapped.failures.length > 0) {
      mapFailure = earliest(mapped.failures, (f) => index.get(f.record!.sequenceNumber) ?? 0);
      records = opts.records.slice(0, index.get(mapFailure.record!.sequenceNumber) ?? 0);
      mapped = changeWrites(opts.mapper, { source: opts.source, shardId: opts.shardId, records }, writeOpts);
    }
  } else {
    await opts.failures.handle(mapped.failures, []);
  }

  let rejected: RejectedWrite[];
  let written: number;
  try {
    ({ rejected, written } = await writeToTargets(opts.sinks, mapped.ops));
  } catch (err) {
    return outcome({ failedFrom: 0, failure: describe(err), skipped: 0, writes: 0 });
  }

  let failedFrom = mapFailure ? records.length : undefined;
  let failure: { code: string; message: string } | undefined = mapFailure?.error;
  if (rejected.length > 0) {
    if (opts.onError === 'halt') {
      const first = earliest(rejected, (r) => index.get(r.op.origin.sequenceNumber ?? '') ?? 0);
      const at = index.get(first.op.origin.sequenceNumber ?? '') ?? 0;
      await deadLetterAndHalt(opts.failures, [], rejected);
      if (failedFrom === undefined || at < failedFrom) {
        failedFrom = at;
        failure = first.error;
      }
    } else {
      await opts.failures.handle([], rejected);
    }
  }
  if (mapFailure) await deadLetterAndHalt(opts.failures, [mapFailure], []);
  return outcome({ ...(failedFrom !== undefined ? { failedFrom } : {}), ...(failure ? { failure } : {}), skipped: mapped.skipped, writes: written });
}

/** FailurePolicy in 'halt' mode records the entries, then throws to stop the run; here stopping is the return value. */
async function deadLetterAndHalt(failures: FailurePolicy, mapFailures: MapFailure[], rejected: RejectedWrite[]): Promise<void> {
  try {
    await failures.handle(mapFailures, rejected);
  } catch (err) {
    if (!(err instanceof ItemFailureHalt)) throw err;
  }
}

function earliest<T>(list: T[], position: (t: T) => number): T {
  return list.reduce((a, b) => (position(b) < position(a) ? b : a));
}

function describe(err: unknown): { code: string; message: string } {
  const e = err as { code?: unknown; name?: string; message?: string };
  return { code: typeof e?.code === 'string' ? e.code : (e?.name ?? 'Error'), message: e?.message ?? String(err) };
}
