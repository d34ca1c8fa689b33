import type { ChangeRecord } from '../../core/change.js';
import type { AttributeMap } from '../../core/item.js';
import type { ItemMapper } from '../../core/transform.js';
import type { FailurePolicy } from '../../engine/failure-policy.js';
import type { KeySpool, SpoolEntry } from '../../state/key-spool.js';
import { deadLetterAndHalt, mapBatch, type BatchMapOptions } from './batch-map.js';

export interface BatchSpoolOptions extends BatchMapOptions {
  spool: KeySpool;
  failures: FailurePolicy;
}

export interface SpoolOutcome {
  /** The spool refused the batch: the replay has handed off ('handoff': redeliver) or finished ('live': apply it). */
  refused?: 'handoff' | 'live' | 'missing';
  /** Records before this index are spooled; this one and every later one must be redelivered. Undefined: all spooled. */
  failedFrom?: number;
  failure?: { code: string; message: string };
  /** Distinct source keys spooled. */
  keys: number;
  skipped: number;
  deadLettered: number;
}

/**
 * While a source's backfill runs, a stream batch is spooled instead of applied: each distinct source key of the batch
 * is recorded with every target key its records' old and new images produce (the same changeWrites as apply, so the
 * same transform, TTL and skipBefore rules), for the Replay task to re-read after the backfill. A transform failure
 * takes the apply path's FailurePolicy: with 'halt' only the records before it are spooled and it is dead-lettered and
 * reported with everything after it; with 'dead-letter' it is dead-lettered and its key is spooled anyway (the replay
 * re-reads the item, whose current version may well transform).
 */
export async function spoolBatchInOrder(opts: BatchSpoolOptions): Promise<SpoolOutcome> {
  const before = opts.failures.recorded;
  const { records, mapped, mapFailure } = mapBatch(opts);

  const entries: SpoolEntry[] = [];
  for (const r of records) {
    if (opts.skipBefore !== undefined && r.createdAt !== undefined && r.createdAt < opts.skipBefore) continue;
    entries.push({ sourceKey: r.keys, targetKeys: [] });
  }
  for (const op of mapped.ops) entries.push({ sourceKey: op.origin.sourceKey, targetKeys: [{ target: op.target, key: op.key }] });
  // A dead-lettered record's images may still partly map (only one of them failed): their target keys are spooled too.
  for (const f of mapped.failures)
    entries.push({ sourceKey: f.sourceKey, targetKeys: f.record ? mappableTargetKeys(opts.mapper, opts.source, f.record) : [] });

  const keys = new Set(entries.map((e) => JSON.stringify(e.sourceKey))).size;
  const result = entries.length > 0 ? await opts.spool.write(opts.source, entries) : 'spooled';
  if (result !== 'spooled') return { refused: result, keys: 0, skipped: 0, deadLettered: 0 };

  if (opts.onError === 'dead-letter') await opts.failures.handle(mapped.failures, []);
  if (mapFailure) await deadLetterAndHalt(opts.failures, [mapFailure], []);
  return {
    ...(mapFailure ? { failedFrom: records.length, failure: mapFailure.error } : {}),
    keys,
    skipped: mapped.skipped,
    deadLettered: opts.failures.recorded - before,
  };
}

function mappableTargetKeys(mapper: ItemMapper, source: string, record: ChangeRecord): { target: string; key: AttributeMap }[] {
  const out: { target: string; key: AttributeMap }[] = [];
  for (const image of [record.oldImage, record.newImage]) {
    if (!image) continue;
    try {
      for (const r of mapper.map(source, image)) out.push({ target: r.target, key: r.key });
    } catch {
      // this image is the one that failed: it is in the dead letter
    }
  }
  return out;
}
