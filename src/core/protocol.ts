import type { ChangePage, ChangeRecord } from './change.js';
import { isDeletion } from './change.js';
import type { AttributeMap, KeySchema } from './item.js';
import { extractKey, keyId } from './item.js';
import type { RecentRemovals } from './recent-removals.js';
import { MappingError, type ItemMapper, type RoutedItem } from './transform.js';
import { compactWrites, type WriteOp } from './write-op.js';

/**
 * The write rules of the consistency protocol (docs/consistency.md), kept pure so every runner — the CLI, a Lambda
 * on the stream, a Step Functions task — produces the same writes from the same input.
 *
 * - Backfill: each snapshot item becomes puts of transform(item).
 * - Change: the targets of transform(newImage) are put; the targets of transform(oldImage) that the new image no
 *   longer produces are deleted (this is how a key-changing update leaves no old copy behind). A record without a new
 *   image is a deletion.
 * - A page is compacted to the last write per target key: the final write alone decides a key's final state.
 */
export interface MappedWrites {
  ops: WriteOp[];
  failures: MapFailure[];
  /** Records passed over: the snapshot already reflects them (older than skipBefore), or `duplicateRemoves`. */
  skipped: number;
  /**
   * DynamoDB Local's duplicate REMOVE: a deletion without an old image right after a deletion of the same key in the
   * same shard (see RecentRemovals). Passed over (and counted in `skipped`); the caller logs each one.
   */
  duplicateRemoves: ChangeRecord[];
  /** Writes to a key some earlier item of the same batch also wrote (two source items → one target key). */
  collisions: number;
}

export interface MapFailure {
  stage: 'backfill' | 'stream';
  source: string;
  sourceKey: AttributeMap;
  item?: AttributeMap;
  record?: ChangeRecord;
  shardId?: string;
  error: { code: string; message: string; hint?: string };
}

export function backfillWrites(mapper: ItemMapper, source: string, sourceKeySchema: KeySchema, items: AttributeMap[]): MappedWrites {
  const ops: WriteOp[] = [];
  const failures: MapFailure[] = [];
  for (const item of items) {
    const sourceKey = extractKey(item, sourceKeySchema) ?? {};
    try {
      for (const r of mapper.map(source, item)) {
        ops.push({ kind: 'put', target: r.target, key: r.key, keyId: r.keyId, item: r.item, origin: { source, sourceKey, via: 'backfill' } });
      }
    } catch (err) {
      failures.push({ stage: 'backfill', source, sourceKey, item, error: errorInfo(err) });
    }
  }
  const compacted = compactWrites(ops);
  return { ops: compacted, failures, skipped: 0, duplicateRemoves: [], collisions: ops.length - compacted.length };
}

export interface ChangeWriteOptions {
  /** Records older than this (epoch ms) are already in the snapshot. */
  skipBefore?: number;
  /** backfill.skipExpired: a new image whose TTL has passed counts as absent (the item is on its way out). */
  isExpired?: (item: AttributeMap) => boolean;
  /**
   * What the caller's earlier pages of this stream deleted last, read and updated here, record by record. Only for a
   * caller that maps each page of a shard once, in order. With it, DynamoDB Local's duplicate REMOVE is passed over
   * (`duplicateRemoves`) instead of failing as STREAM_RECORD_INCOMPLETE.
   */
  recentRemovals?: RecentRemovals;
}

export function changeWrites(mapper: ItemMapper, page: ChangePage, opts: ChangeWriteOptions = {}): MappedWrites {
  const ops: WriteOp[] = [];
  const failures: MapFailure[] = [];
  const duplicateRemoves: ChangeRecord[] = [];
  let skipped = 0;
  for (const record of page.records) {
    // Every record is observed, the passed-over and the failed ones too: the memory describes the stream, not the writes.
    const followsRemoval = opts.recentRemovals?.observe(page.shardId, record) ?? false;
    if (opts.skipBefore !== undefined && record.createdAt !== undefined && record.createdAt < opts.skipBefore) {
      skipped++;
      continue;
    }
    if (followsRemoval && isDuplicateRemove(mapper, record)) {
      duplicateRemoves.push(record);
      skipped++;
      continue;
    }
    try {
      ops.push(...recordWrites(mapper, page, record, opts.isExpired));
    } catch (err) {
      failures.push({ stage: 'stream', source: page.source, sourceKey: record.keys, record, shardId: page.shardId, error: errorInfo(err) });
    }
  }
  return { ops: compactWrites(ops), failures, skipped, duplicateRemoves, collisions: 0 };
}

/**
 * A deletion without an old image that would otherwise be incomplete (the target key can move). Called only for a
 * record whose previous record of the same key in the same shard was a deletion: on DynamoDB deleting an absent item
 * writes no record, so this one describes no change — the earlier REMOVE already deleted every target key of its old
 * image and nothing wrote the item since. Where the key can't move it is applied from its key, as any such deletion.
 */
function isDuplicateRemove(mapper: ItemMapper, record: ChangeRecord): boolean {
  return isDeletion(record) && !record.oldImage && mapper.keyCanMove(record.keys);
}

