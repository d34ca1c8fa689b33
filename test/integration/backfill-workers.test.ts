/**
 * `backfill.workers`: the scan backfill's segments copied in worker threads (src/engine/workers/), with the state,
 * the snapshot gate, the failure policy and the budgets kept in the main thread. On DynamoDB Local, through the CLI:
 *
 * - under a live writer (puts, updates, deletes, key moves, applied by the stream during the backfill through the
 *   gate), two workers converge to target = transform(source), read back by the independent scanner;
 * - a write the target rejects in a worker (an item over 400 KB after the transform) is dead-lettered with its error
 *   by the main thread, and every other item lands;
 * - a transform that throws in a worker halts the run with the same error code the in-thread path raises.
 *
 * The migration is the crash scenario's (test/support/crash-scenario.ts): its transform splits into two targets,
 * moves keys and filters, and has the `huge` and `poison` switches used here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { AttributeMap } from '../../src/core/item.js';
import { runCli, spawnCli } from '../support/cli.js';
import { sleep } from '../support/control.js';
import {
  BY_GROUP_KEY,
  expectedTargets,
  FLAGS_KEY,
  localDynamoDbTarget,
  SOURCE_TABLE,
  TARGET_TABLES,
  writeScenarioConfig,
  type ScenarioConfig,
} from '../support/crash-scenario.js';
import { createTable, enableStream, withDynamoDbLocal } from '../support/dynamodb-local.js';
import { compareTables, formatDiff, isEmptyDiff, scanAll } from '../support/independent-scan.js';
import { makeItem, mulberry32, runWorkload, seedItems } from '../support/workload.js';

const local = withDynamoDbLocal();
const ITEMS = 800;

/**
 * A fresh source table seeded by `seed` before its stream is enabled (the stream then carries only later changes, as
 * on a table in production, so the seeded items reach the targets through the backfill), and a migration of it into
 * two new targets with two backfill workers.
 */
async function migration(
  name: string,
  seed: (table: string) => Promise<void>,
  extra: Partial<ScenarioConfig> = {},
): Promise<{ cfg: string; dir: string; source: string }> {
  const source = `${SOURCE_TABLE}_${name}`;
  await createTable(local.client, { name: source, partitionKey: { name: 'id', type: 'S' } });
  await seed(source);
  await enableStream(local.client, source);
  const dir = mkdtempSync(join(tmpdir(), `dynashift-workers-${name}-`));
  const cfg = writeScenarioConfig(dir, {
    name,
    endpoint: local.endpoint,
    sourceTable: source,
    targets: {
      byGroup: localDynamoDbTarget(local.endpoint, `${TARGET_TABLES.byGroup}_${name}`, BY_GROUP_KEY),
      flags: localDynamoDbTarget(local.endpoint, `${TARGET_TABLES.flags}_${name}`, FLAGS_KEY),
    },
    backfill: { segments: 4, concurrency: 4, pageSize: 25, workers: 2 },
    stream: { pollIntervalMs: 100, discoveryIntervalMs: 1000 },
    ...extra,
  });
  return { cfg, dir, source };
}

function state(
  dir: string,
  name: string,
): { phase: string; deadLetters: number; backfill?: unknown; sources: Record<string, { backfill: { itemsWritten: number } }> } {
  return JSON.parse(readFileSync(join(dir, '.dynashift', name, 'state.json'), 'utf8'));
}

function itemsCopied(dir: string, name: string): number {
  try {
    return state(dir, name).sources['source']?.backfill.itemsWritten ?? 0;
  } catch {
    return 0; // not written yet
  }
}

async function targetsEqualTransformOfSource(source: string, name: string, leaveOut: (id: string) => boolean = () => false): Promise<number> {
  const sourceItems = (await scanAll(local.client, source)).filter((i) => !leaveOut(i['id']!.S!));
  const expected = expectedTargets(sourceItems);
  const byGroup = compareTables(expected.byGroup, await scanAll(local.client, `${TARGET_TABLES.byGroup}_${name}`), ['grp', 'id']);
  assert.ok(isEmptyDiff(byGroup), `byGroup differs:\n${formatDiff(byGroup)}`);
  const flags = compareTables(expected.flags, await scanAll(local.client, `${TARGET_TABLES.flags}_${name}`), ['id']);
  assert.ok(isEmptyDiff(flags), `flags differs:\n${formatDiff(flags)}`);
  return expected.byGroup.length;
}

