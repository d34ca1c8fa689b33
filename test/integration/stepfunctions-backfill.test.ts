/**
 * The Step Functions backfill's task handlers against DynamoDB Local, with the state in a DynamoDB-Local-hosted state
 * table: Prepare's state layout, a segment continued across invocations by a tiny time budget, segment leases, the
 * shared rate budget, Complete's gate, and the state store's guarantees (done never reverts, idempotent dead letters,
 * an exclusive lock that expires).
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeTableCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { loadConfig } from '../../src/config/load-config.js';
import type { ResolvedConfig } from '../../src/config/resolved-config.js';
import { createStateTable, DynamoDbStateStore, SegmentLeasedError } from '../../src/state/dynamodb-state-store.js';
import { createBackfillTasks, type BackfillTasks } from '../../src/runners/stepfunctions/tasks.js';
import type { SegmentInput } from '../../src/runners/stepfunctions/types.js';
import { createTable, latestStreamArn, withDynamoDbLocal } from '../support/dynamodb-local.js';
import { compareTables, formatDiff, isEmptyDiff, scanAll } from '../support/independent-scan.js';
import { mulberry32, seedItems } from '../support/workload.js';
import { captureOutput, expectedTargets, writeMigrationConfig } from '../fixtures/lambda/migration-fixture.js';
import { runBackfillStateMachine } from '../fixtures/lambda/state-machine.js';

const local = withDynamoDbLocal();
const STATE_TABLE = 'dynashift_state';
const ITEMS = 600;
let config: ResolvedConfig;
let tasks: BackfillTasks;
const out = captureOutput();
const store = (extra: Partial<ConstructorParameters<typeof DynamoDbStateStore>[0]> = {}): DynamoDbStateStore =>
  new DynamoDbStateStore({ client: local.client, table: STATE_TABLE, migration: config.name, ...extra });

// Hooks of a suite run after the file-level DynamoDB Local hook has finished.
describe('Step Functions backfill tasks', () => {
  before(async () => {
    await createTable(local.client, { name: 'src', partitionKey: { name: 'id', type: 'S' }, streamViewType: 'NEW_AND_OLD_IMAGES' });
    await seedItems(local.client, 'src', ITEMS, mulberry32(11));
    await createStateTable(local.client, STATE_TABLE);
    const dir = mkdtempSync(join(tmpdir(), 'dynashift-sfn-'));
    config = await loadConfig(
      writeMigrationConfig(dir, { name: 'sfn', endpoint: local.endpoint, segments: 4, concurrency: 2, pageSize: 50, maxReadUnitsPerSecond: 400 }),
    );
    tasks = createBackfillTasks({ config, stateTable: STATE_TABLE, stateClient: local.client, write: out.write });
  });

  test('prepare opens the stream position before the snapshot, creates the targets and writes one item per segment', async () => {
    const prepared = await tasks.prepare({});
    assert.equal(prepared.resumed, false);
    assert.deepEqual(
      prepared.segments.map((s) => s.segment),
      [0, 1, 2, 3],
    );
    assert.ok(prepared.segments.every((s) => s.source === 'source' && s.totalSegments === 4));

    const state = (await store().load())!;
    const src = state.sources.source!;
    assert.equal(state.phase, 'backfilling');
    assert.equal(src.stream.streamArn, await latestStreamArn(local.client, 'src'));
    assert.ok(Date.parse(src.stream.openedAt) <= Date.parse(src.backfill.startedAt!), 'the stream position is opened before the snapshot starts');
    assert.equal(src.stream.skipBefore, Date.parse(src.backfill.startedAt!) - 5 * 60_000);
    assert.deepEqual(Object.keys(src.backfill.partitions).sort(), ['0', '1', '2', '3']);

    const keys = (
      await local.client.send(
        new QueryCommand({ TableName: STATE_TABLE, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': { S: 'sfn' } } }),
      )
    )
      .Items!.map((i) => i.sk!.S!)
      .sort();
    // spool#source: the stream handler spools into it while the backfill runs (stream.duringBackfill, the default).
    assert.deepEqual(keys, ['runtime', 'segment#source#0', 'segment#source#1', 'segment#source#2', 'segment#source#3', 'spool#source', 'state']);
    assert.equal(
      (await new DynamoDbStateStore({ client: local.client, table: STATE_TABLE, migration: 'sfn' }).spool().control('source'))?.mode,
      'spooling',
    );
    for (const table of ['dst_by_group', 'dst_flags']) {
      assert.equal((await local.client.send(new DescribeTableCommand({ TableName: table }))).Table?.TableStatus, 'ACTIVE');
    }
  });

  test('shared rate limit: each child gets the read budget divided by the Map concurrency', async () => {
    const runtime = (await store().loadRuntime())!;
    assert.equal(runtime.segmentReadUnitsPerSecond.source, 400 / 2);
    assert.equal(runtime.segmentWriteUnitsPerSecond, null, 'no write cap configured');
    assert.deepEqual(runtime.targetKeys.byGroup, { partitionKey: { name: 'grp', type: 'S' }, sortKey: { name: 'id', type: 'S' } });
  });

  test('prepare run again resumes: same stream position, same checkpoints', async () => {
    const before = (await store().load())!;
    const again = await tasks.prepare({});
    assert.equal(again.resumed, true);
    const after = (await store().load())!;
    assert.equal(after.sources.source!.stream.openedAt, before.sources.source!.stream.openedAt);
    assert.equal(after.sources.source!.stream.skipBefore, before.sources.source!.stream.skipBefore);
  });

  test('backfillSegment continues one segment across invocations, one page per tiny time budget, checkpointing each', async () => {
    let input: SegmentInput = { source: 'source', segment: 0, totalSegments: 4, timeBudgetMs: 1 };
    let invocations = 0;
    let items = 0;
    for (;;) {
      const res = await tasks.backfillSegment(input);
      invocations++;
      assert.ok(res.pages <= 1, 'a 1 ms budget stops after the first page');
      assert.ok(res.items >= items, 'the segment count never goes back');
      items = res.items;
      const cp = (await store().load())!.sources.source!.backfill.partitions['0']!;
      assert.equal(cp.done, res.done);
      assert.deepEqual(cp.cursor ?? null, res.cursor, 'the state table holds the cursor the task returned');
      if (res.done) break;
      assert.ok(invocations < 50, 'segment 0 never finished');
      input = { ...res, timeBudgetMs: 1 };
    }
    assert.ok(invocations > 2, `continuation was exercised (${invocations} invocations)`);
    assert.ok(items > 0);
  });

  test('a segment leased by a running invocation is refused (SegmentLeasedError) until its lease expires', async () => {
    const holder = store({ owner: 'running-invocation' });
    await holder.acquireSegment('source', '1', 60_000);
    await assert.rejects(
      tasks.backfillSegment({ source: 'source', segment: 1, totalSegments: 4 }),
      (err: Error) => err.name === 'SegmentLeasedError',
    );
    // A successor whose clock is past the lease takes it over; the old holder can then no longer checkpoint.
    const successor = store({ owner: 'successor', now: () => Date.now() + 120_000 });
    await successor.acquireSegment('source', '1', 1_000);
    await assert.rejects(holder.checkpointSegment('source', '1', { done: false, items: 1 }), SegmentLeasedError);
    await successor.releaseSegment('source', '1');
  });

  test('complete refuses while segments remain; after the map finishes it marks the backfill complete and target = transform(source)', async () => {
    const early = await tasks.complete({});
    assert.equal(early.complete, false);
    assert.equal(early.enableStreamMapping, false);
    assert.deepEqual(
      early.pending.map((p) => ('segment' in p ? p.segment : p.file)),
      [1, 2, 3],
    );

    const run = await runBackfillStateMachine(tasks, { concurrency: 2, timeBudgetMs: 1 });
    assert.deepEqual(
      run.prepare.segments.map((s) => s.segment),
      [1, 2, 3],
      'a re-run copies only the segments not done',
    );
    assert.equal(run.complete.complete, true);
    assert.equal(run.complete.enableStreamMapping, true);
    const state = (await store().load())!;
    assert.ok(state.sources.source!.backfill.completedAt);
    assert.equal(state.phase, 'catching-up');
    assert.equal(state.sources.source!.backfill.itemsWritten, ITEMS);

    const expected = expectedTargets(await scanAll(local.client, 'src'));
    const byGroup = compareTables(expected.byGroup, await scanAll(local.client, 'dst_by_group'), ['grp', 'id']);
    const flags = compareTables(expected.flags, await scanAll(local.client, 'dst_flags'), ['id']);
    assert.ok(isEmptyDiff(byGroup), formatDiff(byGroup));
    assert.ok(isEmptyDiff(flags), formatDiff(flags));
    assert.ok(out.metrics().ItemsCopied === ITEMS, `EMF ItemsCopied ${out.metrics().ItemsCopied}`);
    assert.ok(out.lines().some((l) => l.message === 'segment copied' && l.migration === 'sfn'));
  });

  test('a finished segment never becomes unfinished: a late checkpoint and a stale save are refused', async () => {
    const late = store({ owner: 'late-invocation' });
    const cp = await late.acquireSegment('source', '2', 60_000);
    assert.equal(cp.done, true);
    await assert.rejects(
      late.checkpointSegment('source', '2', { done: false, items: 0, cursor: { lastEvaluatedKey: { id: { S: 'x' } } } }),
      SegmentLeasedError,
    );
    await late.releaseSegment('source', '2');
    const stale = (await store().load())!;
    stale.sources.source!.backfill.partitions['2'] = { done: false, items: 0, cursor: { lastEvaluatedKey: { id: { S: 'x' } } } };
    await store().save(stale);
    assert.equal((await store().load())!.sources.source!.backfill.partitions['2']!.done, true);
  });

  test('dead letters land once per failure however often it is retried', async () => {
    const entry = {
      at: new Date().toISOString(),
      stage: 'stream' as const,
      source: 'source',
      sourceKey: { id: { S: 'dup' } },
      sequenceNumber: '42',
      error: { code: 'TRANSFORM_FAILED', message: 'boom' },
    };
    await store().appendDeadLetters([entry, { ...entry, at: 'later' }]);
    await store().appendDeadLetters([entry]);
    assert.equal((await store().deadLetters()).length, 1);
    assert.equal((await store().load())!.deadLetters, 1);
  });

  test("the migration lock is exclusive, and a dead holder's lease expires", async () => {
    const a = await store({ owner: 'a', lockLeaseMs: 60_000 }).lock();
    await assert.rejects(store({ owner: 'b' }).lock(), (err: { code?: string }) => err.code === 'STATE_LOCKED');
    const c = await store({ owner: 'c', now: () => Date.now() + 120_000 }).lock();
    await c.release();
    await a.release();
    const d = await store({ owner: 'd' }).lock();
    await d.release();
  });
});
