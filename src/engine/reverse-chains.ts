import type { WriteOp } from '../core/write-op.js';

/**
 * Splits a page's records into chains that reverse replication may apply at once: two records share a chain when
 * their writes touch a common source item, directly or through a third record (a target item whose old and new images
 * map to two source items links both). Each chain keeps the records' stream order. A record with no write (filtered,
 * or its inverse transform failed) is a chain of its own.
 *
 * Why this is safe: applying a record reads and writes only its own source items, and reads the target, which reverse
 * replication never writes (docs/consistency.md, "Cutover and reverse replication").
 *
 * @returns the chains, as indices into `records`, each in ascending order; chains in order of their first record.
 */
export function chainsBySourceItem(records: readonly { ops: readonly WriteOp[] }[]): number[][] {
  const parent = records.map((_, i) => i);
  const root = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]!]!;
    return i;
  };
  const firstRecordOf = new Map<string, number>();
  records.forEach((record, i) => {
    for (const op of record.ops) {
      const item = `${op.target}\u0000${op.keyId}`;
      const seen = firstRecordOf.get(item);
      if (seen === undefined) firstRecordOf.set(item, i);
      else {
        const [a, b] = [root(seen), root(i)];
        if (a !== b) parent[Math.max(a, b)] = Math.min(a, b);
      }
    }
  });
  const chains = new Map<number, number[]>();
  records.forEach((_, i) => {
    const r = root(i);
    let chain = chains.get(r);
    if (!chain) chains.set(r, (chain = []));
    chain.push(i);
  });
  return [...chains.values()];
}
