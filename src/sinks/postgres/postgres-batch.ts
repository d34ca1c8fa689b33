import { createHash } from 'node:crypto';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { WriteOp } from '../../core/write-op.js';
import type { RejectedWrite } from '../sink.js';
import { ColumnValueError, keyParam, projectParam } from './postgres-columns.js';
import type { PgLayout } from './postgres-schema.js';
import { findUnstorable, itemToJson } from './postgres-types.js';

/**
 * Turns ops into the column arrays of the guarded statements, checking in JS first what PostgreSQL would refuse
 * row by row (U+0000 in text, a key of the wrong type, a value a projected column can't take): such ops are rejected
 * up front, with a precise message, instead of costing a failed round trip.
 */
export interface PreparedBatch {
  streamPuts: unknown[][];
  backfillPuts: unknown[][];
  deletes: unknown[][];
  /** Sorted, distinct advisory-lock ids of the batch's keys. */
  lockIds: string[];
  ops: WriteOp[];
  rejected: RejectedWrite[];
}

/** `versionAttribute` (config `guard`): deletes also carry the version of the item they remove, as DynamoDB JSON. */
export function prepareBatch(layout: PgLayout, ops: WriteOp[], versionAttribute?: string): PreparedBatch {
  const puts = {
    stream: columns(2 + layout.keys.length + layout.projected.length),
    backfill: columns(2 + layout.keys.length + layout.projected.length),
  };
  const deletes = columns(layout.keys.length + 1 + (versionAttribute ? 1 : 0));
  const rejected: RejectedWrite[] = [];
  const accepted: WriteOp[] = [];
  for (const op of ops) {
    try {
      const keys = layout.keys.map((k) => keyParam(op.key[k.name], k.type, k.name));
      const seq = op.origin.sequenceNumber ?? null;
      if (seq !== null && !/^\d+$/.test(seq)) throw new ColumnValueError(`sequence number ${JSON.stringify(seq)} is not a decimal integer`);
      if (op.kind === 'delete') {
        const prev = versionAttribute === undefined ? [] : [versionJson(op.previous?.[versionAttribute])];
        push(deletes, [...keys, seq, ...prev]);
      } else {
        const unstorable = findUnstorable(op.item);
        if (unstorable) {
          rejected.push({
            op,
            error: { code: 'PG_UNSTORABLE_VALUE', message: `PostgreSQL text and jsonb can't hold U+0000 (NUL), found in ${unstorable}` },
          });
          continue;
        }
        const projected = layout.projected.map((c) => projectParam(op.item[c.attribute], c.type, c.attribute));
        push(seq === null ? puts.backfill : puts.stream, [...keys, JSON.stringify(itemToJson(op.item)), seq, ...projected]);
      }
      accepted.push(op);
    } catch (err) {
      if (!(err instanceof Error)) throw err;
      rejected.push({ op, error: { code: err instanceof ColumnValueError ? 'PG_COLUMN_VALUE' : 'PG_ITEM_INVALID', message: err.message } });
    }
  }
  const lockIds = [...new Set(accepted.map((op) => lockId(layout, op.keyId)))].sort((a, b) =>
    BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0,
  );
  return { streamPuts: puts.stream, backfillPuts: puts.backfill, deletes, lockIds, ops: accepted, rejected };
}

/**
 * A 64-bit advisory-lock id per (table, key). Advisory locks are database-wide, so the table is part of the hash; a
 * collision only makes two keys wait for each other, never changes a result.
 */
export function lockId(layout: PgLayout, keyId: string): string {
  const digest = createHash('sha256').update(`${layout.schema}.${layout.table}\u0000${keyId}`).digest();
  return digest.readBigInt64BE(0).toString();
}

function versionJson(value: AttributeValue | undefined): string | null {
  return value === undefined ? null : JSON.stringify(itemToJson({ v: value })['v']);
}

function columns(n: number): unknown[][] {
  return Array.from({ length: n }, () => []);
}

function push(cols: unknown[][], row: unknown[]): void {
  row.forEach((v, i) => cols[i]!.push(v));
}
