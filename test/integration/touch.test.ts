/**
 * The touch strategy on a live table: touchAll + removeMarkers under a concurrent workload with deletes never
 * re-create a deleted item, every item present at the end appears in the stream after touching began, and no item
 * keeps the marker. Deletes racing the touch are also forced deterministically (a key is deleted between the scan
 * that read it and its UpdateItem), so the "deleted meanwhile" path is always exercised.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { DeleteItemCommand, UpdateItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DescribeStreamCommand, GetRecordsCommand, GetShardIteratorCommand, type _Record as StreamRecord } from '@aws-sdk/client-dynamodb-streams';
import { systemClock } from '../../src/core/clock.js';
import type { KeySchema } from '../../src/core/item.js';
import { RateLimiter } from '../../src/core/rate-limiter.js';
import {
  estimateTouchCost,
  removeMarkers,
  stripTouchMarker,
  touchAll,
  TOUCH_MARKER_ATTRIBUTE,
  type TouchState,
} from '../../src/sources/touch/index.js';
import { createTable, latestStreamArn, withDynamoDbLocal } from '../support/dynamodb-local.js';
import { scanAll } from '../support/independent-scan.js';
import { mulberry32, runWorkload, seedItems } from '../support/workload.js';

const local = withDynamoDbLocal();
const KEY: KeySchema = { partitionKey: { name: 'id', type: 'S' } };
const TABLE = 'touched';
const SEEDED = 500;

/** Every record of the table's stream (Local has one shard; an empty page means caught up). */
async function readStream(): Promise<StreamRecord[]> {
  const arn = await latestStreamArn(local.client, TABLE);
  const { StreamDescription } = await local.streams.send(new DescribeStreamCommand({ StreamArn: arn }));
  const records: StreamRecord[] = [];
  for (const shard of StreamDescription?.Shards ?? []) {
    let iterator = (
      await local.streams.send(new GetShardIteratorCommand({ StreamArn: arn, ShardId: shard.ShardId, ShardIteratorType: 'TRIM_HORIZON' }))
    ).ShardIterator;
    while (iterator) {
      const page = await local.streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }));
      records.push(...(page.Records ?? []));
      if (!page.Records?.length) break;
      iterator = page.NextShardIterator;
    }
  }
  return records;
}

/**
 * The client touch uses, with a deterministic race: before the touch UpdateItem of every 13th key, that item is
 * deleted (as if the application deleted it right after the scan read its key). Optionally aborts after N updates.
 */
function racingClient(
  inner: DynamoDBClient,
  opts: { deleted: Set<string>; abortAfter?: { count: number; controller: AbortController } },
): DynamoDBClient {
  let updates = 0;
  return {
    send: async (command: unknown, options?: unknown) => {
      if (command instanceof UpdateItemCommand && command.input.UpdateExpression?.startsWith('SET')) {
        updates++;
        const id = command.input.Key!['id']!.S!;
        if (updates % 13 === 0) {
          await inner.send(new DeleteItemCommand({ TableName: TABLE, Key: { id: { S: id } } }));
          opts.deleted.add(id);
        }
        if (opts.abortAfter && updates === opts.abortAfter.count) opts.abortAfter.controller.abort();
      }
      return (inner.send as (c: unknown, o?: unknown) => Promise<unknown>)(command, options);
    },
  } as unknown as DynamoDBClient;
}

