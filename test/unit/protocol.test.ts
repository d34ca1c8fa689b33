import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChangePage, ChangeRecord } from '../../src/core/change.js';
import { isDeletion } from '../../src/core/change.js';
import type { AttributeMap, KeySchema } from '../../src/core/item.js';
import { keyId } from '../../src/core/item.js';
import { backfillWrites, changeWrites, keyOrEmpty } from '../../src/core/protocol.js';
import { ItemMapper, type Transform } from '../../src/core/transform.js';
import { compactWrites, type WriteOp } from '../../src/core/write-op.js';

// ---- fixtures -------------------------------------------------------------------------------------------------------

const sourceKey: KeySchema = { partitionKey: { name: 'id', type: 'S' } };
/** Target keyed by group + id: the transform computes `gpk` from the source's `grp`, so an update can move the key. */
const byGroup: KeySchema = { partitionKey: { name: 'gpk', type: 'S' }, sortKey: { name: 'id', type: 'S' } };
const regroup: Transform = (item) => ({ ...item, gpk: `G#${String(item.grp)}` });

const identity = () => new ItemMapper({ targets: { target: sourceKey }, singleTarget: 'target' });
const grouped = (t: Transform = regroup) => new ItemMapper({ transform: t, targets: { target: byGroup }, singleTarget: 'target' });

const item = (id: string, extra: AttributeMap = {}): AttributeMap => ({ id: { S: id }, ...extra });
const g = (id: string, grp: string, extra: AttributeMap = {}): AttributeMap => item(id, { grp: { S: grp }, ...extra });

let seq = 100;
function rec(
  eventName: string,
  keys: AttributeMap,
  images: { newImage?: AttributeMap; oldImage?: AttributeMap; createdAt?: number } = {},
): ChangeRecord {
  return { sequenceNumber: String(seq++), eventName, keys, ...images };
}
const page = (...records: ChangeRecord[]): ChangePage => ({ source: 'source', shardId: 'shardId-0001', records });

/** The writes as short strings: "put target G#A|1", "del target 1". */
function summary(ops: WriteOp[]): string[] {
  return ops.map(
    (op) =>
      `${op.kind === 'put' ? 'put' : 'del'} ${op.target} ${Object.values(op.key)
        .map((v) => v.S ?? v.N)
        .join('|')}`,
  );
}

// ---- compactWrites --------------------------------------------------------------------------------------------------

describe('compactWrites', () => {
  const put = (target: string, k: string, v = '1'): WriteOp => ({
    kind: 'put',
    target,
    key: item(k),
    keyId: keyId(item(k), sourceKey),
    item: item(k, { v: { N: v } }),
    origin: { source: 's', sourceKey: item(k), via: 'x' },
  });
  const del = (target: string, k: string): WriteOp => ({
    kind: 'delete',
    target,
    key: item(k),
    keyId: keyId(item(k), sourceKey),
    origin: { source: 's', sourceKey: item(k), via: 'x' },
  });

  test('without duplicates the input is returned as is', () => {
    const ops = [put('t', 'a'), put('t', 'b'), del('t', 'c')];
    assert.equal(compactWrites(ops), ops);
  });

  test('keeps only the last write per key, in order of last occurrence', () => {
    const ops = [put('t', 'a', '1'), put('t', 'b', '1'), put('t', 'a', '2'), del('t', 'c'), del('t', 'b')];
    const out = compactWrites(ops);
    assert.deepEqual(summary(out), ['put t a', 'del t c', 'del t b']);
    assert.equal((out[0] as Extract<WriteOp, { kind: 'put' }>).item.v!.N, '2');
    assert.equal(out[0], ops[2]);
  });

  test('the same key in different targets is not compacted', () => {
    const out = compactWrites([put('t1', 'a'), put('t2', 'a'), del('t1', 'a')]);
    assert.deepEqual(summary(out), ['put t2 a', 'del t1 a']);
  });

  test('numerically equal number keys are one key', () => {
    const n: KeySchema = { partitionKey: { name: 'id', type: 'N' } };
    const mk = (spelling: string, kind: 'put' | 'delete'): WriteOp => {
      const key = { id: { N: spelling } };
      const origin = { source: 's', sourceKey: key, via: 'x' };
      return kind === 'put'
        ? { kind, target: 't', key, keyId: keyId(key, n), item: key, origin }
        : { kind, target: 't', key, keyId: keyId(key, n), origin };
    };
    const out = compactWrites([mk('1.50', 'put'), mk('1.5', 'delete')]);
    assert.equal(out.length, 1);
    assert.equal(out[0]!.kind, 'delete');
  });
});

