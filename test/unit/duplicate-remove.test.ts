/**
 * DynamoDB Local's duplicate REMOVE (a second REMOVE without an old image when two requests delete one key at once) is
 * passed over only when it directly follows a REMOVE of the same key in the same shard, across pages; every other
 * deletion without an old image where the target key can move still fails as STREAM_RECORD_INCOMPLETE.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChangePage, ChangeRecord } from '../../src/core/change.js';
import type { AttributeMap, KeySchema } from '../../src/core/item.js';
import { changeWrites } from '../../src/core/protocol.js';
import { RecentRemovals } from '../../src/core/recent-removals.js';
import { ItemMapper, type Transform } from '../../src/core/transform.js';
import { mapBatch } from '../../src/runners/lambda/batch-map.js';

const sourceKey: KeySchema = { partitionKey: { name: 'id', type: 'S' } };
const byGroup: KeySchema = { partitionKey: { name: 'gpk', type: 'S' }, sortKey: { name: 'id', type: 'S' } };
const regroup: Transform = (item) => ({ ...item, gpk: `G#${String(item.grp)}` });
/** The target key moves with `grp`: a deletion without an old image can't say which target item it removed. */
const grouped = () => new ItemMapper({ transform: regroup, targets: { target: byGroup }, singleTarget: 'target' });
/** No transform, same key: a deletion without an old image is applied from its key. */
const identity = () => new ItemMapper({ targets: { target: sourceKey }, singleTarget: 'target' });

const key = (id: string): AttributeMap => ({ id: { S: id } });
const g = (id: string, grp: string): AttributeMap => ({ ...key(id), grp: { S: grp } });

let seq = 1000;
const put = (id: string, grp: string): ChangeRecord => ({ sequenceNumber: String(seq++), eventName: 'INSERT', keys: key(id), newImage: g(id, grp) });
const remove = (id: string, grp: string): ChangeRecord => ({
  sequenceNumber: String(seq++),
  eventName: 'REMOVE',
  keys: key(id),
  oldImage: g(id, grp),
});
/** What DynamoDB Local writes for the second of two concurrent deletes of one key. */
const bareRemove = (id: string): ChangeRecord => ({ sequenceNumber: String(seq++), eventName: 'REMOVE', keys: key(id) });
const page = (records: ChangeRecord[], shardId = 'shardId-0001'): ChangePage => ({ source: 'source', shardId, records });

const summary = (ops: { kind: string; key: AttributeMap }[]) =>
  ops.map(
    (o) =>
      `${o.kind} ${Object.values(o.key)
        .map((v) => v.S ?? v.N)
        .join('|')}`,
  );

