import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { WriteOp } from '../../src/core/write-op.js';
import { chainsBySourceItem } from '../../src/engine/reverse-chains.js';

const op = (keyId: string, kind: 'put' | 'delete' = 'put'): WriteOp =>
  ({ kind, target: 'source', key: {}, keyId, item: {}, origin: { source: 'target', sourceKey: {}, via: 'shardId-1' } }) as WriteOp;
const rec = (...keyIds: string[]) => ({ ops: keyIds.map((k) => op(k)) });

test('records of one source item stay in one chain, in stream order; other items get their own chains', () => {
  assert.deepEqual(chainsBySourceItem([rec('a'), rec('b'), rec('a'), rec('c'), rec('b')]), [[0, 2], [1, 4], [3]]);
});

test('a record touching two source items joins their chains, including records before it', () => {
  // 0: a, 1: b, 2: c, 3: a+b (an old image of a, a new image of b), 4: c again, 5: b again.
  assert.deepEqual(chainsBySourceItem([rec('a'), rec('b'), rec('c'), rec('a', 'b'), rec('c'), rec('b')]), [
    [0, 1, 3, 5],
    [2, 4],
  ]);
});

test('chains merged through a later link keep every record in ascending order', () => {
  assert.deepEqual(chainsBySourceItem([rec('x'), rec('y'), rec('z'), rec('y', 'z'), rec('x', 'z')]), [[0, 1, 2, 3, 4]]);
});

test('a record without writes is a chain of its own; the same key id in another target is another item', () => {
  const other = { ops: [{ ...op('a'), target: 'other' } as WriteOp] };
  assert.deepEqual(chainsBySourceItem([rec('a'), rec(), other, rec('a')]), [[0, 3], [1], [2]]);
});

test('an empty page has no chains', () => {
  assert.deepEqual(chainsBySourceItem([]), []);
});