// ---- backfill -------------------------------------------------------------------------------------------------------

describe('backfillWrites', () => {
  test('every item becomes a put of its routed form, with a backfill origin', () => {
    const items = [g('1', 'A'), g('2', 'B')];
    const res = backfillWrites(grouped(), 'source', sourceKey, items);
    assert.deepEqual(summary(res.ops), ['put target G#A|1', 'put target G#B|2']);
    assert.deepEqual(res.failures, []);
    assert.equal(res.collisions, 0);
    assert.equal(res.skipped, 0);
    for (const [i, op] of res.ops.entries()) {
      assert.equal(op.kind, 'put');
      assert.deepEqual(op.origin, { source: 'source', sourceKey: item(String(i + 1)), via: 'backfill' });
    }
    assert.equal((res.ops[0] as Extract<WriteOp, { kind: 'put' }>).item.gpk!.S, 'G#A');
  });

  test('identity backfill puts the very same items', () => {
    const items = [item('1', { v: { N: '1.50' } }), item('2')];
    const res = backfillWrites(identity(), 'source', sourceKey, items);
    assert.equal(res.ops.length, 2);
    assert.equal((res.ops[0] as Extract<WriteOp, { kind: 'put' }>).item, items[0]);
  });

  test('a failing item is collected as a failure with its key and item, and the other items still produce puts', () => {
    const t: Transform = (it) => {
      if (it.id === 'bad') throw new Error('cannot map bad');
      return regroup(it, { source: 'source' });
    };
    const bad = g('bad', 'X');
    const res = backfillWrites(grouped(t), 'source', sourceKey, [g('1', 'A'), bad, g('3', 'C')]);
    assert.deepEqual(summary(res.ops), ['put target G#A|1', 'put target G#C|3']);
    assert.equal(res.failures.length, 1);
    const f = res.failures[0]!;
    assert.equal(f.stage, 'backfill');
    assert.equal(f.source, 'source');
    assert.deepEqual(f.sourceKey, { id: { S: 'bad' } });
    assert.equal(f.item, bad);
    assert.equal(f.error.code, 'TRANSFORM_FAILED');
    assert.match(f.error.message, /cannot map bad/);
  });

  test('failures keep their MappingError code (TARGET_KEY_MISSING)', () => {
    const res = backfillWrites(
      grouped((it) => (it.id === '2' ? { id: it.id } : regroup(it, { source: 's' }))),
      'source',
      sourceKey,
      [g('1', 'A'), g('2', 'B')],
    );
    assert.equal(res.ops.length, 1);
    assert.equal(res.failures[0]!.error.code, 'TARGET_KEY_MISSING');
  });

  test('two source items mapping to one target key count as a collision and the later one wins', () => {
    const collapse: Transform = (it) => ({ ...it, gpk: 'same', id: 'same' });
    const res = backfillWrites(grouped(collapse), 'source', sourceKey, [g('1', 'A'), g('2', 'B'), g('3', 'C')]);
    assert.equal(res.ops.length, 1);
    assert.equal(res.collisions, 2);
    assert.equal((res.ops[0] as Extract<WriteOp, { kind: 'put' }>).item.grp!.S, 'C');
  });

  test('a fan-out transform produces one put per output item', () => {
    const fan: Transform = (it) => [
      { ...it, gpk: 'x' },
      { ...it, gpk: 'y' },
    ];
    const res = backfillWrites(grouped(fan), 'source', sourceKey, [g('1', 'A')]);
    assert.deepEqual(summary(res.ops), ['put target x|1', 'put target y|1']);
    assert.equal(res.collisions, 0);
  });

  test('an empty batch produces nothing', () => {
    assert.deepEqual(backfillWrites(identity(), 'source', sourceKey, []), { ops: [], failures: [], skipped: 0, duplicateRemoves: [], collisions: 0 });
  });
});