describe('touch', () => {
  before(async () => {
    await createTable(local.client, { name: TABLE, partitionKey: { name: 'id', type: 'S' }, streamViewType: 'NEW_AND_OLD_IMAGES' });
    await seedItems(local.client, TABLE, SEEDED, mulberry32(9));
  });

  test('touchAll + removeMarkers under a live workload with deletes: nothing re-created, every item in the stream, no marker left', async (t) => {
    const started = Date.now();
    const beforeTouch = await readStream();
    const lastBefore = beforeTouch.reduce((max, r) => (BigInt(r.dynamodb!.SequenceNumber!) > max ? BigInt(r.dynamodb!.SequenceNumber!) : max), 0n);

    const stopWorkload = new AbortController();
    const workload = runWorkload(local.client, TABLE, { rng: mulberry32(10), idSpace: 650, concurrency: 3, signal: stopWorkload.signal });

    // First touch run is interrupted part-way (a stop, a crash); the second resumes from the per-segment checkpoints.
    const deleted = new Set<string>();
    const interrupted = new AbortController();
    const state: TouchState = { segments: {} };
    let checkpoints = 0;
    const common = { table: TABLE, keySchema: KEY, segments: 4, writeConcurrency: 8, state, onCheckpoint: () => void checkpoints++, pageSize: 100 };
    const tA = Date.now();
    const first = await touchAll({
      ...common,
      client: racingClient(local.client, { deleted, abortAfter: { count: 200, controller: interrupted } }),
      signal: interrupted.signal,
    });
    assert.equal(first.complete, false, 'the first run was interrupted');
    const second = await touchAll({ ...common, client: racingClient(local.client, { deleted }), limiter: new RateLimiter(5000, systemClock) });
    assert.equal(second.complete, true);
    assert.notEqual(first.token, second.token, 'a resumed touch writes a fresh token (an unchanged SET emits no stream record)');
    assert.ok(
      second.skipped >= deleted.size - 1,
      `items deleted between scan and update are skipped (${second.skipped} skipped, ${deleted.size} forced)`,
    );
    assert.ok(checkpoints > 0);

    const tB = Date.now();
    const removal = await removeMarkers({ client: local.client, table: TABLE, keySchema: KEY, segments: 4, writeConcurrency: 8 });
    assert.equal(removal.complete, true);
    const tC = Date.now();
    stopWorkload.abort();
    const counts = await workload;
    assert.ok(counts.delete + counts.deleteRecreate > 0, 'the workload deleted items during the touch');

    // 1. Nothing was re-created: every item still has the attributes the seed and the workload always write, and
    //    no stream record after the touch began inserted an item without them.
    const tD = Date.now();
    const items = await scanAll(local.client, TABLE);
    const stubs = items.filter((i) => i['grp'] === undefined || i['v'] === undefined);
    assert.deepEqual(stubs, [], 'items re-created by the touch (they lack grp/v)');
    const after = (await readStream()).filter((r) => BigInt(r.dynamodb!.SequenceNumber!) > lastBefore);
    const badInserts = after.filter((r) => r.eventName === 'INSERT' && r.dynamodb?.NewImage?.['grp'] === undefined);
    assert.deepEqual(
      badInserts.map((r) => r.dynamodb?.Keys),
      [],
    );
    const raceSurvivors = items.filter((i) => deleted.has(i['id']!.S!));
    for (const i of raceSurvivors) assert.ok(i['grp'], `${i['id']!.S} exists again only because the workload re-put it`);

    // 2. Every item present at the end has a stream record from after touching began.
    const inStream = new Set(after.map((r) => r.dynamodb!.Keys!['id']!.S!));
    const missing = items.map((i) => i['id']!.S!).filter((id) => !inStream.has(id));
    assert.deepEqual(missing, []);

    // 3. No item keeps the marker.
    assert.deepEqual(
      items.filter((i) => i[TOUCH_MARKER_ATTRIBUTE] !== undefined).map((i) => i['id']!.S),
      [],
    );
    t.diagnostic(
      `${items.length} items at the end; touch: ${first.written + second.written} written, ${second.skipped + first.skipped} deleted meanwhile (${deleted.size} forced); removal: ${removal.written}; workload ${counts.total} ops; ${Date.now() - started} ms (setup ${tA - started}, touch ${tB - tA}, removal ${tC - tB}, stop ${tD - tC}, checks ${Date.now() - tD})`,
    );
  });

  test('stripTouchMarker removes the marker from both images and leaves other records untouched', () => {
    const keys = { id: { S: 'a' } };
    const touched = {
      sequenceNumber: '1',
      eventName: 'MODIFY',
      keys,
      oldImage: { ...keys, v: { N: '1' } },
      newImage: { ...keys, v: { N: '1' }, [TOUCH_MARKER_ATTRIBUTE]: { S: 't' } },
    };
    assert.deepEqual(stripTouchMarker(touched), { ...touched, newImage: { ...keys, v: { N: '1' } } });
    const plain = { sequenceNumber: '2', eventName: 'REMOVE', keys, oldImage: keys };
    assert.equal(stripTouchMarker(plain), plain);
  });

  test('estimateTouchCost: 2 passes × ceil(size / 1 KB) per item, with the marker counted', () => {
    assert.deepEqual(estimateTouchCost(1000, 500), { writeUnits: 2000, readUnits: 133, streamRecords: 2000 });
    // 1,000 bytes + the marker crosses 1 KB: two units per write.
    assert.equal(estimateTouchCost(10, 1000).writeUnits, 40);
    assert.equal(estimateTouchCost(0, 1000).writeUnits, 0);
  });
});
