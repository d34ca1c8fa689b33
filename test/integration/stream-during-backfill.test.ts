/**
 * A backfill longer than the stream's retention. DynamoDB keeps stream records 24 hours and DynamoDB Local never
 * trims, so the run uses the test-only short retention (DYNASHIFT_TEST_STREAM_RETENTION_SECONDS: records are trimmed
 * once first seen more than N seconds ago) and a backfill slowed by its read-rate cap to several times that.
 *
 * - Applied after the backfill (stream.duringBackfill: false), the records the catch-up needs are gone: STREAM_GAP.
 * - Applied during the backfill (the default), the applier stays seconds behind the table, `status` shows it applying
 *   while the backfill runs, and the run converges: target = transform(source) by the independent scanner, under a
 *   live writer that moves keys and deletes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { localClientConfig, startDynamoDbLocal } from '../../src/local/dynamodb-local.js';
import { createTable, enableStream } from '../support/dynamodb-local.js';
import { runCli, spawnCli } from '../support/cli.js';
import { compareTables, formatDiff, isEmptyDiff, scanAll } from '../support/independent-scan.js';
import { mulberry32, runWorkload, seedItems } from '../support/workload.js';

const RETENTION_SECONDS = 15;
const ITEMS = 400;

const TRANSFORM = `
export default function transform(item) {
  return BigInt(item.v.toString()) % 5n === 0n ? null : { ...item, label: item.grp + '#' + item.id };
}
`;

async function setup(mode: 'during' | 'after') {
  const local = await startDynamoDbLocal();
  const client = new DynamoDBClient(localClientConfig(local.endpoint));
  const dir = mkdtempSync(join(tmpdir(), `dynashift-retention-${mode}-`));
  // Seeded before the stream is enabled: the stream carries only the live writer's changes, as on a table in production.
  await createTable(client, { name: 'src', partitionKey: { name: 'id', type: 'S' } });
  await seedItems(client, 'src', ITEMS, mulberry32(42));
  await enableStream(client, 'src');
  writeFileSync(join(dir, 'transform.mjs'), TRANSFORM);
  const table = (name: string) => ({ table: name, endpoint: local.endpoint, region: 'us-east-1' });
  writeFileSync(
    join(dir, 'dynashift.config.json'),
    JSON.stringify(
      {
        name: 'retention',
        source: table('src'),
        target: { ...table('dst'), create: { keySchema: { partitionKey: { name: 'grp', type: 'S' }, sortKey: { name: 'id', type: 'S' } } } },
        transform: './transform.mjs',
        // 400 items in pages of 8 (a read unit each) at 1 read unit/s: the backfill takes several times the retention.
        backfill: { segments: 2, concurrency: 2, pageSize: 8, maxReadUnitsPerSecond: 1 },
        stream: { pollIntervalMs: 100, discoveryIntervalMs: 1000, ...(mode === 'after' ? { duringBackfill: false } : {}) },
      },
      null,
      2,
    ),
  );
  const stopWriter = new AbortController();
  // At most ~40 writes/s: well under what the applier sustains on a slow CI machine, so a STREAM_GAP in the new mode
  // means the gate or the reader failed, not that the machine could not keep up with an unbounded writer.
  const writer = runWorkload(client, 'src', { rng: mulberry32(7), idSpace: ITEMS + 100, concurrency: 2, pauseMs: 50, signal: stopWriter.signal });
  const stop = async () => {
    stopWriter.abort();
    await writer.catch(() => undefined);
    client.destroy();
    await local.stop();
  };
  return {
    client,
    dir,
    cfg: join(dir, 'dynashift.config.json'),
    statePath: join(dir, '.dynashift', 'retention', 'state.json'),
    stopWriter,
    writer,
    stop,
  };
}

const env = { DYNASHIFT_TEST_STREAM_RETENTION_SECONDS: String(RETENTION_SECONDS) };

test('a backfill longer than the stream retention halts with STREAM_GAP when the stream is applied only after it', { timeout: 300_000 }, async () => {
  const s = await setup('after');
  try {
    const started = Date.now();
    const r = await runCli(['run', '-c', s.cfg, '--until-synced', '--no-progress'], { env, timeoutMs: 240_000 });
    const tookSeconds = (Date.now() - started) / 1000;
    assert.ok(tookSeconds > RETENTION_SECONDS * 2, `the backfill must outlast the retention for this test to mean anything (took ${tookSeconds} s)`);
    assert.notEqual(r.code, 0, `the run must not report success:\n${r.stderr}`);
    assert.match(r.stderr, /STREAM_GAP/);
    assert.match(r.stderr, /NOT in sync/);
  } finally {
    await s.stop();
  }
});

test(
  'the same backfill converges when the stream is applied during it: status shows it applying, target = transform(source)',
  { timeout: 300_000 },
  async () => {
    const s = await setup('during');
    let child: ReturnType<typeof spawnCli> | undefined;
    try {
      const started = Date.now();
      child = spawnCli(['run', '-c', s.cfg, '--no-progress'], { env });
      // While the backfill runs, the stream is applied: status reports records applied and a lag in seconds.
      let seenApplying = false;
      while (!seenApplying && child.exitCode === null && ['backfilling', 'new', undefined].includes(readPhase(s.statePath))) {
        await sleep(1000);
        const st = await runCli(['status', '-c', s.cfg, '--json'], { timeoutMs: 120_000 });
        assert.equal(st.code, 0, `status failed:\n${st.stderr}`);
        const report = JSON.parse(st.stdout) as { phase: string; lagMs?: number; stream: { shards: { applied: number }[] }[] };
        const applied = report.stream.flatMap((x) => x.shards).reduce((n, sh) => n + sh.applied, 0);
        if (report.phase === 'backfilling' && applied > 0 && report.lagMs !== undefined) {
          // The lag itself is not asserted here: DynamoDB Local rounds record times to the minute, so it reads up to 60 s
          // even when the applier is current. That the applier stayed within the retention is proven by the run never
          // meeting a trimmed record (the short retention trims by first sighting, to the 200 ms).
          seenApplying = true;
        }
      }
      assert.ok(seenApplying, 'status showed the stream applied while the phase was backfilling');
      // Let the backfill outlast the retention with the writer still going, then stop the writer and finish.
      while (readPhase(s.statePath) === 'backfilling' && child.exitCode === null) await sleep(500);
      if (child.exitCode !== null) assert.fail(`the run ended during the backfill:\n${(await child.result).stderr}`);
      const backfillSeconds = (Date.now() - started) / 1000;
      assert.ok(backfillSeconds > RETENTION_SECONDS * 2, `the backfill outlasted the retention (${backfillSeconds} s)`);
      s.stopWriter.abort();
      const counts = await s.writer;
      child.kill('SIGINT');
      const first = await child.result;
      assert.equal(first.code, 0, `the run stopped cleanly on SIGINT:\n${first.stderr}`);
      assert.doesNotMatch(first.stderr, /STREAM_GAP/);
      const final = await runCli(['run', '-c', s.cfg, '--until-synced', '--no-progress'], { env, timeoutMs: 120_000 });
      assert.equal(final.code, 0, `final run:\n${final.stderr}`);
      const state = JSON.parse(readFileSync(s.statePath, 'utf8')) as { phase: string; deadLetters: number };
      assert.equal(state.phase, 'in-sync');
      assert.equal(state.deadLetters, 0);

      const expected = (await scanAll(s.client, 'src')).flatMap((raw) => {
        const item = unmarshall(raw, { wrapNumbers: true });
        return BigInt(String(item.v)) % 5n === 0n ? [] : [marshall({ ...item, label: `${item.grp}#${item.id}` }, { removeUndefinedValues: true })];
      });
      const diff = compareTables(expected, await scanAll(s.client, 'dst'), ['grp', 'id']);
      assert.ok(isEmptyDiff(diff), `target differs (workload ${JSON.stringify(counts)}):\n${formatDiff(diff)}`);
      assert.ok(expected.length > ITEMS / 2, 'the comparison covers a substantial table');
    } finally {
      // A failed assertion must not leave the run going for the rest of the suite.
      if (child && child.exitCode === null) {
        child.kill('SIGKILL');
        const left = await child.result;
        console.error(`the run was still going; its last log lines:\n${left.stderr.slice(-4000)}\nstate: ${readFileSafe(s.statePath)}`);
      }
      await s.stop();
    }
  },
);

function readPhase(path: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(path, 'utf8')) as { phase: string }).phase;
  } catch {
    return undefined;
  }
}

function readFileSafe(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '(none)';
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
