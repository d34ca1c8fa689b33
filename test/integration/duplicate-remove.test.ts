/**
 * DynamoDB Local's duplicate REMOVE, end to end: several clients deleting the same keys at once make Local write a
 * second REMOVE without an old image right after the first (semantics doc; issue 18). `run` passes over each of them
 * with a warning naming the quirk — never silently, never a halt — and the target still equals transform(source).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchWriteItemCommand, DeleteItemCommand, DescribeTableCommand, DynamoDBClient, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { DescribeStreamCommand, GetRecordsCommand, GetShardIteratorCommand } from '@aws-sdk/client-dynamodb-streams';
import { localClientConfig } from '../../src/local/dynamodb-local.js';
import { runCli, type CliResult } from '../support/cli.js';
import { createTable, withDynamoDbLocal } from '../support/dynamodb-local.js';
import { compareTables, formatDiff, isEmptyDiff, scanAll } from '../support/independent-scan.js';

const local = withDynamoDbLocal();

type Item = Record<string, AttributeValue>;
const ITEMS = 60;
const DELETED = 40;
/** Clients deleting each key at once: separate clients, so the requests travel on separate connections. */
const DELETERS = 4;

const show = (r: CliResult) => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

/** REMOVEs without an old image whose previous record of the same key in the same shard was a REMOVE, read directly. */
async function duplicateRemovesInStream(table: string): Promise<number> {
  const arn = (await local.client.send(new DescribeTableCommand({ TableName: table }))).Table!.LatestStreamArn!;
  const shards = (await local.streams.send(new DescribeStreamCommand({ StreamArn: arn }))).StreamDescription!.Shards ?? [];
  let duplicates = 0;
  for (const shard of shards) {
    const last = new Map<string, string>();
    let iterator = (
      await local.streams.send(new GetShardIteratorCommand({ StreamArn: arn, ShardId: shard.ShardId!, ShardIteratorType: 'TRIM_HORIZON' }))
    ).ShardIterator;
    while (iterator) {
      const out = await local.streams.send(new GetRecordsCommand({ ShardIterator: iterator }));
      if (!out.Records?.length) break;
      for (const r of out.Records) {
        const id = r.dynamodb!.Keys!['id']!.S!;
        if (r.eventName === 'REMOVE' && !r.dynamodb!.OldImage && last.get(id) === 'REMOVE') duplicates++;
        last.set(id, r.eventName!);
      }
      iterator = out.NextShardIterator;
    }
  }
  return duplicates;
}

test(
  "DynamoDB Local's duplicate REMOVEs from concurrent deletes are passed over with one warning each; the target equals transform(source)",
  { timeout: 300_000 },
  async (t) => {
    const [source, target] = ['dup_remove_src', 'dup_remove_dst'];
    await createTable(local.client, { name: source, partitionKey: { name: 'id', type: 'S' }, streamViewType: 'NEW_AND_OLD_IMAGES' });
    const items: Item[] = Array.from({ length: ITEMS }, (_, i) => ({ id: { S: `item-${String(i).padStart(3, '0')}` }, v: { N: String(i) } }));
    for (let i = 0; i < items.length; i += 25) {
      await local.client.send(
        new BatchWriteItemCommand({ RequestItems: { [source]: items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })) } }),
      );
    }

    const dir = mkdtempSync(join(tmpdir(), 'dynashift-dup-remove-'));
    // With a transform the target key can move, so a REMOVE without an old image can't be applied from its key.
    writeFileSync(join(dir, 'transform.mjs'), 'export default function transform(item) {\n  return { ...item, migrated: true };\n}\n');
    const cfg = join(dir, 'dynashift.config.json');
    const table = (t: string) => ({ table: t, endpoint: local.endpoint, region: 'us-east-1' });
    writeFileSync(
      cfg,
      JSON.stringify({
        name: 'dup-remove',
        source: table(source),
        target: table(target),
        transform: './transform.mjs',
        stream: { pollIntervalMs: 100, discoveryIntervalMs: 1000 },
      }),
    );
    const run = () => runCli(['run', '--until-synced', '--no-progress', '-c', cfg], { timeoutMs: 120_000 });
    const first = await run();
    assert.equal(first.code, 0, show(first));

    const deleters = Array.from({ length: DELETERS }, () => new DynamoDBClient(localClientConfig(local.endpoint)));
    try {
      await Promise.all(
        items
          .slice(0, DELETED)
          .flatMap((item) => deleters.map((c) => c.send(new DeleteItemCommand({ TableName: source, Key: { id: item['id']! } })))),
      );
    } finally {
      for (const c of deleters) c.destroy();
    }
    const duplicates = await duplicateRemovesInStream(source);
    assert.ok(duplicates > 0, 'DynamoDB Local wrote its duplicate REMOVE for some of the concurrently deleted keys (else this test proves nothing)');

    t.diagnostic(`${duplicates} duplicate REMOVEs in the stream from ${DELETED} keys deleted by ${DELETERS} clients at once`);
    const second = await run();
    assert.equal(second.code, 0, show(second));
    assert.doesNotMatch(second.stderr, /STREAM_RECORD_INCOMPLETE/);
    const warnings = second.stderr.match(/DynamoDB Local's duplicate REMOVE/g)?.length ?? 0;
    assert.equal(warnings, duplicates, `one warning per duplicate REMOVE in the stream:\n${second.stderr}`);

    const expected = (await scanAll(local.client, source)).map((i) => ({ ...i, migrated: { BOOL: true } }));
    assert.equal(expected.length, ITEMS - DELETED);
    const diff = compareTables(expected, await scanAll(local.client, target), ['id']);
    assert.ok(isEmptyDiff(diff), formatDiff(diff));
  },
);
