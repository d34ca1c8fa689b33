import type { Shard } from '@aws-sdk/client-dynamodb-streams';
import type { ShardState } from '../../state/migration-state.js';

/**
 * Shard lineage rules, kept free of I/O so they can be tested exhaustively.
 *
 * Invariant the rules rely on: a shard enters the persisted state either at the initial open (first listing, state
 * empty) or later only when its parent is tracked (or it has no parent at all). So a tracked shard whose parent is
 * not tracked can only be a root from the initial open — its parent's records predate the stream position and are
 * not needed. A shard discovered later whose parent we never saw is never tracked: it is a gap, and staying untracked
 * keeps it a gap after a restart instead of being mistaken for a root.
 */

export interface ListedShard {
  shardId: string;
  parentShardId?: string;
  /** The listing shows an EndingSequenceNumber: no more records will be added to it. */
  closed: boolean;
}

export type ShardGap =
  /** A tracked shard disappeared from the listing before we read all of it: its remaining records were trimmed. */
  | { shardId: string; reason: 'vanished' }
  /** A shard discovered after the initial open whose parent we never tracked: we can't prove we saw its records. */
  | { shardId: string; reason: 'missing-parent'; parentShardId: string };

export interface LineagePlan {
  /** Shards to add to the persisted state, parents before children. */
  added: Array<{ shardId: string; state: ShardState }>;
  gaps: ShardGap[];
}

export type ShardReadiness = 'finished' | 'waiting-for-parent' | 'ready';

/** Turns DescribeStream's shards into plain records; a shard without an id can't be read or tracked, so it's skipped. */
export function normalizeListing(shards: readonly Shard[]): ListedShard[] {
  const out: ListedShard[] = [];
  for (const s of shards) {
    if (!s.ShardId) continue;
    const listed: ListedShard = { shardId: s.ShardId, closed: s.SequenceNumberRange?.EndingSequenceNumber !== undefined };
    if (s.ParentShardId) listed.parentShardId = s.ParentShardId;
    out.push(listed);
  }
  return out;
}

export function isInitialOpen(tracked: Readonly<Record<string, ShardState>>): boolean {
  return Object.keys(tracked).length === 0;
}

/**
 * Compares a fresh listing with the tracked shards: which shards to start tracking, and which gaps make the stream
 * unusable. `fullyRead` names shards whose closing page was already received (its handler may still be running): such
 * a shard may vanish from the listing without losing anything.
 */
export function reconcileListing(
  tracked: Readonly<Record<string, ShardState>>,
  listing: readonly ListedShard[],
  fullyRead: ReadonlySet<string> = new Set(),
): LineagePlan {
  const byId = new Map(listing.map((s) => [s.shardId, s]));
  const plan: LineagePlan = { added: [], gaps: [] };

  for (const [shardId, state] of Object.entries(tracked)) {
    if (!state.finished && !byId.has(shardId) && !fullyRead.has(shardId)) plan.gaps.push({ shardId, reason: 'vanished' });
  }

  if (isInitialOpen(tracked)) {
    // Everything listed now is part of the stream position being opened; unlisted parents hold only older records.
    for (const s of listing) plan.added.push({ shardId: s.shardId, state: newShardState(s.parentShardId) });
    return plan;
  }

  // Decide each new shard once; a child is tracked only if its parent is (or becomes) tracked, so descendants of a
  // gap are gaps too.
  const decided = new Map<string, boolean>();
  const decide = (s: ListedShard, visiting: Set<string>): boolean => {
    const known = decided.get(s.shardId);
    if (known !== undefined) return known;
    let ok: boolean;
    const parentId = s.parentShardId;
    if (parentId === undefined || tracked[parentId] !== undefined) {
      ok = true;
    } else {
      const parent = byId.get(parentId);
      ok = parent !== undefined && !visiting.has(parentId) && decide(parent, new Set(visiting).add(s.shardId));
      if (!ok) plan.gaps.push({ shardId: s.shardId, reason: 'missing-parent', parentShardId: parentId });
    }
    decided.set(s.shardId, ok);
    if (ok) plan.added.push({ shardId: s.shardId, state: newShardState(parentId) });
    return ok;
  };
  for (const s of listing) {
    if (tracked[s.shardId] === undefined) decide(s, new Set());
  }
  return plan;
}

/**
 * Whether a tracked shard may be read now. A child starts only once its parent is finished (closed and every record
 * applied); a tracked shard with an untracked, unlisted parent is a root from the initial open (see the invariant
 * above). An untracked parent that is still listed is itself a gap, so its child waits.
 */
export function readiness(tracked: Readonly<Record<string, ShardState>>, shardId: string, listedIds: ReadonlySet<string>): ShardReadiness {
  const shard = tracked[shardId];
  if (!shard || shard.finished) return 'finished';
  const parentId = shard.parentShardId;
  if (parentId === undefined) return 'ready';
  const parent = tracked[parentId];
  if (parent) return parent.finished ? 'ready' : 'waiting-for-parent';
  return listedIds.has(parentId) ? 'waiting-for-parent' : 'ready';
}

/** Shards that may be read now, in the order they are tracked. */
export function eligibleShards(tracked: Readonly<Record<string, ShardState>>, listedIds: ReadonlySet<string>): string[] {
  return Object.keys(tracked).filter((id) => readiness(tracked, id, listedIds) === 'ready');
}

export function newShardState(parentShardId: string | undefined): ShardState {
  const state: ShardState = { finished: false, applied: 0 };
  if (parentShardId !== undefined) state.parentShardId = parentShardId;
  return state;
}

export function describeGap(gap: ShardGap): string {
  return gap.reason === 'vanished'
    ? `Shard ${gap.shardId} disappeared from the stream before all its records were applied (trimmed after the 24 h retention).`
    : `Shard ${gap.shardId} descends from shard ${gap.parentShardId}, which was never read and is no longer listed.`;
}
