/**
 * The whole lifecycle against DynamoDB Local, as an operator would drive it: a live migration with a writer on the
 * source; cutover reads; cutover writes while the writer switches to the target; the source follows the target by
 * reverse replication; rollback (writes back to the source, forward replication resumes); then cut over again and
 * finish. Both directions are compared item by item with the independent scanner.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteItemCommand, PutItemCommand, UpdateItemCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createTable, withDynamoDbLocal } from '../support/dynamodb-local.js';
import { runCli, spawnCli } from '../support/cli.js';
import { compareTables, formatDiff, isEmptyDiff, scanAll } from '../support/independent-scan.js';
import { mulberry32, runWorkload, seedItems, GROUPS, type Rng } from '../support/workload.js';
import { GROUP_KEY_TRANSFORM, writeLifecycleMigration } from '../support/lifecycle-migration.js';

const local = withDynamoDbLocal();
type Item = Record<string, AttributeValue>;

// Target key (gk, id) with gk = grp: invertible, the inverse just drops gk.

test('live migration, cutover reads and writes, reverse replication, rollback, finish — both directions converge', { timeout: 300_000 }, async () => {
  const { client, endpoint } = local;
  const dir = mkdtempSync(join(tmpdir(), 'dynashift-lifecycle-'));
  await createTable(client, { name: 'orders', partitionKey: { name: 'id', type: 'S' }, streamViewType: 'NEW_AND_OLD_IMAGES' });
  await seedItems(client, 'orders', 400, mulberry32(11));
  const cfg = writeLifecycleMigration(dir, { name: 'lifecycle', endpoint });
  const cli = (...args: string[]) => runCli([...args, '-c', cfg], { timeoutMs: 120_000 });

  // 1. Live migration with the application writing to the source.
  const runner = spawnCli(['run', '-c', cfg, '--no-progress']);
  let stopWriter = new AbortController();
  let writer: Promise<unknown> = runWorkload(client, 'orders', { rng: mulberry32(12), idSpace: 500, concurrency: 2, signal: stopWriter.signal });
  try {
    await waitForStatus(cfg, (s) => s.phase === 'in-sync' && s.safeToCutOver === true, 60_000);

    // A config that can't roll back is refused at `cutover writes`, not silently accepted: checked below via --no-reverse alternative.
    const reads = await cli('cutover', 'reads');
    assert.equal(reads.code, 0, reads.stdout + reads.stderr);
    assert.match(reads.stdout, /reads may now move to the target/);
    assert.equal((await statusJson(cfg)).phase, 'reads-cutover');

    // 2. Writes move: dynashift drains the source, then replicates target → source.
    const writes = await cli('cutover', 'writes', '--quiet-seconds', '2');
    assert.equal(writes.code, 0, writes.stdout + writes.stderr);
    assert.match(writes.stdout, /system of record/);
    // The writer switches to the target (a short overlap is what real deployments look like).
    stopWriter.abort();
    await writer;
    stopWriter = new AbortController();
    writer = targetWriter(client, mulberry32(13), stopWriter.signal);
    await waitForStatus(cfg, (s) => s.direction === 'reverse' && !s.draining, 60_000);
    await sleep(3000);
    stopWriter.abort();
    await writer;
    // The source follows the target: inverse(target) == source.
    await eventually(async () => compareReverse(client), 'source follows the target through reverse replication');
    const reverseVerify = await cli('verify', '--reverse');
    assert.equal(reverseVerify.code, 0, `verify --reverse: ${reverseVerify.stdout}${reverseVerify.stderr}`);

    // 3. Rollback: writes go back to the source; reverse drains, forward resumes.
    const back = await cli('rollback', '--quiet-seconds', '2');
    assert.equal(back.code, 0, back.stdout + back.stderr);
    assert.equal((await statusJson(cfg)).phase, 'reads-cutover');
    await waitForStatus(cfg, (s) => s.direction === 'forward' && !s.draining, 60_000);
    stopWriter = new AbortController();
    writer = runWorkload(client, 'orders', { rng: mulberry32(14), idSpace: 500, concurrency: 2, signal: stopWriter.signal });
    await sleep(3000);
    stopWriter.abort();
    await writer;
    await eventually(async () => compareForward(client), 'target follows the source again after rollback');
    const forwardVerify = await cli('verify');
    assert.equal(forwardVerify.code, 0, `verify: ${forwardVerify.stdout}${forwardVerify.stderr}`);
    const readsBack = await cli('rollback');
    assert.equal(readsBack.code, 0, readsBack.stdout + readsBack.stderr);
    assert.equal((await statusJson(cfg)).phase, 'in-sync');

    // 4. Nothing left to roll back; finish refuses before writes moved.
    const nothing = await cli('rollback');
    assert.equal(nothing.code, 2);
    assert.match(nothing.stdout, /nothing to roll back/);
    const early = await cli('finish');
    assert.equal(early.code, 2);
    assert.match(early.stdout, /finish comes after/);

    // 5. Cut over again and finish: replication stops and the runner exits 0.
    await waitForStatus(cfg, (s) => s.safeToCutOver === true, 60_000);
    assert.equal((await cli('cutover', 'reads')).code, 0);
    assert.equal((await cli('cutover', 'writes', '--quiet-seconds', '1')).code, 0);
    await waitForStatus(cfg, (s) => s.direction === 'reverse' && !s.draining, 60_000);
    const finish = await cli('finish', '--quiet-seconds', '1');
    assert.equal(finish.code, 0, finish.stdout + finish.stderr);
    assert.match(finish.stdout, /migration is finished/);
    const ended = await runner.result;
    assert.equal(ended.code, 0, ended.stderr);
    assert.equal((await statusJson(cfg)).phase, 'finished');
    await compareForward(client).then((d) => assert.ok(isEmptyDiff(d), formatDiff(d)));
  } finally {
    stopWriter.abort();
    await writer.catch(() => undefined);
    if (runner.exitCode === null) runner.kill('SIGKILL');
  }
});

test('cutover writes without an inverse transform is refused with a fix, and --no-reverse works', { timeout: 180_000 }, async () => {
  const { client, endpoint } = local;
  const dir = mkdtempSync(join(tmpdir(), 'dynashift-noinverse-'));
  await createTable(client, { name: 'plain', partitionKey: { name: 'id', type: 'S' }, streamViewType: 'NEW_AND_OLD_IMAGES' });
  await seedItems(client, 'plain', 100, mulberry32(21));
  const cfg = join(dir, 'dynashift.config.json');
  writeFileSync(join(dir, 'transform.mjs'), GROUP_KEY_TRANSFORM);
  writeFileSync(
    cfg,
    JSON.stringify({
      name: 'noinverse',
      source: { table: 'plain', endpoint, region: 'us-east-1' },
      target: {
        table: 'plain_v2',
        endpoint,
        region: 'us-east-1',
        create: { keySchema: { partitionKey: { name: 'gk', type: 'S' }, sortKey: { name: 'id', type: 'S' } } },
      },
      transform: './transform.mjs',
      stream: { pollIntervalMs: 100, discoveryIntervalMs: 500 },
    }),
  );
  const runner = spawnCli(['run', '-c', cfg, '--no-progress']);
  try {
    const notRunning = await runCli(['cutover', 'reads', '-c', join(dir, 'missing.json')]);
    assert.equal(notRunning.code, 2, 'a missing config is a config error');
    await waitForStatus(cfg, (s) => s.safeToCutOver === true, 60_000);
    assert.equal((await runCli(['cutover', 'reads', '-c', cfg])).code, 0);
    const refused = await runCli(['cutover', 'writes', '-c', cfg]);
    assert.equal(refused.code, 2);
    assert.match(refused.stdout, /inverse transform/);
    assert.match(`${refused.stdout}${refused.stderr}`, /--no-reverse/); // the fix line is on stderr
    assert.equal((await statusJson(cfg)).phase, 'reads-cutover', 'a refused cutover changes nothing');
    const oneWay = await runCli(['cutover', 'writes', '--no-reverse', '--quiet-seconds', '1', '-c', cfg]);
    assert.equal(oneWay.code, 0, oneWay.stdout);
    const ended = await runner.result;
    assert.equal(ended.code, 0, 'with nothing to replicate back, the runner ends by itself');
    const rollback = await runCli(['rollback', '-c', cfg]);
    assert.equal(rollback.code, 1, 'rollback needs a running migration');
    assert.match(rollback.stderr, /NOT_RUNNING/);
    const finish = await runCli(['finish', '-c', cfg]);
    assert.equal(finish.code, 0, finish.stdout + finish.stderr);
    assert.equal((await statusJson(cfg)).phase, 'finished');
  } finally {
    if (runner.exitCode === null) runner.kill('SIGKILL');
  }
});

async function compareForward(client: DynamoDBClient) {
  const expected = (await scanAll(client, 'orders')).map((i) => ({ ...i, gk: i.grp! }));
  return compareTables(expected, await scanAll(client, 'orders_v2'), ['gk', 'id']);
}

async function compareReverse(client: DynamoDBClient) {
  const expected = (await scanAll(client, 'orders_v2')).map(({ gk: _gk, ...rest }) => rest);
  return compareTables(expected, await scanAll(client, 'orders'), ['id']);
}

/**
 * The application after the switch: writes the target directly (key gk + id, gk = grp). Each id keeps one gk, as an
 * application keyed by customer would: new items get fresh ids, updates and deletes hit existing items by their key.
 */
