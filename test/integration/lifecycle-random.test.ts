/**
 * The whole lifecycle under seeded random workloads, checked item by item in both directions: key moves on the source
 * before and during the run; cutover reads; cutover writes while the source is still being written; application
 * writes (updates, deletes, new items and key moves) on the target; rollback; forward again; cut over again; finish.
 * Every comparison uses the independent scanner, never the engine's own verify.
 *
 * LIFECYCLE_SEEDS=N runs N seeds (default 1, the CI subset); LIFECYCLE_SEED_BASE shifts them. Each seed gets its own DynamoDB Local.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteItemCommand, DynamoDBClient, PutItemCommand, UpdateItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { localClientConfig, startDynamoDbLocal } from '../../src/local/dynamodb-local.js';
import { createTable } from '../support/dynamodb-local.js';
import { spawnCli } from '../support/cli.js';
import { command, sleep, waitForStatus } from '../support/control.js';
import { compareTables, formatDiff, isEmptyDiff, scanAll, type Diff } from '../support/independent-scan.js';
import { GROUPS, makeItem, mulberry32, runWorkload, seedItems, type Rng } from '../support/workload.js';
import { writeLifecycleMigration } from '../support/lifecycle-migration.js';

const SEEDS = Number(process.env.LIFECYCLE_SEEDS ?? 1);
const SEED_BASE = Number(process.env.LIFECYCLE_SEED_BASE ?? 1);
const ITEMS = 300;
const MIN_TARGET_OPS = 40;

// Target key (gk, id) with gk = grp: a key that moves whenever grp changes, and an exact inverse.

for (let i = 0; i < SEEDS; i++) {
  const seed = SEED_BASE + i;
  test(
    `lifecycle, seed ${seed}: both tables agree after key moves, cutover, application writes on the target, rollback, cutover again and finish`,
    { timeout: 900_000 },
    async () => {
      const local = await startDynamoDbLocal({ startTimeoutMs: 180_000 });
      const client = new DynamoDBClient(localClientConfig(local.endpoint));
      try {
        await scenario(seed, local.endpoint, client);
      } finally {
        client.destroy();
        await local.stop();
      }
    },
  );
}

async function scenario(seed: number, endpoint: string, client: DynamoDBClient): Promise<void> {
  const rng = mulberry32(seed);
  const dir = mkdtempSync(join(tmpdir(), `dynashift-lifecycle-${seed}-`));
  await createTable(client, { name: 'orders', partitionKey: { name: 'id', type: 'S' }, streamViewType: 'NEW_AND_OLD_IMAGES' });
  await seedItems(client, 'orders', ITEMS, rng);
  // Changes (key moves among them) shortly before `run`: the catch-up replays them after the backfill copied the
  // newer versions, which is what reverse replication must never replay into the source.
  await runWorkload(client, 'orders', { rng: mulberry32(seed * 101), idSpace: ITEMS + 50, maxOps: 600, concurrency: 2 });
  const cfg = writeLifecycleMigration(dir, { name: `lifecycle-${seed}`, endpoint, backfill: { segments: 4, concurrency: 2, pageSize: 100 } });
  const t0 = Date.now();
  const step = (what: string) => console.log(`seed ${seed}, ${Math.round((Date.now() - t0) / 1000)} s: ${what}`);
  const check = async (what: string, compare: () => Promise<Diff>) => {
    await eventually(compare, `${what} (seed ${seed})`);
    step(`checked: ${what}`);
  };

  const runner = spawnCli(['run', '-c', cfg, '--no-progress']);
  const writers: Promise<unknown>[] = [];
  const stops: AbortController[] = [];
  const sourceWriter = (salt: number) => {
    const stop = new AbortController();
    stops.push(stop);
    const w = runWorkload(client, 'orders', { rng: mulberry32(seed * 1009 + salt), idSpace: ITEMS + 100, concurrency: 2, signal: stop.signal });
    writers.push(w);
    return {
      stop: async () => {
        stop.abort();
        await w;
      },
    };
  };
  const appOnTarget = (salt: number) => {
    const stop = new AbortController();
    stops.push(stop);
    const w = targetWriter(client, mulberry32(seed * 2003 + salt), `${seed}-${salt}`, stop.signal);
    writers.push(w);
    return {
      stop: async () => {
        stop.abort();
        return w;
      },
    };
  };
  try {
    // 1. Live migration, the application writing (and moving keys) on the source.
    let source = sourceWriter(1);
    await waitForStatus(cfg, (s) => s.phase === 'in-sync' && s.safeToCutOver === true, 300_000);
    step('in sync');
    await sleep(Math.floor(rng() * 2000));
    await source.stop();
    await waitForStatus(cfg, (s) => s.safeToCutOver === true, 60_000);
    await command(cfg, 'cutover', 'reads');
    step('reads cut over');

    // 2. Writes move. The source is still written for a moment after the command (stragglers forward drains).
    source = sourceWriter(2);
    await command(cfg, 'cutover', 'writes', '--quiet-seconds', '1');
    await sleep(Math.floor(rng() * 1500));
    await source.stop();
    await waitForStatus(cfg, (s) => s.direction === 'reverse' && !s.draining, 60_000);
    step('writes cut over, reverse replication running');
    let app = appOnTarget(1);
    await sleep(1000 + Math.floor(rng() * 3000));
    const firstTargetOps = await app.stop();
    await check('the source follows the target through reverse replication', () => compareReverse(client));

    // 3. Rollback: writes return to the source, reverse drains, forward resumes.
    await command(cfg, 'rollback', '--quiet-seconds', '1');
    await waitForStatus(cfg, (s) => s.direction === 'forward' && !s.draining, 60_000);
    step('rolled back, forward replication running');
    await check('after rollback the target still equals transform(source)', () => compareForward(client));
    source = sourceWriter(3);
    await sleep(1000 + Math.floor(rng() * 3000));
    await source.stop();
    await check('the target follows the source again after rollback', () => compareForward(client));
    await command(cfg, 'rollback'); // reads back too

    // 4. Cut over again, with application writes on the target, then finish.
    await waitForStatus(cfg, (s) => s.phase === 'in-sync' && s.safeToCutOver === true, 60_000);
    await command(cfg, 'cutover', 'reads');
    await command(cfg, 'cutover', 'writes', '--quiet-seconds', '1');
    await waitForStatus(cfg, (s) => s.direction === 'reverse' && !s.draining, 60_000);
    app = appOnTarget(2);
    await sleep(1000 + Math.floor(rng() * 2000));
    const secondTargetOps = await app.stop();
    await check('the source follows the target after the second cutover', () => compareReverse(client));
    const finished = await command(cfg, 'finish', '--quiet-seconds', '1');
    assert.match(finished, /migration is finished/);
    step('finish requested');
    const ended = await runner.result;
    assert.equal(ended.code, 0, ended.stderr);

    const forward = await compareForward(client);
    assert.ok(isEmptyDiff(forward), `seed ${seed}: target vs transform(source) at the end:\n${formatDiff(forward)}`);
    const reverse = await compareReverse(client);
    assert.ok(isEmptyDiff(reverse), `seed ${seed}: source vs inverse(target) at the end:\n${formatDiff(reverse)}`);
    assert.ok(
      firstTargetOps >= MIN_TARGET_OPS && secondTargetOps >= MIN_TARGET_OPS,
      `the application wrote to the target (${firstTargetOps}, ${secondTargetOps} operations)`,
    );
    assert.ok((await scanAll(client, 'orders')).length > ITEMS / 2, 'the comparison covers a substantial table');
  } finally {
    for (const s of stops) s.abort();
    await Promise.allSettled(writers);
    if (runner.exitCode === null) {
      runner.kill('SIGKILL');
      await runner.result;
    }
  }
}

async function compareForward(client: DynamoDBClient): Promise<Diff> {
  const expected = (await scanAll(client, 'orders')).map((i) => ({ ...i, gk: i.grp! }));
  return compareTables(expected, await scanAll(client, 'orders_v2'), ['gk', 'id']);
}

async function compareReverse(client: DynamoDBClient): Promise<Diff> {
  const expected = (await scanAll(client, 'orders_v2')).map(({ gk: _gk, ...rest }) => rest);
  return compareTables(expected, await scanAll(client, 'orders'), ['id']);
}

/**
 * The application after the switch, writing the target directly: new items, updates, deletes, and key moves (the
 * item at (gk, id) deleted and written again under another gk, as an application re-assigning a customer would). One
 * target item per id at any time, so every target item maps to one source item.
 */
