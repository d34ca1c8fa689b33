/**
 * Reverse replication when the target briefly holds two items for one source item. The drain puts a moved key, the
 * application updates the old key (it read the item there a moment earlier), then the drain deletes the old key. The
 * target ends with the new key only, so the source must end with the item (the inverse of the new key's item).
 *
 * The lifecycle test met this history once, run alongside another test file (the drain then took longer). Replayed
 * blindly, the update hands the source item back to the old key, and the delete that follows removes it. And an
 * application's own key move (put the new key, then delete the old one) must still move the source item.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { ChangeRecord } from '../../src/core/change.js';
import type { AttributeMap } from '../../src/core/item.js';
import { createTable, withDynamoDbLocal } from '../support/dynamodb-local.js';
import { groupedReverse } from '../support/reverse-fixture.js';

const local = withDynamoDbLocal();

const s = (v: string) => ({ S: v });
const n = (v: number) => ({ N: String(v) });
const targetItem = (id: string, gk: string, v: number): AttributeMap => ({ gk: s(gk), id: s(id), grp: s(gk), v: n(v) });
let seq = 100;
const rec = (eventName: string, id: string, keyGk: string, oldImage?: AttributeMap, newImage?: AttributeMap): ChangeRecord => ({
  sequenceNumber: String(seq++),
  eventName,
  keys: { gk: s(keyGk), id: s(id) },
  ...(oldImage ? { oldImage } : {}),
  ...(newImage ? { newImage } : {}),
});

let tables = 0;
/** A source and a target table (the target holding `targetNow`, its state once the records below were written). */
async function replay(sourceNow: AttributeMap, targetNow: AttributeMap[], records: ChangeRecord[]) {
  const n = ++tables;
  const source = `orders${n}`;
  const target = `orders${n}_v2`;
  await createTable(local.client, { name: source, partitionKey: { name: 'id', type: 'S' } });
  await createTable(local.client, { name: target, partitionKey: { name: 'gk', type: 'S' }, sortKey: { name: 'id', type: 'S' } });
  await local.client.send(new PutItemCommand({ TableName: source, Item: sourceNow }));
  for (const item of targetNow) await local.client.send(new PutItemCommand({ TableName: target, Item: item }));

  const { apply, stats, close } = groupedReverse({ client: local.client, endpoint: local.endpoint, source, target, concurrency: 16 });
  try {
    await apply({ source: 'target', shardId: 'shardId-1', records });
  } finally {
    await close();
  }
  assert.equal(stats.records, records.length);
  const got = await local.client.send(new GetItemCommand({ TableName: source, Key: { id: sourceNow['id']! }, ConsistentRead: true }));
  return { item: got.Item, stats };
}

test('an application update of a key the drain is moving, replayed in reverse, leaves the source item in place', async () => {
  // The source after the application moved x from group g1 to g2 (before the switch); the drain applies it after.
  // The target stream after P: the drain's put of (g2, x), the application's update of (g1, x), the drain's delete of
  // (g1, x). The target ends with (g2, x) only.
  const { item, stats } = await replay(
    { id: s('x'), grp: s('g2'), v: n(1) },
    [targetItem('x', 'g2', 1)],
    [
      rec('INSERT', 'x', 'g2', undefined, targetItem('x', 'g2', 1)),
      rec('MODIFY', 'x', 'g1', targetItem('x', 'g1', 1), targetItem('x', 'g1', 2)),
      rec('REMOVE', 'x', 'g1', targetItem('x', 'g1', 2)),
    ],
  );
  assert.deepEqual(item, { id: s('x'), grp: s('g2'), v: n(1) }, 'the source holds inverse(target): x in group g2');
  assert.equal(stats.stalePutSkips, 1, 'the update of the key on its way out was passed over');
  assert.equal(stats.ownerSkips, 1, "the old key's delete did not reach the item owned by g2");
  assert.equal(stats.skipped, 2, 'both pass-overs show in the skipped count the progress and metrics report');
});

test("the application's own key move in the target moves the source item, whichever way the target reads now", async () => {
  const records = () => [rec('INSERT', 'y', 'g3', undefined, targetItem('y', 'g3', 5)), rec('REMOVE', 'y', 'g2', targetItem('y', 'g2', 4))];
  // Applied after the application finished the move (the target holds only the new key) ...
  const after = await replay({ id: s('y'), grp: s('g2'), v: n(4) }, [targetItem('y', 'g3', 5)], records());
  assert.deepEqual(after.item, { id: s('y'), grp: s('g3'), v: n(5) });
  assert.equal(after.stats.stalePutSkips ?? 0, 0);
  // ... and while both keys were still there (the new key's put is not passed over: it is still in the target).
  const during = await replay({ id: s('y'), grp: s('g2'), v: n(4) }, [targetItem('y', 'g2', 4), targetItem('y', 'g3', 5)], records());
  assert.deepEqual(during.item, { id: s('y'), grp: s('g3'), v: n(5) });
  assert.equal(during.stats.stalePutSkips ?? 0, 0);
});

test('a put whose key was later deleted, while no other target item holds the source item, still applies in order', async () => {
  // The application updated z, then deleted it: the target holds nothing for z, and the source must end without it.
  const { item, stats } = await replay(
    { id: s('z'), grp: s('g1'), v: n(1) },
    [],
    [rec('MODIFY', 'z', 'g1', targetItem('z', 'g1', 1), targetItem('z', 'g1', 2)), rec('REMOVE', 'z', 'g1', targetItem('z', 'g1', 2))],
  );
  assert.equal(item, undefined);
  assert.equal(stats.stalePutSkips ?? 0, 0);
});
