import type { ChangePage, ChangeRecord } from './change.js';
import { isDeletion } from './change.js';
import type { AttributeMap, KeySchema } from './item.js';
import { extractKey } from './item.js';
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
  /** Records passed over because the snapshot already reflects them (older than skipBefore). */
  skipped: number;
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
  error: { code: string; message: string };
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
  return { ops: compacted, failures, skipped: 0, collisions: ops.length - compacted.length };
}

export interface ChangeWriteOptions {
  /** Records older than this (epoch ms) are already in the snapshot. */
  skipBefore?: number;
  /** backfill.skipExpired: a new image whose TTL has passed counts as absent (the item is on its way out). */
  isExpired?: (item: AttributeMap) => boolean;
}

export function changeWrites(mapper: ItemMapper, page: ChangePage, opts: ChangeWriteOptions = {}): MappedWrites {
  const ops: WriteOp[] = [];
  const failures: MapFailure[] = [];
  let skipped = 0;
  for (const record of page.records) {
    if (opts.skipBefore !== undefined && record.createdAt !== undefined && record.createdAt < opts.skipBefore) {
      skipped++;
      continue;
    }
    try {
      ops.push(...recordWrites(mapper, page, record, opts.isExpired));
    } catch (err) {
      failures.push({ stage: 'stream', source: page.source, sourceKey: record.keys, record, shardId: page.shardId, error: errorInfo(err) });
    }
  }
  return { ops: compactWrites(ops), failures, skipped, collisions: 0 };
}

function recordWrites(mapper: ItemMapper, page: ChangePage, record: ChangeRecord, isExpired?: (item: AttributeMap) => boolean): WriteOp[] {
  const origin = { source: page.source, sourceKey: record.keys, via: page.shardId, sequenceNumber: record.sequenceNumber };
  const live = record.newImage && !isExpired?.(record.newImage) ? record.newImage : undefined;
  const after: RoutedItem[] = live ? mapper.map(page.source, live) : [];
  // Without an old image the previous targets can only be derived from the key (no transform, key-stable schema:
  // the planner refuses every other combination).
  const beforeImage = record.oldImage ?? (isDeletion(record) && !mapper.hasTransform ? record.keys : undefined);
  const before: RoutedItem[] = beforeImage ? mapper.map(page.source, beforeImage) : [];
  if (isDeletion(record) && !beforeImage) {
    throw new MappingError('TRANSFORM_OUTPUT_INVALID',
      'a deletion arrived without an old image, so the target item to delete is unknown (stream view type must include OLD images)');
  }
  const kept = new Set(after.map((r) => `${r.target}\u0000${r.keyId}`));
  const ops: WriteOp[] = [];
  for (const r of before) {
    if (!kept.has(`${r.target}\u0000${r.keyId}`)) ops.push({ kind: 'delete', target: r.target, key: r.key, keyId: r.keyId, previous: r.item, origin });
  }
  for (const r of after) ops.push({ kind: 'put', target: r.target, key: r.key, keyId: r.keyId, item: r.item, origin });
  return ops;
}

function errorInfo(err: unknown): { code: string; message: string } {
  if (err instanceof MappingError) return { code: err.code, message: err.message };
  return { code: 'TRANSFORM_FAILED', message: err instanceof Error ? err.message : String(err) };
}

/** Convenience for places that only need the key of an item in a known schema. */
export function keyOrEmpty(item: AttributeMap, schema: KeySchema): AttributeMap {
  return extractKey(item, schema) ?? {};
}
