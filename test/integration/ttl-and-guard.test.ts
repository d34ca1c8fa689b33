/**
 * Issue #8 against DynamoDB Local: TTL-aware backfill (skipExpired), change-stream-only migrations (--backfill none)
 * and version-guarded writes while the application also writes to the target (dual-write).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchWriteItemCommand, DeleteItemCommand, PutItemCommand, UpdateTimeToLiveCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { createTable, enableStream, withDynamoDbLocal } from '../support/dynamodb-local.js';
import { runCli, spawnCli } from '../support/cli.js';
import { compareTables, formatDiff, isEmptyDiff, scanAll } from '../support/independent-scan.js';
import { mulberry32 } from '../support/workload.js';

const local = withDynamoDbLocal();
type Item = Record<string, AttributeValue>;
const nowSec = () => Math.floor(Date.now() / 1000);

function writeConfig(dir: string, body: Record<string, unknown>): string {
  const path = join(dir, 'dynashift.config.json');
  writeFileSync(
    path,
    JSON.stringify({ stream: { pollIntervalMs: 100, discoveryIntervalMs: 500 }, backfill: { segments: 2, concurrency: 2 }, ...body }, null, 2),
  );
  return path;
}

async function put(table: string, items: Item[]): Promise<void> {
  for (let i = 0; i < items.length; i += 25) {
    await local.client.send(
      new BatchWriteItemCommand({ RequestItems: { [table]: items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })) } }),
    );
  }
}

async function ttlTable(name: string): Promise<void> {
  await createTable(local.client, { name, partitionKey: { name: 'id', type: 'S' }, streamViewType: 'NEW_AND_OLD_IMAGES' });
  await local.client.send(new UpdateTimeToLiveCommand({ TableName: name, TimeToLiveSpecification: { AttributeName: 'expires', Enabled: true } }));
}

test('skipExpired leaves out items past their TTL and keeps items without the attribute or with a non-number one', { timeout: 120_000 }, async () => {
  await ttlTable('sessions');
  const items: Item[] = [];
  for (let i = 0; i < 40; i++) items.push({ id: { S: `past-${i}` }, expires: { N: String(nowSec() - 3600 - i) } });
  for (let i = 0; i < 40; i++) items.push({ id: { S: `future-${i}` }, expires: { N: String(nowSec() + 86400 + i) } });
  for (let i = 0; i < 20; i++) items.push({ id: { S: `none-${i}` } });
  for (let i = 0; i < 5; i++) items.push({ id: { S: `text-${i}` }, expires: { S: 'not a number' } });
  await put('sessions', items);
  const dir = mkdtempSync(join(tmpdir(), 'dynashift-ttl-'));
  const cfg = writeConfig(dir, {
    source: { table: 'sessions', endpoint: local.endpoint, region: 'us-east-1' },
    target: { table: 'sessions_v2', endpoint: local.endpoint, region: 'us-east-1' },
    backfill: { segments: 2, concurrency: 2, skipExpired: true },
  });
  const r = await runCli(['run', '-c', cfg, '--until-synced', '--no-progress'], { timeoutMs: 90_000 });
  assert.equal(r.code, 0, r.stderr);
  const target = await scanAll(local.client, 'sessions_v2');
  const ids = new Set(target.map((i) => i.id!.S!));
  assert.equal([...ids].filter((id) => id.startsWith('past-')).length, 0, 'expired items are left out');
  for (const prefix of ['future-', 'none-', 'text-']) {
    assert.equal(
      [...ids].filter((id) => id.startsWith(prefix)).length,
      items.filter((i) => i.id!.S!.startsWith(prefix)).length,
      `${prefix} items all kept`,
    );
  }
  const expected = (await scanAll(local.client, 'sessions')).filter((i) => !i.id!.S!.startsWith('past-'));
  const diff = compareTables(expected, target, ['id']);
  assert.ok(isEmptyDiff(diff), formatDiff(diff));
  const plan = await runCli(['plan', '-c', cfg]);
  assert.match(plan.stdout, /ttl\s+expires/);
});

test('skipExpired on a source without TTL is refused', { timeout: 60_000 }, async () => {
  await createTable(local.client, { name: 'no_ttl', partitionKey: { name: 'id', type: 'S' }, streamViewType: 'NEW_AND_OLD_IMAGES' });
  const dir = mkdtempSync(join(tmpdir(), 'dynashift-ttl-'));
  const cfg = writeConfig(dir, {
    source: { table: 'no_ttl', endpoint: local.endpoint, region: 'us-east-1' },
    target: { table: 'no_ttl_v2', endpoint: local.endpoint, region: 'us-east-1' },
    backfill: { skipExpired: true },
  });
  const r = await runCli(['plan', '-c', cfg]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /TTL_NOT_ENABLED/);
});

test(
  '--backfill none: plan reports the TTL horizon, refuses items that never expire, and run copies only changes',
  { timeout: 120_000 },
  async () => {
    // Items written before the stream existed: only the TTL horizon brings the target up to date for them.
    await createTable(local.client, { name: 'carts', partitionKey: { name: 'id', type: 'S' } });
    await local.client.send(
      new UpdateTimeToLiveCommand({ TableName: 'carts', TimeToLiveSpecification: { AttributeName: 'expires', Enabled: true } }),
    );
    const horizon = nowSec() + 7200;
    await put(
      'carts',
      Array.from({ length: 30 }, (_, i) => ({ id: { S: `old-${i}` }, expires: { N: String(horizon - i) } })),
    );
    await enableStream(local.client, 'carts');
    const dir = mkdtempSync(join(tmpdir(), 'dynashift-none-'));
    const cfg = writeConfig(dir, {
      name: 'carts-none',
      source: { table: 'carts', endpoint: local.endpoint, region: 'us-east-1' },
      target: { table: 'carts_v2', endpoint: local.endpoint, region: 'us-east-1' },
    });
    const plan = await runCli(['plan', '-c', cfg, '--backfill', 'none']);
    assert.equal(plan.code, 0, plan.stderr);
    assert.match(plan.stdout, new RegExp(`expires by ${new Date(horizon * 1000).toISOString().slice(0, 16)}`));
    assert.match(plan.stdout, /no backfill/);

    const runner = spawnCli(['run', '-c', cfg, '--backfill', 'none', '--no-progress']);
    try {
      // Changes made while the migration runs reach the target; untouched old items don't (they will expire).
      await waitFor(
        async () => (await runCli(['status', '--json', '-c', cfg])).stdout.includes('"phase": "in-sync"'),
        30_000,
        () => runner.kill('SIGTERM'),
      );
      await local.client.send(
        new PutItemCommand({ TableName: 'carts', Item: { id: { S: 'old-3' }, expires: { N: String(horizon + 60) }, touched: { BOOL: true } } }),
      );
      await local.client.send(new PutItemCommand({ TableName: 'carts', Item: { id: { S: 'new-1' }, expires: { N: String(horizon) } } }));
      await local.client.send(new DeleteItemCommand({ TableName: 'carts', Key: { id: { S: 'old-4' } } }));
      await waitFor(async () => (await scanAll(local.client, 'carts_v2')).length === 2);
      const ids = (await scanAll(local.client, 'carts_v2')).map((i) => i.id!.S!).sort();
      assert.deepEqual(ids, ['new-1', 'old-3']);
      // Readers may not move before the horizon.
      const reads = await runCli(['cutover', 'reads', '-c', cfg]);
      assert.equal(reads.code, 2);
      assert.match(reads.stdout, /every pre-existing item has expired/);
    } finally {
      runner.kill('SIGTERM');
      const ended = await runner.result;
      assert.equal(ended.code, 0, ended.stderr.slice(-3000));
    }

    await put('carts', [{ id: { S: 'forever' } }]);
    const refused = await runCli(['plan', '-c', cfg, '--backfill', 'none']);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /BACKFILL_NONE_UNSAFE/);
    assert.match(refused.stderr, /never expire/);
  },
);

test(
  'guard: a write never replaces a newer version, under concurrent application writes to the target (dual-write)',
  { timeout: 180_000 },
  async () => {
    await createTable(local.client, { name: 'profiles', partitionKey: { name: 'id', type: 'S' }, streamViewType: 'NEW_AND_OLD_IMAGES' });
    await createTable(local.client, { name: 'profiles_v2', partitionKey: { name: 'id', type: 'S' } });
    const rng = mulberry32(8);
    let version = 0;
    const ids = Array.from({ length: 60 }, (_, i) => `p-${i}`);
    // What the application did, in order; the final target must be the newest event per id (a delete counts with the
    // version it deleted, and wins a tie).
    const events = new Map<string, { version: number; deleted: boolean; item?: Item }[]>();
    const record = (id: string, e: { version: number; deleted: boolean; item?: Item }) => events.set(id, [...(events.get(id) ?? []), e]);
    const current = new Map<string, number>(); // the source's version per id
    await put(
      'profiles',
      ids.map((id) => {
        const v = ++version;
        current.set(id, v);
        const item = { id: { S: id }, ver: { N: String(v) }, name: { S: `n${v}` } };
        record(id, { version: v, deleted: false, item });
        return item;
      }),
    );

    const dir = mkdtempSync(join(tmpdir(), 'dynashift-guard-'));
    const cfg = writeConfig(dir, {
      source: { table: 'profiles', endpoint: local.endpoint, region: 'us-east-1' },
      target: { table: 'profiles_v2', endpoint: local.endpoint, region: 'us-east-1' },
      guard: { versionAttribute: 'ver' },
    });
    const appWrites = async (ms: number): Promise<void> => {
      const stop = Date.now() + ms;
      while (Date.now() < stop) {
        const id = ids[Math.floor(rng() * ids.length)]!;
        const r = rng();
        if (r < 0.3) {
          // Dual-write: the target first (the new code path), then the source.
          const v = ++version;
          const item = { id: { S: id }, ver: { N: String(v) }, name: { S: `n${v}` } };
          await local.client.send(new PutItemCommand({ TableName: 'profiles_v2', Item: item }));
          await local.client.send(new PutItemCommand({ TableName: 'profiles', Item: item }));
          current.set(id, v);
          record(id, { version: v, deleted: false, item });
        } else if (r < 0.55) {
          // A newer write only to the target: the lagging stream must not overwrite it with older source versions.
          const v = ++version;
          const item = { id: { S: id }, ver: { N: String(v) }, name: { S: `target-only-${v}` } };
          await local.client.send(new PutItemCommand({ TableName: 'profiles_v2', Item: item }));
          record(id, { version: v, deleted: false, item });
        } else if (r < 0.85) {
          const v = ++version;
          const item = { id: { S: id }, ver: { N: String(v) }, name: { S: `source-only-${v}` } };
          await local.client.send(new PutItemCommand({ TableName: 'profiles', Item: item }));
          current.set(id, v);
          record(id, { version: v, deleted: false, item });
        } else if (current.has(id)) {
          // Delete in the source: removes the version the source held.
          await local.client.send(new DeleteItemCommand({ TableName: 'profiles', Key: { id: { S: id } } }));
          record(id, { version: current.get(id)!, deleted: true });
          current.delete(id);
        }
      }
    };

    // 1. Backfill and catch up, then stop: the application keeps writing, so the stream builds a backlog of source
    //    versions older than what the application meanwhile wrote straight to the target.
    const first = await runCli(['run', '-c', cfg, '--until-synced', '--no-progress'], { timeoutMs: 90_000 });
    assert.equal(first.code, 0, first.stderr);
    await appWrites(3000);
    // 2. Resume while the application goes on writing to both.
    const runner = spawnCli(['run', '-c', cfg, '--no-progress']);
    try {
      // Only once the run applies the stream (a SIGTERM during start-up, before the handlers exist, ends it by signal).
      await waitForLog(runner, /applying the source stream/, 60_000);
      await appWrites(4000);
    } finally {
      runner.kill('SIGTERM');
      assert.equal((await runner.result).code, 0);
    }
    const final = await runCli(['run', '-c', cfg, '--until-synced', '--no-progress'], { timeoutMs: 90_000 });
    assert.equal(final.code, 0, final.stderr);

    const expected: Item[] = [];
    for (const [, list] of events) {
      const newest = [...list].sort((a, b) => a.version - b.version || Number(a.deleted) - Number(b.deleted)).pop()!;
      if (!newest.deleted) expected.push(newest.item!);
    }
    const diff = compareTables(expected, await scanAll(local.client, 'profiles_v2'), ['id']);
    assert.ok(isEmptyDiff(diff), formatDiff(diff));
    assert.ok(
      [...events.values()].some((l) => l.some((e) => e.item?.name?.S?.startsWith('target-only'))),
      'the workload wrote target-only versions',
    );
  },
);

async function waitFor(check: () => Promise<boolean>, timeoutMs = 30_000, onTimeout?: () => void): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) {
      onTimeout?.();
      throw new Error('condition not reached in time');
    }
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** Resolves once the child's log has a line matching `pattern`; fails on exit or after `ms`. */
async function waitForLog(child: ReturnType<typeof spawnCli>, pattern: RegExp, ms: number): Promise<void> {
  let log = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no log line matching ${pattern} within ${ms} ms:\n${log}`)), ms);
    const onData = (d: Buffer): void => {
      log += d.toString();
      if (pattern.test(log)) {
        clearTimeout(timer);
        child.stderr!.off('data', onData);
        resolve();
      }
    };
    child.stderr!.on('data', onData);
    child.once('exit', () => {
      clearTimeout(timer);
      reject(new Error(`the run exited before logging ${pattern}:\n${log}`));
    });
  });
}
