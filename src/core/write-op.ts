import type { AttributeMap } from './item.js';

/**
 * A write to one target. The engine turns backfill items and change records into these; sinks apply them.
 * `keyId` identifies the key within the target (see keyId()), used to compact several writes to one key.
 */
export type WriteOp = PutOp | DeleteOp;

export interface PutOp {
  kind: 'put';
  target: string;
  key: AttributeMap;
  keyId: string;
  item: AttributeMap;
  origin: WriteOrigin;
}

export interface DeleteOp {
  kind: 'delete';
  target: string;
  key: AttributeMap;
  keyId: string;
  /** The target item this delete removes, as the change's old image produced it (guards compare its version). */
  previous?: AttributeMap;
  origin: WriteOrigin;
}

/** Where a write came from: enough to find the source item again and to dead-letter it with context. */
export interface WriteOrigin {
  source: string;
  /** Primary key of the source item. */
  sourceKey: AttributeMap;
  /** 'backfill' for snapshot copies, the shard id for change records. */
  via: string;
  sequenceNumber?: string;
}

/**
 * Keeps only the last write per (target, key), in order of last occurrence. Within one ordered sequence the final
 * write to a key alone decides the key's final state, so the dropped ones are redundant, not lost.
 */
export function compactWrites(ops: WriteOp[]): WriteOp[] {
  const last = new Map<string, number>();
  ops.forEach((op, i) => last.set(`${op.target}\u0000${op.keyId}`, i));
  if (last.size === ops.length) return ops;
  return ops.filter((op, i) => last.get(`${op.target}\u0000${op.keyId}`) === i);
}

/** Writes that carry change records (not snapshot copies): sinks let them go first, to keep the stream's lag short. */
export function isChange(ops: readonly WriteOp[]): boolean {
  return ops.some((op) => op.origin.via !== 'backfill');
}