async function targetWriter(client: DynamoDBClient, rng: Rng, tag: string, signal: AbortSignal): Promise<number> {
  const byId = new Map<string, Record<string, AttributeValue>>();
  for (const item of await scanAll(client, 'orders_v2')) byId.set(item.id!.S!, item);
  const ids = () => [...byId.keys()];
  const put = async (item: Record<string, AttributeValue>) => {
    await client.send(new PutItemCommand({ TableName: 'orders_v2', Item: item }));
    byId.set(item.id!.S!, item);
  };
  let n = 0;
  // At least MIN_TARGET_OPS operations however slow the machine is, so every seed exercises reverse replication.
  while (!signal.aborted || n < MIN_TARGET_OPS) {
    const r = rng();
    const all = ids();
    const existing = all.length > 0 ? byId.get(all[Math.floor(rng() * all.length)]!)! : undefined;
    const key = (item: Record<string, AttributeValue>) => ({ gk: item.gk!, id: item.id! });
    if (r < 0.25 || !existing) {
      const item = makeItem(`t-${tag}-${n}`, rng);
      await put({ ...item, gk: item.grp! });
    } else if (r < 0.55) {
      await client.send(
        new UpdateItemCommand({
          TableName: 'orders_v2',
          Key: key(existing),
          UpdateExpression: 'SET v = v + :one',
          ExpressionAttributeValues: { ':one': { N: '1' } },
        }),
      );
      byId.set(existing.id!.S!, { ...existing, v: { N: String(BigInt(existing.v!.N!) + 1n) } });
    } else if (r < 0.75) {
      await client.send(new DeleteItemCommand({ TableName: 'orders_v2', Key: key(existing) }));
      byId.delete(existing.id!.S!);
    } else {
      const grp = GROUPS[Math.floor(rng() * GROUPS.length)]!;
      if (grp !== existing.grp!.S) {
        await client.send(new DeleteItemCommand({ TableName: 'orders_v2', Key: key(existing) }));
        await put({ ...existing, grp: { S: grp }, gk: { S: grp } });
      }
    }
    n++;
  }
  return n;
}

async function eventually(check: () => Promise<Diff>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let diff = await check();
  while (!isEmptyDiff(diff) && Date.now() < deadline) {
    await sleep(500);
    diff = await check();
  }
  assert.ok(isEmptyDiff(diff), `${what}:\n${formatDiff(diff)}`);
}