function recordWrites(mapper: ItemMapper, page: ChangePage, record: ChangeRecord, isExpired?: (item: AttributeMap) => boolean): WriteOp[] {
  const origin = { source: page.source, sourceKey: record.keys, via: page.shardId, sequenceNumber: record.sequenceNumber };
  checkComplete(record);
  const live = record.newImage && !isExpired?.(record.newImage) ? record.newImage : undefined;
  const after: RoutedItem[] = live ? mapper.map(page.source, live) : [];
  // Without an old image the previous targets can only be derived from the key, when the target key can't move (no
  // transform, key-stable schema). The planner refuses NEW_IMAGE streams otherwise, so then the record is incomplete.
  let beforeImage = record.oldImage;
  if (isDeletion(record) && !beforeImage) {
    if (mapper.keyCanMove(record.keys)) {
      throw new MappingError(
        'STREAM_RECORD_INCOMPLETE',
        `stream record ${record.sequenceNumber} (${record.eventName}) deletes the item but carries no old image, so the target item it removed is unknown; the transform did not run`,
        { hint: REMOVE_WITHOUT_OLD_IMAGE_HINT },
      );
    }
    beforeImage = record.keys;
  }
  const before: RoutedItem[] = beforeImage ? mapper.map(page.source, beforeImage) : [];
  return diffWrites(before, after, origin);
}

/**
 * The writes that take the targets from `before` (what earlier versions of the item produced) to `after` (what the
 * current version produces): delete each target key that is no longer produced, put each one that is.
 */
function diffWrites(before: RoutedItem[], after: RoutedItem[], origin: WriteOp['origin']): WriteOp[] {
  const kept = new Set(after.map((r) => `${r.target}\u0000${r.keyId}`));
  const ops: WriteOp[] = [];
  const deleted = new Set<string>();
  for (const r of before) {
    const id = `${r.target}\u0000${r.keyId}`;
    if (kept.has(id) || deleted.has(id)) continue;
    deleted.add(id);
    ops.push({ kind: 'delete', target: r.target, key: r.key, keyId: r.keyId, previous: r.item, origin });
  }
  for (const r of after) ops.push({ kind: 'put', target: r.target, key: r.key, keyId: r.keyId, item: r.item, origin });
  return ops;
}

/**
 * A dead letter retried: the source item as a consistent read shows it now (undefined: deleted), the old images of the
 * failed records (what may still stand in the targets), and target items a rejected delete left. Same rules as a
 * change record: delete every target key the current version no longer produces, put what it produces.
 */
export function retryWrites(
  mapper: ItemMapper,
  source: string,
  sourceKey: AttributeMap,
  current: AttributeMap | undefined,
  oldImages: AttributeMap[],
  leftTargetKeys: { target: string; key: AttributeMap }[] = [],
): WriteOp[] {
  const origin = { source, sourceKey, via: 'retry' };
  const after: RoutedItem[] = current ? mapper.map(source, current) : [];
  const before: RoutedItem[] = oldImages.flatMap((image) => mapper.map(source, image));
  for (const { target, key } of leftTargetKeys) {
    const schema = mapper.keySchemaOf(target);
    if (schema) before.push({ target, key, item: key, keyId: keyId(key, schema) });
  }
  return compactWrites(diffWrites(before, after, origin));
}

const REMOVE_WITHOUT_OLD_IMAGE_HINT =
  'a NEW_AND_OLD_IMAGES stream on DynamoDB always carries the old image of a deletion. ' +
  'DynamoDB Local (3.x) writes a second REMOVE without an old image when two requests delete the same key at once; the first ' +
  'REMOVE, which had the image, already deleted the target item. dynashift passes over such a duplicate when it directly follows ' +
  'that REMOVE in the same shard within one run; this one does not (no REMOVE of the key just before it, or that REMOVE was ' +
  'applied before a restart). If the source is DynamoDB Local and the item is deleted, this record is that duplicate';

const UNTYPED_VALUE_HINT =
  'DynamoDB never sends an attribute value without a type. DynamoDB Local (3.x) writes empty maps as {} ' +
  'without the M type in stream images; the item itself (a consistent read) is complete, which `dynashift dead-letters retry` re-reads';

/** Halts on a value the stream sent without a type, rather than guessing it or letting the transform trip over it. */
function checkComplete(record: ChangeRecord): void {
  for (const [which, image] of [
    ['new', record.newImage],
    ['old', record.oldImage],
  ] as const) {
    const path = image ? untypedPath(image) : undefined;
    if (path !== undefined) {
      throw new MappingError(
        'STREAM_RECORD_INCOMPLETE',
        `stream record ${record.sequenceNumber} (${record.eventName}) has a value without a type at ${path} of its ${which} image; the transform did not run`,
        { hint: UNTYPED_VALUE_HINT },
      );
    }
  }
}

function untypedPath(map: AttributeMap, prefix = ''): string | undefined {
  for (const [name, v] of Object.entries(map)) {
    const path = prefix ? `${prefix}.${name}` : name;
    if (v === null || typeof v !== 'object' || Object.entries(v as object).every(([k, x]) => x === undefined || k === '$unknown')) return path;
    if (v.M !== undefined) {
      const inner = untypedPath(v.M, path);
      if (inner !== undefined) return inner;
    } else if (v.L !== undefined) {
      for (let i = 0; i < v.L.length; i++) {
        const inner = untypedPath({ [`[${i}]`]: v.L[i]! }, path);
        if (inner !== undefined) return inner.replace(`.[${i}]`, `[${i}]`);
      }
    }
  }
  return undefined;
}

function errorInfo(err: unknown): { code: string; message: string; hint?: string } {
  if (err instanceof MappingError) return { code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) };
  return { code: 'TRANSFORM_FAILED', message: err instanceof Error ? err.message : String(err) };
}

/** Convenience for places that only need the key of an item in a known schema. */
export function keyOrEmpty(item: AttributeMap, schema: KeySchema): AttributeMap {
  return extractKey(item, schema) ?? {};
}
