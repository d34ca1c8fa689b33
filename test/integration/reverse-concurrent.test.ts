/**
 * Reverse replication applies a page's records for different source items at once (engine/reverse-chains.ts). Here
 * the application writes the target from several writers at once — updates, key moves (put the new key, then delete
 * the old), deletes and re-creations — DynamoDB Local's stream records them, and the real reverse applier replays the
 * stream's pages into the source with 16 chains at once. The source must then equal inverse(target), item by item,
 * read back by an independent scan.
 *
 * REVERSE_SEEDS=N runs N seeds (default 1, the CI subset); REVERSE_SEED_BASE shifts them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchWriteItemCommand, DeleteItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { GetRecordsCommand, GetShardIteratorCommand, DescribeStreamCommand } from '@aws-sdk/client-dynamodb-streams';
import type { ChangeRecord } from '../../src/core/change.js';
import type { AttributeMap } from '../../src/core/item.js';
import { mulberry32, type Rng } from '../../src/core/random.js';
import { toChangeRecord } from '../../src/sources/stream/record-mapper.js';
import { createTable, enableStream, latestStreamArn, withDynamoDbLocal } from '../support/dynamodb-local.js';
import { compareTables, formatDiff, isEmptyDiff, scanAll } from '../support/independent-scan.js';
import { groupedReverse, sourceItemOf } from '../support/reverse-fixture.js';

const SEEDS = Number(process.env.REVERSE_SEEDS ?? 1);
const SEED_BASE = Number(process.env.REVERSE_SEED_BASE ?? 1);
const ITEMS = 120;
const WRITERS = 4;
const OPS_PER_WRITER = 250;

const local = withDynamoDbLocal();

const s = (v: string) => ({ S: v });
const targetItem = (id: string, grp: string, v: number): AttributeMap => ({
  gk: s(grp),
  id: s(id),
  grp: s(grp),
  v: { N: String(v) },
  note: s(`${id}@${v}`),
});

/** One writer's share of the ids (so no two writers move one item at once, as an application's own locking would). */
async function writer(table: string, ids: string[], rng: Rng, held: Map<string, AttributeMap | undefined>): Promise<void> {
  const group = () => `g${Math.floor(rng() * 5)}`;
  for (let i = 0; i < OPS_PER_WRITER; i++) {
    const id = ids[Math.floor(rng() * ids.length)]!;
    const now = held.get(id);
    const v = Number(now?.['v']?.N ?? 0) + 1;
    const roll = rng();
    if (!now) {
      const item = targetItem(id, group(), v);
      await local.client.send(new PutItemCommand({ TableName: table, Item: item }));
      held.set(id, item);
    } else if (roll < 0.45) {
      const item = targetItem(id, now['grp']!.S!, v);
      await local.client.send(new PutItemCommand({ TableName: table, Item: item }));
      held.set(id, item);
    } else if (roll < 0.85) {
      // A key move: the new key first, then the old one goes (the reverse applier must follow either order).
      let grp = group();
      while (grp === now['grp']!.S) grp = group();
      const item = targetItem(id, grp, v);
      await local.client.send(new PutItemCommand({ TableName: table, Item: item }));
      await local.client.send(new DeleteItemCommand({ TableName: table, Key: { gk: now['gk']!, id: s(id) } }));
      held.set(id, item);
    } else {
      await local.client.send(new DeleteItemCommand({ TableName: table, Key: { gk: now['gk']!, id: s(id) } }));
      held.set(id, undefined);
    }
  }
}

/** The target stream's pages, as GetRecords returns them (DynamoDB Local keeps one shard). */
async function streamPages(table: string): Promise<ChangeRecord[][]> {
  const arn = await latestStreamArn(local.client, table);
  const { StreamDescription } = await local.streams.send(new DescribeStreamCommand({ StreamArn: arn }));
  assert.equal(StreamDescription?.Shards?.length, 1, 'DynamoDB Local keeps one shard');
  const shard = StreamDescription!.Shards![0]!.ShardId!;
  let iterator = (await local.streams.send(new GetShardIteratorCommand({ StreamArn: arn, ShardId: shard, ShardIteratorType: 'TRIM_HORIZON' })))
    .ShardIterator;
  const pages: ChangeRecord[][] = [];
  while (iterator) {
    const res = await local.streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 200 }));
    if (!res.Records?.length) break;
    pages.push(res.Records.map(toChangeRecord));
    iterator = res.NextShardIterator;
  }
  return pages;
}

for (let i = 0; i < SEEDS; i++) {
  const seed = SEED_BASE + i;
  test(
    `seed ${seed}: concurrent application writes and key moves in the target, replayed with 16 source items at once, leave source = inverse(target)`,
    { timeout: 300_000 },
    async () => {
      const rng = mulberry32(seed);
      const source = `rc_src_${seed}`;
      const target = `rc_dst_${seed}`;
      await createTable(local.client, { name: source, partitionKey: { name: 'id', type: 'S' } });
      await createTable(local.client, { name: target, partitionKey: { name: 'gk', type: 'S' }, sortKey: { name: 'id', type: 'S' } });

      // Both tables agree before the stream opens (as at `cutover writes`).
      const held = new Map<string, AttributeMap | undefined>();
      const ids = Array.from({ length: ITEMS }, (_, n) => `item-${String(n).padStart(4, '0')}`);
      const initial = ids.map((id) => targetItem(id, `g${Math.floor(rng() * 5)}`, 1));
      for (let n = 0; n < initial.length; n += 25) {
        const page = initial.slice(n, n + 25);
        await local.client.send(new BatchWriteItemCommand({ RequestItems: { [target]: page.map((Item) => ({ PutRequest: { Item } })) } }));
        await local.client.send(
          new BatchWriteItemCommand({ RequestItems: { [source]: page.map((item) => ({ PutRequest: { Item: sourceItemOf(item) } })) } }),
        );
      }
      initial.forEach((item) => held.set(item['id']!.S!, item));
      await enableStream(local.client, target);

      const shares = Array.from({ length: WRITERS }, (_, w) => ids.filter((_, n) => n % WRITERS === w));
      await Promise.all(shares.map((share, w) => writer(target, share, mulberry32(seed * 100 + w), held)));

      const pages = await streamPages(target);
      const records = pages.reduce((n, p) => n + p.length, 0);
      const { apply, stats, close } = groupedReverse({ client: local.client, endpoint: local.endpoint, source, target, concurrency: 16 });
      try {
        for (const records of pages) await apply({ source: 'target', shardId: 'shardId-1', records });
      } finally {
        await close();
      }

      assert.equal(stats.records, records, 'every record was applied');
      const expected = (await scanAll(local.client, target)).map((item) => sourceItemOf(item as AttributeMap));
      assert.equal(expected.length, [...held.values()].filter(Boolean).length, 'the target holds one item per live id');
      const diff = compareTables(expected, (await scanAll(local.client, source)) as AttributeMap[], ['id']);
      assert.ok(isEmptyDiff(diff), `source differs from inverse(target) after ${records} records in ${pages.length} pages:\n${formatDiff(diff)}`);
      process.stdout.write(
        `# seed ${seed}: ${records} records in ${pages.length} pages; ${stats.writes} source writes, ${stats.ownerSkips ?? 0} deletes and ${stats.stalePutSkips ?? 0} puts passed over\n`,
      );
    },
  );
}
