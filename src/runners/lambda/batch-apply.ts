import type { FailurePolicy } from '../../engine/failure-policy.js';
import { writeToTargets } from '../../engine/write-all.js';
import type { RejectedWrite, Sink } from '../../sinks/sink.js';
import { deadLetterAndHalt, earliest, mapBatch, type BatchMapOptions } from './batch-map.js';

export interface BatchApplyOptions extends BatchMapOptions {
  sinks: Record<string, Sink>;
  failures: FailurePolicy;
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
  const before = opts.failures.recorded;
  const outcome = (o: Omit<BatchOutcome, 'deadLettered'>): BatchOutcome => ({ ...o, deadLettered: opts.failures.recorded - before });
  const { records, mapped, mapFailure, position } = mapBatch(opts);
  if (opts.onError === 'dead-letter') await opts.failures.handle(mapped.failures, []);

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
      const first = earliest(rejected, (r) => position(r.op.origin.sequenceNumber));
      const at = position(first.op.origin.sequenceNumber);
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

function describe(err: unknown): { code: string; message: string } {
  const e = err as { code?: unknown; name?: string; message?: string };
  return { code: typeof e?.code === 'string' ? e.code : (e?.name ?? 'Error'), message: e?.message ?? String(err) };
}
