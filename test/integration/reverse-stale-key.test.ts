/**
 * Reverse replication when the target briefly holds two items for one source item: the drain's put of a moved key,
 * an application update of the old key it still read, then the drain's delete of the old key. The target ends with
 * the new key only, so the source must end with the item (inverse of the new key's item).
 *
 * The lifecycle test met this history once, run alongside another test file (the drain then took longer): the
 * application updated an item the drain was moving, between the drain's put of the new key and its delete of the
 * old one. The reverse applier replays the update (the source item takes the old key's version again), and the
 * delete that follows then finds the source item owned by the deleted key, and removes it. Kept as a `todo` until
 * the reverse applier handles it (docs/consistency.md, "Cutover and reverse replication", names the gap).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { ChangeRecord } from '../../src/core/change.js';
import type { AttributeMap, KeySchema } from '../../src/core/item.js';
import { ItemMapper } from '../../src/core/transform.js';
import { FailurePolicy } from '../../src/engine/failure-policy.js';
import type { Logger } from '../../src/engine/logger.js';
import { reverseApplier } from '../../src/engine/reverse-applier.js';
import { dynamoDbDriver } from '../../src/sinks/dynamodb/dynamodb-driver.js';
import { FileStateStore } from '../../src/state/file-state-store.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTable, withDynamoDbLocal } from '../support/dynamodb-local.js';

const local = withDynamoDbLocal();
const quiet: Logger = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {}, child: () => quiet } as unknown as Logger;

const SOURCE_KEY: KeySchema = { partitionKey: { name: 'id', type: 'S' } };
const TARGET_KEY: KeySchema = { partitionKey: { name: 'gk', type: 'S' }, sortKey: { name: 'id', type: 'S' } };
const s = (v: string) => ({ S: v });
const n = (v: number) => ({ N: String(v) });
const targetItem = (gk: string, v: number): AttributeMap => ({ gk: s(gk), id: s('x'), grp: s(gk), v: n(v) });
let seq = 100;
const rec = (eventName: string, keyGk: string, oldImage?: AttributeMap, newImage?: AttributeMap): ChangeRecord => ({
  sequenceNumber: String(seq++),
  eventName,
  keys: { gk: s(keyGk), id: s('x') },
  ...(oldImage ? { oldImage } : {}),
  ...(newImage ? { newImage } : {}),
});

test(
  'an application update of a key the drain is moving, replayed in reverse, leaves the source item in place',
  { todo: "the reverse applier replays the stale update, then the old key's delete removes the source item" },
  async () => {
    await createTable(local.client, { name: 'orders', partitionKey: { name: 'id', type: 'S' } });
    // The source after the application moved x from group g1 to g2 (before the switch); forward drains it after.
    await local.client.send(new PutItemCommand({ TableName: 'orders', Item: { id: s('x'), grp: s('g2'), v: n(1) } }));

    const forward = new ItemMapper({ transform: (item) => ({ ...item, gk: item['grp'] }), targets: { target: TARGET_KEY }, singleTarget: 'target' });
    const inverse = new ItemMapper({ transform: ({ gk: _gk, ...item }) => item, targets: { source: SOURCE_KEY }, singleTarget: 'source' });
    const sink = dynamoDbDriver.open(
      'source',
      { table: 'orders', endpoint: local.endpoint, region: 'us-east-1', kind: 'dynamodb' },
      { keySchema: SOURCE_KEY, concurrency: 2, side: 'source' },
    );
    const stats = { records: 0, skipped: 0, writes: 0 };
    const apply = reverseApplier({
      inverse,
      forward,
      target: 'target',
      targetKey: TARGET_KEY,
      source: { name: 'source', client: local.client, table: 'orders', keySchema: SOURCE_KEY },
      sink,
      failures: new FailurePolicy(new FileStateStore(mkdtempSync(join(tmpdir(), 'dynashift-reverse-stale-'))), 'halt', quiet),
      stats,
    });
    try {
      // The target stream after P, in order: the drain's put of the moved key, the application's update of the old
      // key (read before the drain moved it), the drain's delete of the old key. The target ends with (g2, x) only.
      await apply({
        source: 'target',
        shardId: 'shardId-1',
        records: [
          rec('INSERT', 'g2', undefined, targetItem('g2', 1)),
          rec('MODIFY', 'g1', targetItem('g1', 1), targetItem('g1', 2)),
          rec('REMOVE', 'g1', targetItem('g1', 2)),
        ],
      });
    } finally {
      await sink.close?.();
    }
    assert.equal(stats.records, 3);
    const got = await local.client.send(new GetItemCommand({ TableName: 'orders', Key: { id: s('x') }, ConsistentRead: true }));
    assert.deepEqual(got.Item, { id: s('x'), grp: s('g2'), v: n(1) }, 'the source holds inverse(target): x in group g2');
  },
);