describe("DynamoDB Local's duplicate REMOVE", () => {
  test('a REMOVE without an old image right after a REMOVE of the same key in the page is passed over, reported and counted', () => {
    const first = remove('1', 'A');
    const dup = bareRemove('1');
    const res = changeWrites(grouped(), page([first, dup]), { recentRemovals: new RecentRemovals() });
    assert.deepEqual(res.failures, []);
    assert.deepEqual(summary(res.ops), ['delete G#A|1'], 'the first REMOVE deletes the target item; the duplicate writes nothing');
    assert.deepEqual(res.duplicateRemoves, [dup]);
    assert.equal(res.skipped, 1);
  });

  test('the first REMOVE in an earlier page of the same shard counts (across a page boundary)', () => {
    const removals = new RecentRemovals();
    const earlier = changeWrites(grouped(), page([put('2', 'B'), remove('1', 'A')]), { recentRemovals: removals });
    assert.deepEqual(earlier.failures, []);
    const dup = bareRemove('1');
    const res = changeWrites(grouped(), page([dup, put('3', 'C')]), { recentRemovals: removals });
    assert.deepEqual(res.failures, []);
    assert.deepEqual(res.duplicateRemoves, [dup]);
    assert.deepEqual(summary(res.ops), ['put G#C|3']);
  });

  test('a third bare REMOVE in a row is the same quirk (the item is still absent)', () => {
    const removals = new RecentRemovals();
    const res = changeWrites(grouped(), page([remove('1', 'A'), bareRemove('1'), bareRemove('1')]), { recentRemovals: removals });
    assert.deepEqual(res.failures, []);
    assert.equal(res.duplicateRemoves.length, 2);
  });

  test('a REMOVE without an old image not preceded by a REMOVE of that key still fails as STREAM_RECORD_INCOMPLETE', () => {
    const removals = new RecentRemovals();
    const alone = bareRemove('1');
    const res = changeWrites(grouped(), page([alone]), { recentRemovals: removals });
    assert.deepEqual(res.duplicateRemoves, []);
    assert.equal(res.failures.length, 1);
    assert.equal(res.failures[0]!.error.code, 'STREAM_RECORD_INCOMPLETE');
    assert.equal(res.failures[0]!.record, alone);
    assert.match(res.failures[0]!.error.hint ?? '', /DynamoDB Local/);
  });

  test('a record of the key between the two REMOVEs (the item was written again) makes the bare REMOVE incomplete', () => {
    const removals = new RecentRemovals();
    changeWrites(grouped(), page([remove('1', 'A'), put('1', 'B')]), { recentRemovals: removals });
    const res = changeWrites(grouped(), page([bareRemove('1')]), { recentRemovals: removals });
    assert.deepEqual(res.duplicateRemoves, []);
    assert.equal(res.failures[0]?.error.code, 'STREAM_RECORD_INCOMPLETE', 'it may be deleting G#B|1, which only an old image would say');
  });

  test('a REMOVE of another key, or of the same key in another shard, does not count', () => {
    const removals = new RecentRemovals();
    const res = changeWrites(grouped(), page([remove('1', 'A'), bareRemove('2')]), { recentRemovals: removals });
    assert.equal(res.failures.length, 1);
    assert.deepEqual(res.failures[0]!.sourceKey, key('2'));
    const other = changeWrites(grouped(), page([bareRemove('1')], 'shardId-0002'), { recentRemovals: removals });
    assert.equal(other.failures.length, 1, 'the REMOVE of key 1 was in shardId-0001');
    assert.deepEqual(other.duplicateRemoves, []);
  });

  test('a key number written two ways (1 and 1.0) is the same key', () => {
    const removals = new RecentRemovals();
    const numbered = new ItemMapper({ transform: (i) => i, targets: { target: { partitionKey: { name: 'n', type: 'N' } } }, singleTarget: 'target' });
    const first: ChangeRecord = { sequenceNumber: '1', eventName: 'REMOVE', keys: { n: { N: '1' } }, oldImage: { n: { N: '1' } } };
    const dup: ChangeRecord = { sequenceNumber: '2', eventName: 'REMOVE', keys: { n: { N: '1.0' } } };
    const res = changeWrites(numbered, page([first, dup]), { recentRemovals: removals });
    assert.deepEqual(res.failures, []);
    assert.deepEqual(res.duplicateRemoves, [dup]);
  });

  test('without a memory it fails as before', () => {
    const res = changeWrites(grouped(), page([remove('1', 'A'), bareRemove('1')]));
    assert.deepEqual(res.duplicateRemoves, []);
    assert.equal(res.failures[0]?.error.code, 'STREAM_RECORD_INCOMPLETE');
  });

  test('where the target key cannot move the bare REMOVE is still applied from its key, not passed over', () => {
    const res = changeWrites(identity(), page([remove('1', 'A'), bareRemove('1')]), { recentRemovals: new RecentRemovals() });
    assert.deepEqual(res.duplicateRemoves, []);
    assert.deepEqual(res.failures, []);
    assert.deepEqual(summary(res.ops), ['delete 1'], 'both deletes of key 1, compacted to one');
  });

  test('the memory is bounded: a key forgotten beyond the capacity halts again rather than being passed over', () => {
    const removals = new RecentRemovals(2);
    changeWrites(grouped(), page([remove('1', 'A'), remove('2', 'A'), remove('3', 'A')]), { recentRemovals: removals });
    assert.equal(removals.size, 2);
    const res = changeWrites(grouped(), page([bareRemove('1'), bareRemove('3')]), { recentRemovals: removals });
    assert.equal(res.failures.length, 1);
    assert.deepEqual(res.failures[0]!.sourceKey, key('1'), 'key 1 was the least recent and is forgotten');
    assert.deepEqual(
      res.duplicateRemoves.map((r) => r.keys),
      [key('3')],
    );
  });

  test('the Lambda batch: a halt maps the prefix again from the memory as it was before the batch, so the duplicate is still passed over', () => {
    const poisoned = new ItemMapper({
      transform: (item, ctx) => {
        if (item.grp === 'POISON') throw new Error('poison');
        return regroup(item, ctx);
      },
      targets: { target: byGroup },
      singleTarget: 'target',
    });
    const removals = new RecentRemovals();
    const dup = bareRemove('1');
    const duplicates: ChangeRecord[] = [];
    const records = [remove('1', 'A'), dup, put('2', 'POISON'), remove('1', 'A')];
    const res = mapBatch({
      mapper: poisoned,
      onError: 'halt',
      source: 'source',
      shardId: 'lambda',
      records,
      recentRemovals: removals,
      onDuplicateRemove: (r) => duplicates.push(r),
    });
    assert.equal(res.mapFailure?.error.code, 'TRANSFORM_FAILED');
    assert.equal(res.records.length, 2, 'the records before the poisoned one');
    assert.deepEqual(res.mapped.failures, [], 'the prefix maps without failures: the bare REMOVE is passed over again');
    assert.deepEqual(duplicates, [dup]);
    assert.equal(removals.size, 1, 'the container memory observed the whole delivered batch (its last record removed key 1)');
  });

  test('a key that is written again leaves the memory, so only removed keys are held', () => {
    const removals = new RecentRemovals();
    changeWrites(grouped(), page([remove('1', 'A'), remove('2', 'A'), put('1', 'B')]), { recentRemovals: removals });
    assert.equal(removals.size, 1);
  });
});
