/**
 * A migration run by the AWS runner (the Step Functions tasks and the stream handler, driven as in
 * lambda-spool-end-to-end.test.ts) is operated with the real CLI against its state table (config `state.table`):
 *
 * - during the backfill, `status` shows the phase, the segments, the spool's mode and size and the records the stream
 *   handler spooled, and `cutover reads` refuses (NOT_IN_SYNC, the backfill);
 * - once live, `cutover reads` refuses while the handler has no recent evidence (the mapping paused), then succeeds;
 * - `cutover writes` waits for the handler to drain the source, the application then writes the target, and
 *   `rollback` applies those writes to the source (reverse replication in the CLI process) before the handler resumes:
 *   nothing is lost, and target = transform(source), by the independent scanner.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteItemCommand, PutItemCommand, UpdateItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { loadConfig } from '../../src/config/load-config.js';
import { createStreamHandler } from '../../src/runners/lambda/stream-handler.js';
import { createBackfillTasks } from '../../src/runners/stepfunctions/tasks.js';
import { createStateTable, DynamoDbStateStore } from '../../src/state/dynamodb-state-store.js';
import { createTable, latestStreamArn, withDynamoDbLocal } from '../support/dynamodb-local.js';
import { runCli } from '../support/cli.js';
import { compareTables, formatDiff, isEmptyDiff, scanAll } from '../support/independent-scan.js';
import { mulberry32, runWorkload, seedItems } from '../support/workload.js';
import { writeLifecycleMigration } from '../support/lifecycle-migration.js';
import { LocalEventSourceMapping } from '../fixtures/lambda/event-source-mapping.js';
import { captureOutput } from '../fixtures/lambda/migration-fixture.js';
import { runBackfillStateMachine } from '../fixtures/lambda/state-machine.js';

const local = withDynamoDbLocal({ startTimeoutMs: 180_000 });
const STATE_TABLE = 'dynashift_state';
const ITEMS = 500;
const EVIDENCE_SECONDS = 6;

test(
  'a runner-managed migration is operated by the CLI: status during the spool, cutover refused until in sync, rollback brings every target write back to the source',
  { timeout: 900_000 },
  async () => {
    const { client, endpoint } = local;
    await createTable(client, { name: 'orders', partitionKey: { name: 'id', type: 'S' }, streamViewType: 'NEW_AND_OLD_IMAGES' });
    await seedItems(client, 'orders', ITEMS, mulberry32(5));
    await createStateTable(client, STATE_TABLE);
    const dir = mkdtempSync(join(tmpdir(), 'dynashift-runner-ops-'));
    const cfg = writeLifecycleMigration(dir, {
      name: 'runner-ops',
      endpoint,
      backfill: { segments: 4, concurrency: 2, pageSize: 25, maxReadUnitsPerSecond: 150 },
    });
    // DynamoDB Local rounds ApproximateCreationDateTime to the minute, so a record at the tip can look a minute old.
    const json = JSON.parse(readFileSync(cfg, 'utf8')) as Record<string, unknown>;
    json.state = { table: STATE_TABLE, endpoint, region: 'us-east-1', maxLagSeconds: 150, evidenceSeconds: EVIDENCE_SECONDS, cacheSeconds: 1 };
    writeFileSync(cfg, JSON.stringify(json, null, 2));
    const config = await loadConfig(cfg);
    const store = new DynamoDbStateStore({ client, table: STATE_TABLE, migration: config.name });

    const out = captureOutput();
    const common = { config, stateTable: STATE_TABLE, stateClient: client, write: out.write };
    const tasks = createBackfillTasks(common);
    const handler = createStreamHandler(common);
    const esm = new LocalEventSourceMapping({
      streams: local.streams,
      streamArn: await latestStreamArn(client, 'orders'),
      handler,
      batchSize: 100,
      // Returned batches (the handoff; forward paused while rollback replays the target) are delivered again.
      maxRetries: 1_000_000,
      retryDelayMs: 100,
    });
    let paused = false;
    let stopEsm = false;
    let mapping: Promise<void> | undefined;
    const poll = async (): Promise<void> => {
      while (!stopEsm) {
        if (!paused) await esm.drain();
        await sleep(50);
      }
    };
    const stopWorkload = new AbortController();
    const workload = runWorkload(client, 'orders', {
      rng: mulberry32(11),
      idSpace: Math.round(ITEMS * 1.2),
      concurrency: 2,
      signal: stopWorkload.signal,
    });
    const cli = async (...args: string[]) => runCli([...args, '-c', cfg], { timeoutMs: 300_000 });
    const t0 = Date.now();
    const mark = (what: string) => console.log(`# ${what} after ${Date.now() - t0} ms`);

    try {
      const backfill = runBackfillStateMachine(tasks, {
        concurrency: 2,
        timeBudgetMs: 1,
        onPrepared: () => {
          mapping = poll();
          mapping.catch(() => {});
        },
        replay: { timeBudgetMs: 50, handoffBelow: 5 },
      });
      backfill.catch(() => {});

      // During the backfill: the handler spools, status says so, cutover refuses.
      await until(async () => ((await store.streamProgress())[0]?.spooledRecords ?? 0) > 0, 300_000, 'the stream handler spooled a batch');
      const during = await cli('status', '--json');
      assert.equal(during.code, 0, during.stderr);
      const report = JSON.parse(during.stdout) as Record<string, any>;
      mark(`status during the backfill: ${JSON.stringify(report.aws)}`);
      assert.equal(report.phase, 'backfilling', during.stdout);
      assert.equal(report.backfill[0].segments, 4, during.stdout);
      assert.ok(report.backfill[0].segmentsDone < 4 && report.backfill[0].complete === false, during.stdout);
      assert.equal(report.aws.sources[0].spool.mode, 'spooling', during.stdout);
      assert.ok(report.aws.sources[0].recordsSpooled > 0 && report.aws.sources[0].spool.keys > 0, during.stdout);
      assert.equal(report.safeToCutOver, false);
      const text = await cli('status');
      assert.match(text.stdout, /spool source: spooling, [\d,]+ key\(s\) to replay/);
      assert.match(text.stdout, /stream source \(stream handler\): \d+ records applied, [\d,]+ spooled, lag /);
      mark('status text');
      const early = await cli('cutover', 'reads');
      assert.equal(early.code, 2, early.stdout + early.stderr);
      assert.match(early.stderr, /NOT_IN_SYNC/);
      // Which of the two depends on how far the backfill got while the CLI started: both say the spool isn't live yet.
      assert.match(early.stdout + early.stderr, /backfill of source source is not complete|spool of source source is in mode (spooling|handoff)/);

      mark('cutover reads refused during the backfill');
      const run = await backfill;
      mark('backfill and replay done');
      assert.ok(run.replays.at(-1)?.done, 'the replay went live');
      // The handler applies live batches under the workload.
      const liveSince = Date.now();
      await until(async () => ((await store.streamProgress())[0]?.lastAppliedAt ?? 0) > liveSince, 120_000, 'a live batch applied');

      mark('live batches applied');
      // No evidence while the mapping delivers nothing: refused.
      paused = true;
      await sleep((EVIDENCE_SECONDS + 2) * 1000);
      const stale = await cli('cutover', 'reads');
      assert.equal(stale.code, 2, stale.stdout + stale.stderr);
      assert.match(stale.stderr, /NOT_IN_SYNC/);
      assert.match(stale.stdout + stale.stderr, /applied no batch of source source in the last 6 s/);
      mark('cutover reads refused without evidence');
      paused = false;
      const resumed = Date.now();
      await until(async () => ((await store.streamProgress())[0]?.lastAppliedAt ?? 0) > resumed, 120_000, 'a batch applied after the pause');

      const reads = await cli('cutover', 'reads');
      assert.equal(reads.code, 0, reads.stdout + reads.stderr);
      mark('cutover reads');
      assert.equal((await store.peek())!.phase, 'reads-cutover');

      // The application moves its writes: the source goes quiet, and `cutover writes` waits for the handler to drain it.
      stopWorkload.abort();
      const counts = await workload;
      const writes = await cli('cutover', 'writes', '--quiet-seconds', '2');
      assert.equal(writes.code, 0, writes.stdout + writes.stderr);
      assert.match(writes.stdout, /the source is drained/);
      mark(`cutover writes (workload ${counts.total} ops)`);
      const cut = (await store.peek())!;
      assert.equal(cut.phase, 'writes-cutover');
      assert.equal(cut.cutover?.direction, 'reverse');
      assert.ok(cut.cutover?.reverse && Object.keys(cut.cutover.reverse).length === 1, 'reverse positions recorded');
      const sourceBefore = await scanAll(client, 'orders');
      const targetBefore = await scanAll(client, 'orders_v2');
      assert.ok(isEmptyDiff(compareTables(forward(sourceBefore), targetBefore, ['gk', 'id'])), 'in sync when writes moved');

      // The application writes the target: new items, updates, deletes.
      const written = await applicationWrites(client, targetBefore);
      const afterWrites = await cli('status', '--json');
      assert.equal(JSON.parse(afterWrites.stdout).direction, 'reverse', afterWrites.stdout);

      const rollback = await cli('rollback', '--quiet-seconds', '2');
      assert.equal(rollback.code, 0, rollback.stdout + rollback.stderr);
      mark('rollback');
      const back = (await store.peek())!;
      assert.equal(back.phase, 'reads-cutover');
      assert.equal(back.cutover?.direction, 'forward');
      assert.equal(back.cutover?.draining, undefined);

      // The handler applies the source stream again (reverse's own writes come back as no-ops).
      stopEsm = true;
      await mapping;
      await esm.drain();
      await esm.drain();

      const source = await scanAll(client, 'orders');
      for (const item of written.put) {
        const got = source.find((i) => i.id!.S === item.id!.S);
        const { gk: _gk, ...expected } = item;
        assert.deepEqual(got, expected, `the target write to ${item.id!.S} reached the source`);
      }
      for (const id of written.updated)
        assert.equal(source.find((i) => i.id!.S === id)?.note?.S, 'written-on-target', `update of ${id} reached the source`);
      for (const id of written.deleted)
        assert.equal(
          source.find((i) => i.id!.S === id),
          undefined,
          `delete of ${id} reached the source`,
        );
      assert.equal(source.length, sourceBefore.length + written.put.length - written.deleted.length, 'no source item lost or left over');
      const diff = compareTables(forward(source), await scanAll(client, 'orders_v2'), ['gk', 'id']);
      assert.ok(isEmptyDiff(diff), formatDiff(diff));
      const letters = await store.deadLetters();
      assert.equal(letters.length, 0, JSON.stringify(letters));
      console.log(`# esm ${JSON.stringify({ ...esm.stats, failedAt: esm.stats.failedAt.length })}, metrics ${JSON.stringify(out.metrics())}`);
    } finally {
      stopWorkload.abort();
      stopEsm = true;
      await workload.catch(() => {});
      await mapping?.catch(() => {});
    }
  },
);

/** transform(source) for the lifecycle migration: the group becomes the target's partition key. */
function forward(items: Record<string, any>[]) {
  return items.map((i) => ({ ...i, gk: i.grp! }));
}

/** The application's writes to the target after `cutover writes`: a few puts, updates and deletes. */
async function applicationWrites(client: DynamoDBClient, target: Record<string, any>[]) {
  const put = Array.from({ length: 5 }, (_, n) => ({
    gk: { S: 'alpha' },
    id: { S: `after-cutover-${n}` },
    grp: { S: 'alpha' },
    v: { N: String(100 + n) },
  }));
  for (const item of put) await client.send(new PutItemCommand({ TableName: 'orders_v2', Item: item }));
  const updated = target.slice(0, 5).map((i) => i.id!.S as string);
  for (const i of target.slice(0, 5)) {
    await client.send(
      new UpdateItemCommand({
        TableName: 'orders_v2',
        Key: { gk: i.gk!, id: i.id! },
        UpdateExpression: 'SET note = :n',
        ExpressionAttributeValues: { ':n': { S: 'written-on-target' } },
      }),
    );
  }
  const deleted = target.slice(5, 8).map((i) => i.id!.S as string);
  for (const i of target.slice(5, 8)) await client.send(new DeleteItemCommand({ TableName: 'orders_v2', Key: { gk: i.gk!, id: i.id! } }));
  return { put, updated, deleted };
}

async function until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(200);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
