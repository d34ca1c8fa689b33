/**
 * The benchmark's seeded dataset: ~1 KB items that carry every DynamoDB attribute type (S, N, B, BOOL, NULL, SS, NS,
 * BS, L, M), in the style of test/support/workload.ts (the shared mulberry32, exact decimal strings, never a JS float).
 *
 * Items are generated one at a time from (seed, index), so a 1M-item table never has to sit in memory, and every
 * contender copies byte-for-byte the same data.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';

export type AttributeMap = Record<string, AttributeValue>;
import { mulberry32, type Rng } from '../../src/core/random.js';

export { mulberry32, type Rng };

export const KEY_NAME = 'id';

export function itemId(n: number): string {
  return `item-${String(n).padStart(8, '0')}`;
}

const int = (rng: Rng, n: number): number => Math.floor(rng() * n);
const pick = <T>(rng: Rng, values: readonly T[]): T => values[int(rng, values.length)]!;
const digits = (rng: Rng, n: number): string => {
  let s = '';
  for (let i = 0; i < n; i++) s += String(int(rng, 10));
  return s;
};

const WORDS = [
  'lorem',
  'ipsum',
  'dolor',
  'sit',
  'amet',
  'consectetur',
  'adipiscing',
  'elit',
  'sed',
  'do',
  'eiusmod',
  'tempor',
  'incididunt',
  'ut',
  'labore',
  'et',
  'dolore',
  'magna',
  'aliqua',
  'Ünïcødé',
  'emoji-🚀',
  'zürich',
  'naïve',
  'café',
] as const;
const STATUSES = ['new', 'paid', 'packed', 'shipped', 'delivered', 'returned'] as const;

function sentence(rng: Rng, bytes: number): string {
  let s = '';
  while (Buffer.byteLength(s) < bytes) s += (s ? ' ' : '') + pick(rng, WORDS);
  return s;
}

function decimal(rng: Rng): string {
  const cents = int(rng, 10_000_000) - 2_000_000;
  const abs = Math.abs(cents);
  return `${cents < 0 ? '-' : ''}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`.replace(/\.?0+$/, '') || '0';
}

/** 38 significant digits: a float would round it. */
function bigNumber(rng: Rng): string {
  return `${1 + int(rng, 9)}${digits(rng, 37)}`;
}

function bytes(rng: Rng, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = int(rng, 256);
  return b;
}

function distinct<T>(rng: Rng, n: number, make: () => T, id: (v: T) => string): T[] {
  const seen = new Map<string, T>();
  for (let guard = 0; seen.size < n && guard < n * 20; guard++) {
    const v = make();
    seen.set(id(v), v);
  }
  return [...seen.values()];
}

/**
 * Item `n` of the dataset with the given seed. About 1 KB by DynamoDB's size rules (names + values; 850–1250 bytes),
 * every attribute type present.
 */
export function makeItem(seed: number, n: number, extra?: AttributeMap): AttributeMap {
  // One generator per item, derived from (seed, n): items can be produced in any order, in any process.
  const rng = mulberry32((Math.imul(seed, 0x9e3779b1) ^ Math.imul(n + 1, 0x85ebca6b)) >>> 0);
  const item: AttributeMap = {
    id: { S: itemId(n) },
    grp: { S: `grp-${int(rng, 64)}` },
    status: { S: pick(rng, STATUSES) },
    v: { N: String(int(rng, 1_000_000)) },
    price: { N: decimal(rng) },
    big: { N: bigNumber(rng) },
    small: { N: `0.${digits(rng, 6)}${1 + int(rng, 9)}E-${int(rng, 100)}` },
    empty: { S: '' },
    title: { S: sentence(rng, 40 + int(rng, 40)) },
    body: { S: sentence(rng, 260 + int(rng, 200)) },
    blob: { B: bytes(rng, 96 + int(rng, 64)) },
    flag: { BOOL: rng() < 0.5 },
    nothing: { NULL: true },
    tags: {
      SS: distinct(
        rng,
        2 + int(rng, 4),
        () => pick(rng, WORDS),
        (s) => s,
      ),
    },
    nums: {
      NS: distinct(
        rng,
        2 + int(rng, 4),
        () => decimal(rng),
        (s) => s,
      ),
    },
    bins: {
      BS: distinct(
        rng,
        2 + int(rng, 2),
        () => bytes(rng, 8 + int(rng, 8)),
        (b) => Buffer.from(b).toString('hex'),
      ),
    },
    lines: {
      L: Array.from({ length: 2 + int(rng, 3) }, () => ({
        M: {
          sku: { S: `sku-${int(rng, 100_000)}` },
          qty: { N: String(1 + int(rng, 9)) },
          unit: { N: decimal(rng) },
          gift: { BOOL: rng() < 0.2 },
        },
      })),
    },
    meta: {
      M: {
        source: { S: pick(rng, ['web', 'app', 'api', 'import']) },
        score: { N: bigNumber(rng) },
        history: { L: [{ S: pick(rng, STATUSES) }, { N: String(int(rng, 1000)) }, { NULL: true }, { BOOL: true }] },
        deeper: { M: { note: { S: sentence(rng, 20) }, codes: { SS: ['a', 'b', `c${int(rng, 10)}`] }, raw: { B: bytes(rng, 12) } } },
      },
    },
  };
  if (extra) Object.assign(item, extra);
  return item;
}

/** DynamoDB's item size rules (names + values), the same rules as src/core/item.ts itemSize (written independently). */
export function itemBytes(item: AttributeMap): number {
  let size = 0;
  for (const [name, value] of Object.entries(item)) size += Buffer.byteLength(name) + valueBytes(value);
  return size;
}

function numberBytes(n: string): number {
  return (
    Math.ceil(
      n
        .replace(/^[-+]?0*/, '')
        .replace(/[eE].*$/, '')
        .replace('.', '').length / 2,
    ) + 1
  );
}

function valueBytes(v: AttributeValue): number {
  if (v.S !== undefined) return Buffer.byteLength(v.S);
  if (v.N !== undefined) return numberBytes(v.N);
  if (v.B !== undefined) return v.B.length;
  if (v.BOOL !== undefined || v.NULL !== undefined) return 1;
  if (v.SS !== undefined) return v.SS.reduce((n, s) => n + Buffer.byteLength(s), 0);
  if (v.NS !== undefined) return v.NS.reduce((n, s) => n + numberBytes(s), 0);
  if (v.BS !== undefined) return v.BS.reduce((n, b) => n + b.length, 0);
  if (v.L !== undefined) return 3 + v.L.reduce((n, x) => n + 1 + valueBytes(x), 0);
  if (v.M !== undefined) {
    let n = 3;
    for (const [k, x] of Object.entries(v.M)) n += Buffer.byteLength(k) + 1 + valueBytes(x);
    return n;
  }
  return 0;
}
