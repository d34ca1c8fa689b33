/**
 * Proves the test-support code against a real DynamoDB Local before the correctness tests rely on it: the server
 * lifecycle, streams, the independent comparer (every kind of difference it must catch or ignore) and the workload.
 */
import assert from 'node:assert/strict';
import { afterEach, before, describe, test } from 'node:test';
import {
  BatchWriteItemCommand,
  DeleteItemCommand,
  DynamoDBClient,
  ListTablesCommand,
  PutItemCommand,
  UpdateItemCommand,
  type AttributeValue,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type DynamoDBStreamsClient,
  type _Record as StreamRecord,
} from '@aws-sdk/client-dynamodb-streams';
import type { AttributeMap } from '../../src/core/item.js';
import { DynashiftError } from '../../src/errors.js';
import { localClientConfig, startDynamoDbLocal } from '../../src/local/dynamodb-local.js';
import { createTable, latestStreamArn, withDynamoDbLocal } from '../support/dynamodb-local.js';
import { compareTables, formatDiff, isEmptyDiff, keyString, scanAll } from '../support/independent-scan.js';
import { generateSeedItems, mulberry32, nextOperation, runWorkload, seedItems, type OpKind } from '../support/workload.js';

const local = withDynamoDbLocal();

describe('DynamoDB Local lifecycle', () => {
  test('starts on a free port, answers ListTables, and refuses connections after stop', async (t) => {
    const started = Date.now();
    const server = await startDynamoDbLocal();
    const startMs = Date.now() - started;
    const client = new DynamoDBClient({ ...localClientConfig(server.endpoint), maxAttempts: 1 });
    try {
      assert.match(server.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(server.endpoint, `http://127.0.0.1:${server.port}`);
      const out = await client.send(new ListTablesCommand({}));
      assert.deepEqual(out.TableNames, []);
      await server.stop();
      await server.stop(); // idempotent
      await assert.rejects(client.send(new ListTablesCommand({})), (err: Error) => /ECONNREFUSED/.test(`${err.name} ${err.message}`));
    } finally {
      client.destroy();
      await server.stop();
    }
    t.diagnostic(`DynamoDB Local started in ${startMs} ms`);
  });

  test('a missing java fails with DYNAMODB_LOCAL_FAILED and an install hint', async () => {
    await assert.rejects(startDynamoDbLocal({ javaCommand: '/nonexistent/bin/java' }), (err: unknown) => {
      assert.ok(err instanceof DynashiftError);
      assert.equal(err.code, 'DYNAMODB_LOCAL_FAILED');
      assert.match(err.message, /Java was not found/);
      assert.match(err.hint ?? '', /Java 17.*apt-get install default-jre-headless/);
      return true;
    });
  });

  test('a JVM that exits during startup fails with its last output in the message', async () => {
    // A 1 MB heap makes the JVM exit before DynamoDB Local starts.
    await assert.rejects(startDynamoDbLocal({ heapMb: 1 }), (err: unknown) => {
      assert.ok(err instanceof DynashiftError);
      assert.equal(err.code, 'DYNAMODB_LOCAL_FAILED');
      assert.match(err.message, /exited during startup \(exit code 1/);
      assert.match(err.message, /Last output:[\s\S]*initialization of VM/);
      return true;
    });
  });
});

test('a table with a NEW_AND_OLD_IMAGES stream records insert, modify and remove', async () => {
  const { client, streams } = local;
  await createTable(client, { name: 'stream-check', partitionKey: { name: 'id', type: 'S' }, streamViewType: 'NEW_AND_OLD_IMAGES' });
  await client.send(new PutItemCommand({ TableName: 'stream-check', Item: { id: { S: 'a' }, n: { N: '1' } } }));
  await client.send(
    new UpdateItemCommand({
      TableName: 'stream-check',
      Key: { id: { S: 'a' } },
      UpdateExpression: 'SET #n = :n',
      ExpressionAttributeNames: { '#n': 'n' },
      ExpressionAttributeValues: { ':n': { N: '2' } },
    }),
  );
  await client.send(new DeleteItemCommand({ TableName: 'stream-check', Key: { id: { S: 'a' } } }));

  const records = await readStream(streams, await latestStreamArn(client, 'stream-check'));
  assert.deepEqual(
    records.map((r) => r.eventName),
    ['INSERT', 'MODIFY', 'REMOVE'],
  );
  assert.deepEqual(records[1]?.dynamodb?.OldImage?.['n'], { N: '1' });
  assert.deepEqual(records[1]?.dynamodb?.NewImage?.['n'], { N: '2' });
  assert.equal(records[2]?.dynamodb?.NewImage, undefined);
});

describe('compareTables on tables scanned from DynamoDB Local', () => {
  const SOURCE = 'cmp-source';
  const COPY = 'cmp-copy';
  let snapshot: Map<string, AttributeMap>;
  const touched = new Set<string>();
  const keyOf = (id: string): AttributeMap => ({ id: { S: id } });
  const keyText = (id: string): string => keyString(keyOf(id), ['id']);

  const put = async (table: string, item: AttributeMap): Promise<void> => {
    touched.add(item['id']!.S!);
    await local.client.send(new PutItemCommand({ TableName: table, Item: item }));
  };
  /** UpdateItem SET keeps a number's spelling ("1.50"), where PutItem normalizes it (semantics doc §8). */
  const set = async (table: string, id: string, name: string, value: AttributeValue): Promise<void> => {
    touched.add(id);
    await local.client.send(
      new UpdateItemCommand({
        TableName: table,
        Key: keyOf(id),
        UpdateExpression: 'SET #a = :v',
        ExpressionAttributeNames: { '#a': name },
        ExpressionAttributeValues: { ':v': value },
      }),
    );
  };
  const compare = async () => compareTables(await scanAll(local.client, SOURCE), await scanAll(local.client, COPY), ['id']);

  before(async () => {
    const { client } = local;
    for (const name of [SOURCE, COPY]) await createTable(client, { name, partitionKey: { name: 'id', type: 'S' } });
    await seedItems(client, SOURCE, 100, mulberry32(7));
    const items = await scanAll(client, SOURCE);
    await putAll(client, COPY, items);
    snapshot = new Map(items.map((item) => [item['id']!.S!, item]));
  });

  afterEach(async () => {
    for (const id of touched) {
      for (const table of [SOURCE, COPY]) {
        const original = snapshot.get(id);
        if (original) await local.client.send(new PutItemCommand({ TableName: table, Item: original }));
        else await local.client.send(new DeleteItemCommand({ TableName: table, Key: keyOf(id) }));
      }
    }
    touched.clear();
    const diff = await compare();
    assert.ok(isEmptyDiff(diff), `restore failed: ${formatDiff(diff)}`);
  });

  test('a copied table compares identical', async () => {
    const diff = await compare();
    assert.equal(snapshot.size, 100);
    assert.ok(isEmptyDiff(diff), formatDiff(diff));
  });

  test('catches a missing item', async () => {
    touched.add('item-000003');
    await local.client.send(new DeleteItemCommand({ TableName: COPY, Key: keyOf('item-000003') }));
    assert.deepEqual(await compare(), { missing: [keyText('item-000003')], extra: [], differing: [] });
  });

  test('catches an extra item', async () => {
    await put(COPY, { ...snapshot.get('item-000004')!, id: { S: 'item-999999' } });
    assert.deepEqual(await compare(), { missing: [], extra: [keyText('item-999999')], differing: [] });
  });

  const differsOnlyAt = async (id: string, paths: string[]): Promise<void> => {
    const diff = await compare();
    assert.deepEqual(diff.missing, []);
    assert.deepEqual(diff.extra, []);
    assert.deepEqual(
      diff.differing.map((d) => [d.key, d.paths]),
      [[keyText(id), paths]],
      formatDiff(diff),
    );
  };

  test('catches a changed string attribute', async () => {
    await set(COPY, 'item-000005', 'grp', { S: 'zulu' });
    await differsOnlyAt('item-000005', ['grp']);
  });

  test('catches a removed attribute', async () => {
    const { empty: _removed, ...rest } = snapshot.get('item-000006')!;
    await put(COPY, rest);
    await differsOnlyAt('item-000006', ['empty']);
  });

  test('catches a changed number: 1.5 vs 1.6', async () => {
    await set(SOURCE, 'item-000007', 'price', { N: '1.5' });
    await set(COPY, 'item-000007', 'price', { N: '1.6' });
    await differsOnlyAt('item-000007', ['price']);
  });

  test('treats 1.50 and 1.5 as equal', async () => {
    await set(SOURCE, 'item-000008', 'price', { N: '1.5' });
    await set(COPY, 'item-000008', 'price', { N: '1.50' });
    const raw = async (table: string) => (await scanAll(local.client, table)).find((i) => i['id']?.S === 'item-000008')?.['price']?.N;
    // Local keeps the literal from UpdateItem, so this exercises numeric (not textual) comparison.
    assert.deepEqual([await raw(SOURCE), await raw(COPY)], ['1.5', '1.50']);
    const diff = await compare();
    assert.ok(isEmptyDiff(diff), formatDiff(diff));
  });

  test('catches 38-digit numbers that differ only in the last digit', async () => {
    const a = '12345678901234567890123456789012345678';
    const b = '12345678901234567890123456789012345679';
    assert.equal(Number(a), Number(b)); // a float comparison would miss this
    await set(SOURCE, 'item-000009', 'big', { N: a });
    await set(COPY, 'item-000009', 'big', { N: b });
    await differsOnlyAt('item-000009', ['big']);
  });

  test('catches a changed set member', async () => {
    await set(SOURCE, 'item-000010', 'tags', { SS: ['a', 'b', 'c'] });
    await set(COPY, 'item-000010', 'tags', { SS: ['a', 'b', 'd'] });
    await differsOnlyAt('item-000010', ['tags']);
  });

  test('ignores set order and number spelling inside sets', async () => {
    await set(SOURCE, 'item-000011', 'tags', { SS: ['a', 'b', 'c'] });
    await set(COPY, 'item-000011', 'tags', { SS: ['c', 'a', 'b'] });
    await set(SOURCE, 'item-000011', 'nums', { NS: ['1.5', '2', '10'] });
    await set(COPY, 'item-000011', 'nums', { NS: ['10', '2.0', '1.50'] });
    const diff = await compare();
    assert.ok(isEmptyDiff(diff), formatDiff(diff));
  });

  test('catches one changed byte in a binary attribute', async () => {
    await set(SOURCE, 'item-000012', 'bin', { B: Uint8Array.from([0, 1, 2, 3]) });
    await set(COPY, 'item-000012', 'bin', { B: Uint8Array.from([0, 1, 2, 4]) });
    await differsOnlyAt('item-000012', ['bin']);
  });

  test('catches a change deep inside a nested map', async () => {
    const inner = (n: string): AttributeValue => ({ M: { list: { L: [{ S: 'x' }, { M: { n: { N: n } } }] } } });
    await set(SOURCE, 'item-000013', 'nested', inner('1'));
    await set(COPY, 'item-000013', 'nested', inner('2'));
    await differsOnlyAt('item-000013', ['nested.list[1].n']);
  });
});

describe('seeded workload', () => {
  test('seedItems writes exactly the generated items, with numbers and bytes intact', async () => {
    await createTable(local.client, { name: 'wl-seed', partitionKey: { name: 'id', type: 'S' } });
    await seedItems(local.client, 'wl-seed', 250, mulberry32(42));
    const diff = compareTables(generateSeedItems(250, mulberry32(42)), await scanAll(local.client, 'wl-seed'), ['id']);
    assert.ok(isEmptyDiff(diff), formatDiff(diff));
  });

  test('the same seed plans the same operations; another seed does not', () => {
    const plan = (seed: number) => {
      const rng = mulberry32(seed);
      return Array.from({ length: 300 }, () => nextOperation(rng, 500));
    };
    assert.deepEqual(plan(99), plan(99));
    assert.notDeepEqual(plan(99), plan(100));
  });

  test('runs every operation type for ~2 s, changes the table, and feeds the stream', async (t) => {
    const { client, streams } = local;
    const table = 'wl-live';
    await createTable(client, { name: table, partitionKey: { name: 'id', type: 'S' }, streamViewType: 'NEW_AND_OLD_IMAGES' });
    const rng = mulberry32(2024);
    await seedItems(client, table, 300, rng);
    const seeded = await scanAll(client, table);

    const started = Date.now();
    const counts = await runWorkload(client, table, { rng, durationMs: 2_000, idSpace: 600, concurrency: 4 });
    const elapsed = Date.now() - started;
    t.diagnostic(`workload: ${JSON.stringify(counts)} in ${elapsed} ms`);

    assert.ok(elapsed >= 2_000 && elapsed < 10_000, `ran ${elapsed} ms`);
    const kinds: OpKind[] = ['put', 'increment', 'moveGroup', 'removeAttribute', 'addToSet', 'delete', 'deleteRecreate', 'transact'];
    for (const kind of kinds) assert.ok(counts[kind] > 0, `no ${kind} operations: ${JSON.stringify(counts)}`);
    assert.equal(
      kinds.reduce((n, k) => n + counts[k], 0),
      counts.total,
    );

    const diff = compareTables(seeded, await scanAll(client, table), ['id']);
    assert.ok(diff.missing.length > 0, 'no seeded item was deleted');
    assert.ok(diff.extra.length > 0, 'no new id was inserted');
    assert.ok(diff.differing.length > 0, 'no item was modified');

    const events = new Set((await readStream(streams, await latestStreamArn(client, table))).map((r) => r.eventName));
    assert.deepEqual([...events].sort(), ['INSERT', 'MODIFY', 'REMOVE']);
  });

  test('stops at maxOps, and promptly when its signal aborts', async () => {
    const { client } = local;
    await createTable(client, { name: 'wl-stop', partitionKey: { name: 'id', type: 'S' } });
    const capped = await runWorkload(client, 'wl-stop', { rng: mulberry32(1), maxOps: 50, idSpace: 100 });
    assert.equal(capped.total, 50);

    const started = Date.now();
    await runWorkload(client, 'wl-stop', { rng: mulberry32(2), idSpace: 100, signal: AbortSignal.timeout(300) });
    assert.ok(Date.now() - started < 2_000, `took ${Date.now() - started} ms to stop`);
  });
});

async function putAll(client: DynamoDBClient, table: string, items: AttributeMap[]): Promise<void> {
  for (let i = 0; i < items.length; i += 25) {
    let pending: WriteRequest[] = items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } }));
    while (pending.length > 0) {
      const out = await client.send(new BatchWriteItemCommand({ RequestItems: { [table]: pending } }));
      pending = out.UnprocessedItems?.[table] ?? [];
    }
  }
}

/** Every record currently in the stream's shards (Local has one shard per stream). */
async function readStream(streams: DynamoDBStreamsClient, streamArn: string): Promise<StreamRecord[]> {
  const { StreamDescription } = await streams.send(new DescribeStreamCommand({ StreamArn: streamArn }));
  const records: StreamRecord[] = [];
  for (const shard of StreamDescription?.Shards ?? []) {
    let iterator = (
      await streams.send(new GetShardIteratorCommand({ StreamArn: streamArn, ShardId: shard.ShardId, ShardIteratorType: 'TRIM_HORIZON' }))
    ).ShardIterator;
    while (iterator) {
      const page = await streams.send(new GetRecordsCommand({ ShardIterator: iterator }));
      records.push(...(page.Records ?? []));
      // An open shard always returns a next iterator; an empty page means we caught up.
      if (!page.Records?.length) break;
      iterator = page.NextShardIterator;
    }
  }
  return records;
}
