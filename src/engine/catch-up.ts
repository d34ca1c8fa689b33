import type { ChangePage, ChangeRecord } from '../core/change.js';
import { changeWrites } from '../core/protocol.js';
import type { ItemMapper } from '../core/transform.js';
import type { AttributeMap } from '../core/item.js';
import type { Sink } from '../sinks/sink.js';
import type { FailurePolicy } from './failure-policy.js';
import { writeToTargets } from './write-all.js';
import { keyId, type KeySchema } from '../core/item.js';
import type { SnapshotGate } from '../core/snapshot-gate.js';
import { RecentRemovals } from '../core/recent-removals.js';
import type { Logger } from './logger.js';

export interface ApplyStats {
  records: number;
  /**
   * Records passed over: already in the snapshot, or DynamoDB Local's duplicate REMOVEs (also counted below); in
   * reverse, each write its ownership rules pass over (engine/reverse-applier.ts).
   */
  skipped: number;
  writes: number;
  /** DynamoDB Local's duplicate REMOVEs passed over (core/recent-removals.ts). */
  duplicateRemoves?: number;
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
  log: Logger;
}): (page: ChangePage) => Promise<void> {
  // One memory per applier: its reader hands it each shard's pages once, in order (a failed page ends the run).
  const recentRemovals = new RecentRemovals();
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
      recentRemovals,
    });
    for (const record of mapped.duplicateRemoves) {
      opts.stats.duplicateRemoves = (opts.stats.duplicateRemoves ?? 0) + 1;
      opts.log.warn(
        {
          source: page.source,
          shardId: page.shardId,
          sequenceNumber: record.sequenceNumber,
          sourceKey: record.keys,
          passedOver: opts.stats.duplicateRemoves,
        },
        "passing over a REMOVE without an old image that directly follows a REMOVE of the same key: DynamoDB Local's duplicate REMOVE (two requests deleted one key at once); on DynamoDB deleting an absent item writes no record, and the first REMOVE already deleted its target items",
      );
    }
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
