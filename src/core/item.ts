import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { normalizeDecimal } from './numbers.js';

/**
 * The engine moves items in DynamoDB's own wire shape (`{ S: "x" }`, `{ N: "1.50" }`, …). It is lossless for every
 * type — 38-digit numbers stay strings, binary stays bytes — and needs no conversion on the copy path when there is no
 * transform.
 */
export type AttributeMap = Record<string, AttributeValue>;

export type KeyType = 'S' | 'N' | 'B';

export interface KeyAttribute {
  name: string;
  type: KeyType;
}

/** A table's primary key: partition key and optional sort key. */
export interface KeySchema {
  partitionKey: KeyAttribute;
  sortKey?: KeyAttribute;
}

export function keyAttributeNames(schema: KeySchema): string[] {
  return schema.sortKey ? [schema.partitionKey.name, schema.sortKey.name] : [schema.partitionKey.name];
}

/** Picks the primary-key attributes of an item; undefined when one is missing. */
export function extractKey(item: AttributeMap, schema: KeySchema): AttributeMap | undefined {
  const pk = item[schema.partitionKey.name];
  if (!pk) return undefined;
  if (!schema.sortKey) return { [schema.partitionKey.name]: pk };
  const sk = item[schema.sortKey.name];
  if (!sk) return undefined;
  return { [schema.partitionKey.name]: pk, [schema.sortKey.name]: sk };
}

/**
 * A string that identifies a key: equal for keys DynamoDB treats as equal (numbers by value), used to compact writes
 * and to compare tables.
 */
export function keyId(key: AttributeMap, schema: KeySchema): string {
  const part = (name: string): string => {
    const v = key[name];
    if (!v) throw new Error(`key attribute ${name} is missing`);
    if (v.S !== undefined) return `S:${v.S}`;
    if (v.N !== undefined) return `N:${normalizeDecimal(v.N)}`;
    if (v.B !== undefined) return `B:${Buffer.from(v.B).toString('base64')}`;
    throw new Error(`key attribute ${name} has type ${Object.keys(v)[0]}; keys must be S, N or B`);
  };
  const pk = part(schema.partitionKey.name);
  return schema.sortKey ? JSON.stringify([pk, part(schema.sortKey.name)]) : JSON.stringify([pk]);
}

/** Which type an attribute value has: 'S', 'N', 'M', … */
export function attributeType(value: AttributeValue): string {
  for (const k of Object.keys(value)) {
    if ((value as unknown as Record<string, unknown>)[k] !== undefined && k !== '$unknown') return k;
  }
  return 'unknown';
}

/** Approximate item size by DynamoDB's rules (names + values), good enough for progress and estimates. */
export function itemSize(item: AttributeMap): number {
  let size = 0;
  for (const [name, value] of Object.entries(item)) size += Buffer.byteLength(name) + valueSize(value);
  return size;
}

function valueSize(v: AttributeValue): number {
  if (v.S !== undefined) return Buffer.byteLength(v.S);
  if (v.N !== undefined) return Math.ceil(v.N.replace(/^[-+]?0*/, '').length / 2) + 1;
  if (v.B !== undefined) return v.B.length;
  if (v.BOOL !== undefined || v.NULL !== undefined) return 1;
  if (v.SS !== undefined) return v.SS.reduce((n, s) => n + Buffer.byteLength(s), 0);
  if (v.NS !== undefined) return v.NS.reduce((n, s) => n + Math.ceil(s.length / 2) + 1, 0);
  if (v.BS !== undefined) return v.BS.reduce((n, b) => n + b.length, 0);
  if (v.L !== undefined) return 3 + v.L.reduce((n, x) => n + 1 + valueSize(x), 0);
  if (v.M !== undefined) {
    let n = 3;
    for (const [k, x] of Object.entries(v.M)) n += 1 + Buffer.byteLength(k) + valueSize(x);
    return n;
  }
  return 0;
}
