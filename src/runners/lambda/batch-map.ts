import type { ChangeRecord } from '../../core/change.js';
import type { AttributeMap } from '../../core/item.js';
import { changeWrites, type MapFailure } from '../../core/protocol.js';
import type { RecentRemovals } from '../../core/recent-removals.js';
import type { ItemMapper } from '../../core/transform.js';
import { ItemFailureHalt, type FailurePolicy } from '../../engine/failure-policy.js';

/** What both the apply and the spool path of the stream handler map a batch with. */
export interface BatchMapOptions {
  mapper: ItemMapper;
  onError: 'halt' | 'dead-letter';
  source: string;
  /** Lambda events carry no shard id; any label other than 'backfill' marks the writes as stream writes. */
  shardId: string;
  records: ChangeRecord[];
  skipBefore?: number;
  isExpired?: (item: AttributeMap) => boolean;
  /**
   * The container's memory of the keys whose last delivered record was a deletion (core/recent-removals.ts): with it,
   * DynamoDB Local's duplicate REMOVE is passed over as the CLI does, instead of halting the shard as an incomplete
   * record. It observes every delivered record once, in delivery order; a redelivery observes its records again.
   */
  recentRemovals?: RecentRemovals;
  /** Called for each duplicate REMOVE passed over (the caller logs it, as the CLI does). */
  onDuplicateRemove?: (record: ChangeRecord) => void;
}

export interface MappedBatch {
  /** The records the batch goes on with: all of them, or with 'halt' those before the first the transform rejects. */
  records: ChangeRecord[];
  mapped: ReturnType<typeof changeWrites>;
  /** With 'halt': the first record's failure; it and every later record are redelivered. */
  mapFailure?: MapFailure;
  /** Position of a record in the delivered batch. */
  position: (sequenceNumber: string | undefined) => number;
}

/**
 * Maps a batch with the CLI's write rules (changeWrites). With onError 'halt' it keeps only the records before the first
 * one the transform rejects: the transform is pure (assumption A2), so that prefix maps without failures.
 */
export function mapBatch(opts: BatchMapOptions): MappedBatch {
  const index = new Map(opts.records.map((r, i) => [r.sequenceNumber, i]));
  const position = (sequenceNumber: string | undefined) => index.get(sequenceNumber ?? '') ?? 0;
  const writeOpts = {
    ...(opts.skipBefore !== undefined ? { skipBefore: opts.skipBefore } : {}),
    ...(opts.isExpired ? { isExpired: opts.isExpired } : {}),
  };
  const map = (records: ChangeRecord[], recentRemovals: RecentRemovals | undefined) =>
    changeWrites(
      opts.mapper,
      { source: opts.source, shardId: opts.shardId, records },
      { ...writeOpts, ...(recentRemovals ? { recentRemovals } : {}) },
    );
  // The memory as it was before this batch: with 'halt' a shorter prefix may be mapped again, from it, not from what
  // the whole batch left ('dead-letter' maps once, so it needs no copy).
  const before = opts.onError === 'halt' ? opts.recentRemovals?.clone() : undefined;
  let records = opts.records;
  let mapped = map(records, opts.recentRemovals);
  let mapFailure: MapFailure | undefined;
  if (opts.onError === 'halt') {
    while (mapped.failures.length > 0) {
      mapFailure = earliest(mapped.failures, (f) => position(f.record!.sequenceNumber));
      records = opts.records.slice(0, position(mapFailure.record!.sequenceNumber));
      mapped = map(records, before?.clone());
    }
  }
  for (const record of mapped.duplicateRemoves) opts.onDuplicateRemove?.(record);
  return { records, mapped, ...(mapFailure ? { mapFailure } : {}), position };
}

/** FailurePolicy in 'halt' mode records the entries, then throws to stop the run; here stopping is the return value. */
export async function deadLetterAndHalt(
  failures: FailurePolicy,
  mapFailures: MapFailure[],
  rejected: Parameters<FailurePolicy['handle']>[1],
): Promise<void> {
  try {
    await failures.handle(mapFailures, rejected);
  } catch (err) {
    if (!(err instanceof ItemFailureHalt)) throw err;
  }
}

export function earliest<T>(list: T[], position: (t: T) => number): T {
  return list.reduce((a, b) => (position(b) < position(a) ? b : a));
}