test(
  'a scan backfill in two worker threads, stopped by SIGINT mid-backfill and resumed under a live writer, converges: target = transform(source)',
  { timeout: 300_000 },
  async () => {
    const name = 'live';
    // Slowed by its read budget (~2 read units a page of 25, 8 units/s: about 8 s), so the writer's changes meet the
    // backfill's pages in the gate while the stream is applied during it.
    const m = await migration(name, (table) => seedItems(local.client, table, ITEMS, mulberry32(11)), {
      backfill: { segments: 4, concurrency: 4, pageSize: 25, workers: 2, maxReadUnitsPerSecond: 8 },
    });
    const stopWriter = new AbortController();
    const writer = runWorkload(local.client, m.source, {
      rng: mulberry32(12),
      idSpace: ITEMS + 200,
      concurrency: 2,
      pauseMs: 50,
      signal: stopWriter.signal,
    });
    let counts;
    try {
      // Stopped by a signal once some pages landed: the workers finish the pages they are writing and end, the run
      // exits cleanly with its cursors saved, and the next run resumes from them.
      const stopped = spawnCli(['run', '-c', m.cfg, '--no-progress', '--log-format', 'json']);
      const deadline = Date.now() + 120_000;
      while (itemsCopied(m.dir, name) < 100 && stopped.exitCode === null && Date.now() < deadline) await sleep(200);
      assert.equal(stopped.exitCode, null, 'the run is still backfilling when the signal comes');
      assert.equal(state(m.dir, name).phase, 'backfilling');
      stopped.kill('SIGINT');
      const first = await stopped.result;
      assert.equal(first.code, 0, `the run stops cleanly on SIGINT:\n${first.stderr}`);
      assert.match(first.stderr, /backfill started.*"workers":2[,}]|"workers":2[,}].*backfill started/, 'the backfill ran in two worker threads');
      const atStop = state(m.dir, name);
      assert.ok(atStop.sources['source']!.backfill.itemsWritten < ITEMS, 'stopped before the backfill was complete');
      const resumed = await runCli(['run', '-c', m.cfg, '--until-synced', '--no-progress'], { timeoutMs: 180_000 });
      assert.equal(resumed.code, 0, `resumed run under the live writer:\n${resumed.stderr}`);
    } finally {
      stopWriter.abort();
      counts = await writer;
    }
    assert.ok(counts.total > 50, `the writer ran only ${counts.total} operations`);
    const final = await runCli(['run', '-c', m.cfg, '--until-synced', '--no-progress'], { timeoutMs: 120_000 });
    assert.equal(final.code, 0, `final run:\n${final.stderr}`);
    const st = state(m.dir, name);
    assert.equal(st.phase, 'in-sync');
    assert.equal(st.deadLetters, 0);
    const compared = await targetsEqualTransformOfSource(m.source, name);
    assert.ok(compared > ITEMS / 2, 'the comparison covers a substantial table');
  },
);

test(
  'a write the target rejects in a worker is dead-lettered with its error by the main thread; every other item lands',
  { timeout: 300_000 },
  async () => {
    const name = 'rejected';
    // Over 400 KB once transformed (the transform adds a 450,000-character blob): the target refuses it alone.
    const huge: AttributeMap = { ...makeItem('huge-1', mulberry32(22)), v: { N: '1' }, huge: { BOOL: true } };
    delete huge['flag'];
    const m = await migration(
      name,
      async (table) => {
        await seedItems(local.client, table, ITEMS, mulberry32(21));
        await local.client.send(new PutItemCommand({ TableName: table, Item: huge }));
      },
      { onError: 'dead-letter' },
    );
    const r = await runCli(['run', '-c', m.cfg, '--until-synced', '--no-progress'], { timeoutMs: 180_000 });
    assert.equal(r.code, 0, `run:\n${r.stderr}`);
    const st = state(m.dir, name);
    assert.equal(st.phase, 'in-sync');
    assert.equal(st.deadLetters, 1, 'exactly the huge item is dead-lettered');
    const letters = readFileSync(join(m.dir, '.dynashift', name, 'dead-letter.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { sourceKey: { id: { S: string } }; target?: string; stage: string; error: { code: string; message: string } });
    assert.equal(letters.length, 1);
    assert.equal(letters[0]!.sourceKey.id.S, 'huge-1');
    assert.equal(letters[0]!.target, 'byGroup');
    assert.equal(letters[0]!.stage, 'backfill');
    assert.equal(letters[0]!.error.code, 'ValidationException');
    assert.match(letters[0]!.error.message, /size/i);
    // Nothing else is lost: both targets hold transform(source) for every other item.
    await targetsEqualTransformOfSource(m.source, name, (id) => id === 'huge-1');
    // The workers' requests are counted where monitoring reads them (the stream carried nothing here, so every write
    // was a worker's): at least one Scan per 25-item page and one BatchWriteItem per 25 items.
    const io = (state(m.dir, name) as unknown as { progress: { io: { side: string; name: string; requests: number }[] } }).progress.io;
    const requests = (side: string, which: string) => io.find((t) => t.side === side && t.name === which)?.requests ?? 0;
    assert.ok(requests('source', 'source') >= ITEMS / 25, `source requests ${requests('source', 'source')}: ${JSON.stringify(io)}`);
    assert.ok(requests('target', 'byGroup') >= ITEMS / 25, `byGroup requests ${requests('target', 'byGroup')}: ${JSON.stringify(io)}`);
  },
);

test(
  'a transform that throws in a worker halts the run with TRANSFORM_FAILED, as in one thread, and the item is recorded',
  { timeout: 300_000 },
  async () => {
    const name = 'halted';
    const m = await migration(name, async (table) => {
      await seedItems(local.client, table, 200, mulberry32(31));
      await local.client.send(new PutItemCommand({ TableName: table, Item: { ...makeItem('poison-1', mulberry32(32)), poison: { BOOL: true } } }));
    });
    const r = await runCli(['run', '-c', m.cfg, '--until-synced', '--no-progress'], { timeoutMs: 180_000 });
    assert.equal(r.code, 1, `the run halts:\n${r.stderr}`);
    assert.match(r.stderr, /TRANSFORM_FAILED/);
    assert.match(r.stderr, /poisoned item poison-1/);
    const letters = readFileSync(join(m.dir, '.dynashift', name, 'dead-letter.jsonl'), 'utf8')
      .trim()
      .split('\n');
    assert.equal(letters.length, 1);
    assert.match(letters[0]!, /poison-1/);
    assert.notEqual(state(m.dir, name).phase, 'in-sync');
  },
);
