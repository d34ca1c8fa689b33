import type { AttributeMap } from './item.js';

/**
 * DynamoDB TTL: an item expires when its TTL attribute is a Number holding epoch seconds in the past. Anything else —
 * no attribute, a string, a set — never expires (and must never be dropped by a TTL-aware backfill).
 */
export function expiresAt(item: AttributeMap, ttlAttribute: string): number | undefined {
  const n = item[ttlAttribute]?.N;
  if (n === undefined) return undefined;
  const seconds = Number(n); // epoch seconds fit a double exactly; only the comparison needs them
  return Number.isFinite(seconds) ? seconds * 1000 : undefined;
}

export function isExpired(item: AttributeMap, ttlAttribute: string, nowMs: number): boolean {
  const at = expiresAt(item, ttlAttribute);
  return at !== undefined && at <= nowMs;
}
