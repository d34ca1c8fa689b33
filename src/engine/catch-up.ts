import type { ChangePage, ChangeRecord } from '../core/change.js';
import { changeWrites } from '../core/protocol.js';
import type { ItemMapper } from '../core/transform.js';
import type { AttributeMap } from '../core/item.js';
import type { Sink } from '../sinks/sink.js';
import type { FailurePolicy } from './failure-policy.js';
import { writeToTargets } from './write-all.js';
import { keyId, type KeySchema } from '../core/item.js';
import type { SnapshotGate } from '../core/snapshot-gate.js';

export interface ApplyStats {
  records: number;
  skipped: number;
  writes: number;
}

/**
 * The apply step shared by every runner (CLI stream reader, Lambda handler): map a page of ordered change records to
 * compacted writes and land them. It resolves only when every write has landed or been dead-lettered — the caller
 * checkpoints after that, never before.
 */
export function changeApplier(opts: {
  mapper: ItemMapper;
  sinks: Record<string, Sink>;
  failures: FailurePolicy;
  skipBefore?: number;
  isExpired?: (item: AttributeMap) => boolean;
  /** Rewrites each record before mapping (the touch strategy strips its marker attribute). */
  prepare?: (record: ChangeRecord) => ChangeRecord;
  stats: ApplyStats;
  /**
   * While a backfill runs alongside: the page's source keys are marked (so pages read before these changes leave those
   * items to the stream) and the writes wait for any backfill page that holds one of the keys.
   */
  gate?: { gate: SnapshotGate; sourceKeySchema: KeySchema };
}): (page: ChangePage) => Promise<void> {
  return async (page) => {
    const prepared = opts.prepare ? { ...page, records: page.records.map(opts.prepare) } : page;
    if (opts.gate) {
      const { gate, sourceKeySchema } = opts.gate;
      const wait = gate.enter(prepared.records.map((r) => ({ key: keyId(r.keys, sourceKeySchema), createdAt: r.createdAt })));
      if (wait) await wait;
    }
    const mapped = changeWrites(opts.mapper, prepared, {
      ...(opts.skipBefore !== undefined ? { skipBefore: opts.skipBefore } : {}),
      ...(opts.isExpired ? { isExpired: opts.isExpired } : {}),
    });
    await opts.failures.handle(mapped.failures, []);
    const { rejected, written } = await writeToTargets(opts.sinks, mapped.ops);
    await opts.failures.handle([], rejected);
    await opts.failures.landed(
      'stream',
      page.source,
      () =>
        prepared.records
          .filter((r) => opts.skipBefore === undefined || r.createdAt === undefined || r.createdAt >= opts.skipBefore)
          .map((r) => ({ sourceKey: r.keys, sequenceNumber: r.sequenceNumber })),
      mapped.failures,
      rejected,
    );
    opts.stats.records += page.records.length;
    opts.stats.skipped += mapped.skipped;
    opts.stats.writes += written;
  };
}
