import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ShardState } from '../../src/state/migration-state.js';
import { eligibleShards, normalizeListing, readiness, reconcileListing, type ListedShard } from '../../src/sources/stream/shard-lineage.js';

const open = (shardId: string, parentShardId?: string): ListedShard =>
  parentShardId === undefined ? { shardId, closed: false } : { shardId, parentShardId, closed: false };
const closed = (shardId: string, parentShardId?: string): ListedShard => ({ ...open(shardId, parentShardId), closed: true });
const tracked = (parentShardId: string | undefined, finished: boolean): ShardState =>
  parentShardId === undefined ? { finished, applied: 0 } : { parentShardId, finished, applied: 0 };
const ids = (listing: ListedShard[]): Set<string> => new Set(listing.map((s) => s.shardId));

test('normalizeListing keeps ids, parents and closedness and skips shards without an id', () => {
  const listing = normalizeListing([
    { ShardId: 'a', SequenceNumberRange: { StartingSequenceNumber: '1', EndingSequenceNumber: '9' } },
    { ShardId: 'b', ParentShardId: 'a', SequenceNumberRange: { StartingSequenceNumber: '10' } },
    { ParentShardId: 'b' },
  ]);
  assert.deepEqual(listing, [
    { shardId: 'a', closed: true },
    { shardId: 'b', parentShardId: 'a', closed: false },
  ]);
});

test('initial open tracks every listed shard and treats shards with unlisted parents as roots', () => {
  const listing = [closed('a', 'trimmed-long-ago'), open('b', 'a'), open('c')];
  const plan = reconcileListing({}, listing);
  assert.deepEqual(plan.gaps, []);
  assert.deepEqual(
    plan.added.map((a) => [a.shardId, a.state]),
    [
      ['a', { parentShardId: 'trimmed-long-ago', finished: false, applied: 0 }],
      ['b', { parentShardId: 'a', finished: false, applied: 0 }],
      ['c', { finished: false, applied: 0 }],
    ],
  );
  const state = Object.fromEntries(plan.added.map((a) => [a.shardId, a.state]));
  assert.deepEqual(eligibleShards(state, ids(listing)), ['a', 'c']);
  assert.equal(readiness(state, 'b', ids(listing)), 'waiting-for-parent');
});

test('a child is not eligible until its parent is finished', () => {
  const listing = [closed('a'), open('b', 'a')];
  assert.deepEqual(eligibleShards({ a: tracked(undefined, false), b: tracked('a', false) }, ids(listing)), ['a']);
  assert.deepEqual(eligibleShards({ a: tracked(undefined, true), b: tracked('a', false) }, ids(listing)), ['b']);
  assert.equal(readiness({ a: tracked(undefined, true), b: tracked('a', true) }, 'b', ids(listing)), 'finished');
});

test('a newly discovered shard whose parent is tracked is added with its parent and waits for it', () => {
  const state = { a: tracked(undefined, false) };
  const listing = [closed('a'), open('b', 'a'), open('c', 'b')];
  const plan = reconcileListing(state, listing);
  assert.deepEqual(plan.gaps, []);
  assert.deepEqual(
    plan.added.map((a) => [a.shardId, a.state.parentShardId]),
    [
      ['b', 'a'],
      ['c', 'b'],
    ],
  );
  const next = { ...state, ...Object.fromEntries(plan.added.map((a) => [a.shardId, a.state])) };
  assert.deepEqual(eligibleShards(next, ids(listing)), ['a']);
});

test('a tracked unfinished shard missing from the listing is a gap', () => {
  const plan = reconcileListing({ a: tracked(undefined, false), b: tracked('a', false) }, [open('b', 'a')]);
  assert.deepEqual(plan.gaps, [{ shardId: 'a', reason: 'vanished' }]);
});

test('a tracked child still waiting for its parent is a gap when it vanishes', () => {
  const plan = reconcileListing({ a: tracked(undefined, false), b: tracked('a', false) }, [closed('a')]);
  assert.deepEqual(plan.gaps, [{ shardId: 'b', reason: 'vanished' }]);
});

test('a finished or fully read shard missing from the listing is not a gap', () => {
  const state = { a: tracked(undefined, true), b: tracked('a', false), c: tracked('b', false) };
  const plan = reconcileListing(state, [open('c', 'b')], new Set(['b']));
  assert.deepEqual(plan.gaps, []);
  assert.deepEqual(plan.added, []);
});

test('missing parent: a shard discovered after the open whose parent is neither tracked nor listed is a gap and is not tracked', () => {
  const plan = reconcileListing({ a: tracked(undefined, false) }, [open('a'), open('x', 'ghost')]);
  assert.deepEqual(plan.gaps, [{ shardId: 'x', reason: 'missing-parent', parentShardId: 'ghost' }]);
  assert.deepEqual(plan.added, []);
});

test('descendants of a shard with a missing parent are gaps too and are not tracked', () => {
  const plan = reconcileListing({ a: tracked(undefined, false) }, [open('a'), closed('x', 'ghost'), open('y', 'x')]);
  assert.deepEqual(plan.gaps.map((g) => g.shardId).sort(), ['x', 'y']);
  assert.deepEqual(plan.added, []);
});

test('a child listed after its orphaned parent waits rather than being read as a root', () => {
  // If the orphan's child were read as a root, its records would be applied without the orphan's earlier ones.
  const state = { a: tracked(undefined, false), y: tracked('x', false) };
  assert.equal(readiness(state, 'y', new Set(['a', 'x', 'y'])), 'waiting-for-parent');
  assert.equal(readiness(state, 'y', new Set(['a', 'y'])), 'ready');
});

test('a new shard without any parent after the open is a root and is tracked', () => {
  const plan = reconcileListing({ a: tracked(undefined, false) }, [open('a'), open('n')]);
  assert.deepEqual(plan.gaps, []);
  assert.deepEqual(plan.added, [{ shardId: 'n', state: { finished: false, applied: 0 } }]);
});

test('a lineage cycle in a malformed listing is a gap, not an endless loop', () => {
  const plan = reconcileListing({ a: tracked(undefined, false) }, [open('a'), open('p', 'q'), open('q', 'p')]);
  assert.deepEqual(plan.added, []);
  assert.deepEqual(plan.gaps.map((g) => g.shardId).sort(), ['p', 'q']);
});

test('already tracked shards are not added again', () => {
  const plan = reconcileListing({ a: tracked(undefined, true), b: tracked('a', false) }, [closed('a'), open('b', 'a')]);
  assert.deepEqual(plan, { added: [], gaps: [] });
});
