import { CappedList } from './capped-list.js';
import { readJsonl } from './jsonl.js';
import { REPAIRED } from './repair.js';
import type { Suspect } from './suspect.js';
import type { DifferingFinding, Finding } from './types.js';

export interface FindingLists {
  missing: CappedList<Finding>;
  extra: CappedList<Finding>;
  differing: CappedList<DifferingFinding>;
  repaired: number;
  repairSkipped: number;
}

/** Reads the persisting differences back (keys and attribute names only; values stay in the report file). */
export async function readFindings(path: string | undefined, limit: number): Promise<FindingLists> {
  const lists: FindingLists = {
    missing: new CappedList(limit),
    extra: new CappedList(limit),
    differing: new CappedList(limit),
    repaired: 0,
    repairSkipped: 0,
  };
  if (!path) return lists;
  for await (const s of readJsonl<Suspect>(path)) {
    const f = findingOf(s);
    if (s.r === REPAIRED) lists.repaired++;
    else if (s.r !== undefined) lists.repairSkipped++;
    if (s.c === 'differing') lists.differing.add({ ...f, attributes: s.d ?? [] });
    else lists[s.c].add(f);
  }
  return lists;
}

export function findingOf(s: Suspect): Finding {
  return {
    target: s.t,
    key: s.key,
    ...(s.n ? { source: s.n } : {}),
    ...(s.s ? { sourceKey: s.s } : {}),
    ...(s.r === REPAIRED ? { repaired: true } : s.r !== undefined ? { repairNote: s.r } : {}),
  };
}