async function targetWriter(client: DynamoDBClient, rng: Rng, signal: AbortSignal): Promise<number> {
  const keys = (await scanAll(client, 'orders_v2')).map((i) => ({ gk: i.gk!, id: i.id! }));
  let n = 0;
  while (!signal.aborted) {
    const r = rng();
    if (r < 0.4 || keys.length === 0) {
      const grp = GROUPS[Math.floor(rng() * GROUPS.length)]!;
      const key = { gk: { S: grp }, id: { S: `t-${String(n).padStart(6, '0')}` } };
      await client.send(
        new PutItemCommand({
          TableName: 'orders_v2',
          Item: {
            ...key,
            grp: { S: grp },
            v: { N: String(Math.floor(rng() * 1000)) },
            big: { N: '12345678901234567890123456789012345678' },
            empty: { S: '' },
          },
        }),
      );
      keys.push(key);
    } else if (r < 0.8) {
      const key = keys[Math.floor(rng() * keys.length)]!;
      await client
        .send(
          new UpdateItemCommand({
            TableName: 'orders_v2',
            Key: key,
            ConditionExpression: 'attribute_exists(id)',
            UpdateExpression: 'SET v = if_not_exists(v, :zero) + :one',
            ExpressionAttributeValues: { ':one': { N: '1' }, ':zero': { N: '0' } },
          }),
        )
        .catch((e) => {
          if (e.name !== 'ConditionalCheckFailedException') throw e;
        });
    } else {
      const key = keys.splice(Math.floor(rng() * keys.length), 1)[0]!;
      await client.send(new DeleteItemCommand({ TableName: 'orders_v2', Key: key }));
    }
    n++;
    await sleep(5);
  }
  return n;
}

async function statusJson(cfg: string): Promise<Record<string, any>> {
  const r = await runCli(['status', '--json', '-c', cfg], { timeoutMs: 30_000 });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

async function waitForStatus(cfg: string, ok: (s: Record<string, any>) => boolean, timeoutMs: number): Promise<Record<string, any>> {
  const deadline = Date.now() + timeoutMs;
  let last: Record<string, any> = {};
  while (Date.now() < deadline) {
    last = await statusJson(cfg);
    if (ok(last)) return last;
    await sleep(300);
  }
  throw new Error(`status never matched: ${JSON.stringify(last)}`);
}

async function eventually(check: () => Promise<ReturnType<typeof compareTables>>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let diff = await check();
  while (!isEmptyDiff(diff) && Date.now() < deadline) {
    await sleep(500);
    diff = await check();
  }
  assert.ok(isEmptyDiff(diff), `${what}:\n${formatDiff(diff)}`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
