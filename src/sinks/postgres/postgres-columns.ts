import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { normalizeDecimal } from '../../core/numbers.js';
import { attributeType, type KeyType } from '../../core/item.js';
import { toBase64 } from './postgres-types.js';

/**
 * Values for the typed columns: key columns and the optional projected columns (`postgres.columns`).
 *
 * Every value travels to PostgreSQL as text (bytea as base64) and is cast there, so a number is parsed once, by
 * PostgreSQL's exact `numeric` input — never by a JS float. A value PostgreSQL can't cast (say "abc" into a numeric
 * column) fails its row, which the sink then reports as rejected: it never becomes a silent NULL.
 */
export type ColumnType = 'text' | 'numeric' | 'bigint' | 'boolean' | 'jsonb' | 'bytea' | 'timestamptz';

export const KEY_SQL_TYPE: Record<KeyType, 'text' | 'numeric' | 'bytea'> = { S: 'text', N: 'numeric', B: 'bytea' };

/** A value this column can't take; the row is rejected with this message. */
export class ColumnValueError extends Error {
  override readonly name = 'ColumnValueError';
}

/** The text a key attribute is sent as: S as is, N as its decimal string, B as base64. */
export function keyParam(value: AttributeValue | undefined, type: KeyType, name: string): string {
  const text = type === 'S' ? value?.S : type === 'N' ? value?.N : value?.B !== undefined ? toBase64(value.B) : undefined;
  if (text === undefined) throw new ColumnValueError(`key attribute ${name} must be of type ${type}, got ${describeType(value)}`);
  return text;
}

/** The text a projected column gets for an attribute; null for a missing attribute or a DynamoDB NULL. */
export function projectParam(value: AttributeValue | undefined, type: ColumnType, attribute: string): string | null {
  if (value === undefined || value.NULL !== undefined) return null;
  const fail = (): never => {
    throw new ColumnValueError(`attribute ${attribute} of type ${describeType(value)} can't go into a ${type} column`);
  };
  switch (type) {
    case 'jsonb':
      return plainJson(value);
    case 'text':
      if (value.S !== undefined) return value.S;
      if (value.N !== undefined) return value.N;
      if (value.BOOL !== undefined) return String(value.BOOL);
      if (value.B !== undefined) return toBase64(value.B);
      return plainJson(value);
    case 'numeric':
    case 'bigint':
      return value.N ?? value.S ?? fail();
    case 'boolean':
      return value.BOOL !== undefined ? String(value.BOOL) : (value.S ?? value.N ?? fail());
    case 'bytea':
      if (value.B !== undefined) return toBase64(value.B);
      return value.S !== undefined ? Buffer.from(value.S, 'utf8').toString('base64') : fail();
    case 'timestamptz':
      if (value.S !== undefined) return value.S;
      // N is read as epoch seconds, the convention of DynamoDB TTL attributes.
      return value.N !== undefined ? epochSecondsToIso(value.N, attribute) : fail();
  }
}

/**
 * "Plain" JSON for a jsonb projection (`{"total": 12.50, "tags": ["a"]}`): easier to query than DynamoDB JSON, and
 * written by hand so numbers keep every digit (jsonb stores them as numeric). Sets become arrays, binary base64.
 */
export function plainJson(v: AttributeValue): string {
  if (v.S !== undefined) return JSON.stringify(v.S);
  if (v.N !== undefined) return normalizeDecimal(v.N);
  if (v.BOOL !== undefined) return String(v.BOOL);
  if (v.NULL !== undefined) return 'null';
  if (v.B !== undefined) return JSON.stringify(toBase64(v.B));
  if (v.SS !== undefined) return `[${v.SS.map((s) => JSON.stringify(s)).join(',')}]`;
  if (v.NS !== undefined) return `[${v.NS.map(normalizeDecimal).join(',')}]`;
  if (v.BS !== undefined) return `[${v.BS.map((b) => JSON.stringify(toBase64(b))).join(',')}]`;
  if (v.L !== undefined) return `[${v.L.map(plainJson).join(',')}]`;
  if (v.M !== undefined)
    return `{${Object.entries(v.M)
      .map(([k, x]) => `${JSON.stringify(k)}:${plainJson(x)}`)
      .join(',')}}`;
  throw new ColumnValueError(`value has no DynamoDB type: ${JSON.stringify(v)}`);
}

function epochSecondsToIso(n: string, attribute: string): string {
  const seconds = Number(n); // a timestamp needs millisecond precision at most; 38 digits aren't a date anyway
  const date = new Date(seconds * 1000);
  if (!Number.isFinite(seconds) || Number.isNaN(date.getTime())) {
    throw new ColumnValueError(`attribute ${attribute} (${n}) is not a usable epoch-seconds timestamp`);
  }
  return date.toISOString();
}

function describeType(value: AttributeValue | undefined): string {
  if (value === undefined) return 'nothing (missing)';
  return attributeType(value);
}