// ---- change records -------------------------------------------------------------------------------------------------

describe('isDeletion', () => {
  test('a record is a deletion exactly when it has no new image, whatever its event name', () => {
    assert.equal(isDeletion(rec('REMOVE', item('1'), { oldImage: item('1') })), true);
    assert.equal(isDeletion(rec('UNKNOWN_TO_SDK_VERSION', item('1'), { oldImage: item('1') })), true);
    assert.equal(isDeletion(rec('MODIFY', item('1'), { newImage: item('1'), oldImage: item('1') })), false);
  });
});

describe('changeWrites', () => {
  test('INSERT becomes a put of the new image, with the shard and sequence number as origin', () => {
    const r = rec('INSERT', item('1'), { newImage: g('1', 'A') });
    const res = changeWrites(grouped(), page(r));
    assert.deepEqual(summary(res.ops), ['put target G#A|1']);
    assert.deepEqual(res.ops[0]!.origin, { source: 'source', sourceKey: item('1'), via: 'shardId-0001', sequenceNumber: r.sequenceNumber });
    assert.deepEqual(res.failures, []);
  });

  test('MODIFY that moves the target key deletes the old target item and puts the new one', () => {
    const r = rec('MODIFY', item('1'), { oldImage: g('1', 'A'), newImage: g('1', 'B') });
    const res = changeWrites(grouped(), page(r));
    assert.deepEqual(summary(res.ops), ['del target G#A|1', 'put target G#B|1']);
  });

  test('MODIFY that keeps the target key is only a put (no delete that could race the put)', () => {
    const r = rec('MODIFY', item('1'), { oldImage: g('1', 'A', { v: { N: '1' } }), newImage: g('1', 'A', { v: { N: '2' } }) });
    const res = changeWrites(grouped(), page(r));
    assert.deepEqual(summary(res.ops), ['put target G#A|1']);
    assert.equal((res.ops[0] as Extract<WriteOp, { kind: 'put' }>).item.v!.N, '2');
  });

  test('MODIFY of an identity migration is only a put', () => {
    const res = changeWrites(
      identity(),
      page(rec('MODIFY', item('1'), { oldImage: item('1', { v: { N: '1' } }), newImage: item('1', { v: { N: '2' } }) })),
    );
    assert.deepEqual(summary(res.ops), ['put target 1']);
  });

  test('MODIFY with a new image only (no old image) is a put', () => {
    const res = changeWrites(identity(), page(rec('MODIFY', item('1'), { newImage: item('1', { v: { N: '2' } }) })));
    assert.deepEqual(summary(res.ops), ['put target 1']);
  });

  test('REMOVE with an old image deletes the target keys transform(old image) produced', () => {
    const res = changeWrites(grouped(), page(rec('REMOVE', item('1'), { oldImage: g('1', 'A') })));
    assert.deepEqual(summary(res.ops), ['del target G#A|1']);
    assert.equal(res.ops[0]!.kind, 'delete');
  });

  test('REMOVE of a fanned-out item deletes every target item it produced', () => {
    const fan: Transform = (it) => [
      { ...it, gpk: 'x' },
      { ...it, gpk: 'y' },
    ];
    const res = changeWrites(grouped(fan), page(rec('REMOVE', item('1'), { oldImage: g('1', 'A') })));
    assert.deepEqual(summary(res.ops), ['del target x|1', 'del target y|1']);
  });

  test("a record without a new image but eventName 'UNKNOWN_TO_SDK_VERSION' (Local's TTL delete) is a delete", () => {
    const res = changeWrites(grouped(), page(rec('UNKNOWN_TO_SDK_VERSION', item('1'), { oldImage: g('1', 'A') })));
    assert.deepEqual(summary(res.ops), ['del target G#A|1']);
    assert.deepEqual(res.failures, []);
  });

  test('a deletion without an old image and without a transform deletes by the record keys', () => {
    const res = changeWrites(identity(), page(rec('REMOVE', item('1'))));
    assert.deepEqual(summary(res.ops), ['del target 1']);
    assert.deepEqual(res.ops[0]!.key, item('1'));
  });

  test('a deletion without an old image WITH a transform is STREAM_RECORD_INCOMPLETE naming the Local quirk, never a silent skip', () => {
    const r = rec('REMOVE', item('1'));
    const res = changeWrites(grouped(), page(r));
    assert.deepEqual(res.ops, []);
    assert.equal(res.failures.length, 1);
    assert.equal(res.failures[0]!.stage, 'stream');
    assert.equal(res.failures[0]!.error.code, 'STREAM_RECORD_INCOMPLETE');
    assert.match(res.failures[0]!.error.message, /no old image/);
    assert.match(res.failures[0]!.error.message, /transform did not run/);
    assert.doesNotMatch(res.failures[0]!.error.message, /view type must include/);
    assert.match(
      res.failures[0]!.error.hint ?? '',
      /DynamoDB Local .*second REMOVE without an old image when two requests delete the same key at once/,
    );
    assert.equal(res.failures[0]!.record, r);
  });

  test('a transform that filters the new image out deletes the old target item', () => {
    const onlyActive: Transform = (it) => (it.status === 'active' ? regroup(it, { source: 's' }) : null);
    const r = rec('MODIFY', item('1'), { oldImage: g('1', 'A', { status: { S: 'active' } }), newImage: g('1', 'A', { status: { S: 'archived' } }) });
    const res = changeWrites(grouped(onlyActive), page(r));
    assert.deepEqual(summary(res.ops), ['del target G#A|1']);
  });

  test('a transform that filters both images produces no write', () => {
    const none: Transform = () => null;
    const res = changeWrites(grouped(none), page(rec('MODIFY', item('1'), { oldImage: g('1', 'A'), newImage: g('1', 'B') })));
    assert.deepEqual(res.ops, []);
    assert.deepEqual(res.failures, []);
  });

  test("multi-target: a change that drops one target's output deletes only there", () => {
    const targets = { main: sourceKey, flagged: sourceKey };
    const t: Transform = (it) => ({ main: it, flagged: it.flag === true ? it : null });
    const mapper = new ItemMapper({ transform: t, targets });
    const res = changeWrites(
      mapper,
      page(rec('MODIFY', item('1'), { oldImage: item('1', { flag: { BOOL: true } }), newImage: item('1', { flag: { BOOL: false } }) })),
    );
    assert.deepEqual(summary(res.ops), ['del flagged 1', 'put main 1']);
  });

  test('skipBefore passes over records older than the snapshot and counts them', () => {
    const old1 = rec('INSERT', item('1'), { newImage: item('1'), createdAt: 1_000 });
    const old2 = rec('REMOVE', item('2'), { oldImage: item('2'), createdAt: 1_999 });
    const edge = rec('INSERT', item('3'), { newImage: item('3'), createdAt: 2_000 });
    const undated = rec('INSERT', item('4'), { newImage: item('4') });
    const res = changeWrites(identity(), page(old1, old2, edge, undated), { skipBefore: 2_000 });
    assert.equal(res.skipped, 2);
    assert.deepEqual(summary(res.ops), ['put target 3', 'put target 4']);
  });

  test('without skipBefore nothing is skipped', () => {
    const res = changeWrites(identity(), page(rec('INSERT', item('1'), { newImage: item('1'), createdAt: 1 })));
    assert.equal(res.skipped, 0);
    assert.equal(res.ops.length, 1);
  });

  test('page compaction: put k1 then delete k1 leaves only the delete', () => {
    const res = changeWrites(
      identity(),
      page(rec('INSERT', item('k1'), { newImage: item('k1') }), rec('REMOVE', item('k1'), { oldImage: item('k1') })),
    );
    assert.deepEqual(summary(res.ops), ['del target k1']);
  });

  test('page compaction: delete k1 then put k1 leaves only the put', () => {
    const res = changeWrites(
      identity(),
      page(rec('REMOVE', item('k1'), { oldImage: item('k1') }), rec('INSERT', item('k1'), { newImage: item('k1', { v: { N: '2' } }) })),
    );
    assert.deepEqual(summary(res.ops), ['put target k1']);
  });

  test('page compaction: several updates to one key keep the last image', () => {
    const res = changeWrites(
      identity(),
      page(
        rec('MODIFY', item('k1'), { newImage: item('k1', { v: { N: '1' } }) }),
        rec('MODIFY', item('k1'), { newImage: item('k1', { v: { N: '2' } }) }),
        rec('MODIFY', item('k1'), { newImage: item('k1', { v: { N: '3' } }) }),
      ),
    );
    assert.equal(res.ops.length, 1);
    assert.equal((res.ops[0] as Extract<WriteOp, { kind: 'put' }>).item.v!.N, '3');
  });

  test('page compaction: move A→B then B→A leaves delete B and put A', () => {
    const res = changeWrites(
      grouped(),
      page(
        rec('MODIFY', item('1'), { oldImage: g('1', 'A'), newImage: g('1', 'B') }),
        rec('MODIFY', item('1'), { oldImage: g('1', 'B'), newImage: g('1', 'A', { v: { N: '2' } }) }),
      ),
    );
    assert.deepEqual(summary(res.ops), ['del target G#B|1', 'put target G#A|1']);
    assert.equal((res.ops[1] as Extract<WriteOp, { kind: 'put' }>).item.v!.N, '2');
  });

  test('page compaction treats numerically equal number keys as one key', () => {
    const n: KeySchema = { partitionKey: { name: 'id', type: 'N' } };
    const mapper = new ItemMapper({ targets: { target: n }, singleTarget: 'target' });
    const res = changeWrites(
      mapper,
      page(
        rec('INSERT', { id: { N: '1.5' } }, { newImage: { id: { N: '1.5' } } }),
        rec('REMOVE', { id: { N: '1.50' } }, { oldImage: { id: { N: '1.50' } } }),
      ),
    );
    assert.equal(res.ops.length, 1);
    assert.equal(res.ops[0]!.kind, 'delete');
  });

  test('a failing record is reported with its sequence number and shard while the others still produce writes', () => {
    const t: Transform = (it) => {
      if (it.grp === 'BAD') throw new Error('bad group');
      return regroup(it, { source: 's' });
    };
    const good1 = rec('INSERT', item('1'), { newImage: g('1', 'A') });
    const bad = rec('INSERT', item('2'), { newImage: g('2', 'BAD') });
    const good2 = rec('MODIFY', item('3'), { oldImage: g('3', 'C'), newImage: g('3', 'D') });
    const res = changeWrites(grouped(t), page(good1, bad, good2));
    assert.deepEqual(summary(res.ops), ['put target G#A|1', 'del target G#C|3', 'put target G#D|3']);
    assert.equal(res.failures.length, 1);
    const f = res.failures[0]!;
    assert.equal(f.record?.sequenceNumber, bad.sequenceNumber);
    assert.equal(f.shardId, 'shardId-0001');
    assert.equal(f.source, 'source');
    assert.deepEqual(f.sourceKey, item('2'));
    assert.equal(f.error.code, 'TRANSFORM_FAILED');
    assert.match(f.error.message, /bad group/);
  });

  test('a record whose old image fails to map produces no partial writes (the new-image put is not emitted alone)', () => {
    const t: Transform = (it) => {
      if (it.grp === 'BAD') throw new Error('bad old');
      return regroup(it, { source: 's' });
    };
    const res = changeWrites(grouped(t), page(rec('MODIFY', item('1'), { oldImage: g('1', 'BAD'), newImage: g('1', 'A') })));
    assert.deepEqual(res.ops, []);
    assert.equal(res.failures.length, 1);
  });

  test('collisions are not counted for change pages', () => {
    const res = changeWrites(
      identity(),
      page(rec('INSERT', item('k1'), { newImage: item('k1') }), rec('MODIFY', item('k1'), { newImage: item('k1') })),
    );
    assert.equal(res.collisions, 0);
  });
});

describe('keyOrEmpty', () => {
  test('returns the key, or an empty map when a key attribute is missing', () => {
    assert.deepEqual(keyOrEmpty(item('1', { v: { S: 'x' } }), sourceKey), item('1'));
    assert.deepEqual(keyOrEmpty({ v: { S: 'x' } }, sourceKey), {});
  });
});
