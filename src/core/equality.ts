import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { AttributeMap } from './item.js';
import { normalizeDecimal } from './numbers.js';

/**
 * Equality by DynamoDB's meaning, not by spelling: numbers by value (1.50 = 1.5), sets unordered, lists ordered,
 * maps by key. Used by verify and the demo; the tests use their own, independent comparator.
 */
export function valuesEqual(a: AttributeValue, b: AttributeValue): boolean {
  if (a.S !== undefined) return a.S === b.S;
  // Most numbers are spelled the same on both sides: normalizing is for the ones that are not.
  if (a.N !== undefined) return b.N !== undefined && (a.N === b.N || normalizeDecimal(a.N) === normalizeDecimal(b.N));
  if (a.B !== undefined) return b.B !== undefined && Buffer.from(a.B).equals(Buffer.from(b.B));
  if (a.BOOL !== undefined) return a.BOOL === b.BOOL;
  if (a.NULL !== undefined) return b.NULL !== undefined;
  if (a.SS !== undefined) return b.SS !== undefined && sameSet(a.SS, b.SS);
  if (a.NS !== undefined) return b.NS !== undefined && sameSet(a.NS.map(normalizeDecimal), b.NS.map(normalizeDecimal));
  if (a.BS !== undefined) {
    return (
      b.BS !== undefined &&
      sameSet(
        a.BS.map((x) => Buffer.from(x).toString('base64')),
        b.BS.map((x) => Buffer.from(x).toString('base64')),
      )
    );
  }
  if (a.L !== undefined) return b.L !== undefined && a.L.length === b.L.length && a.L.every((x, i) => valuesEqual(x, b.L![i]!));
  if (a.M !== undefined) return b.M !== undefined && differingAttributes(a.M, b.M).length === 0;
  return false;
}

/** Whether two items are equal (differingAttributes is empty), without building the list: for per-item checks. */
export function itemsEqual(a: AttributeMap, b: AttributeMap): boolean {
  let names = 0;
  for (const name in a) {
    const other = b[name];
    if (other === undefined || !valuesEqual(a[name]!, other)) return false;
    names++;
  }
  return names === Object.keys(b).length;
}

/** Names of the attributes that differ (present on one side only, or with different values). */
export function differingAttributes(a: AttributeMap, b: AttributeMap): string[] {
  const out: string[] = [];
  for (const [name, value] of Object.entries(a)) {
    const other = b[name];
    if (!other || !valuesEqual(value, other)) out.push(name);
  }
  for (const name of Object.keys(b)) if (!(name in a)) out.push(name);
  return out;
}

function sameSet(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a);
  return set.size === new Set(b).size && b.every((x) => set.has(x));
}
