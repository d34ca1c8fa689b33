/**
 * Bad input never disappears silently: an item the transform throws on, or the target rejects, halts the run by
 * default (exit 1, the error code, the dead-letter file named) and is recorded in `dead-letter.jsonl` with its source
 * key and error; `--on-error=dead-letter` sets such items aside and lands everything else exactly. During the stream
 * catch-up a failing change also holds the checkpoint, so every rerun meets it again until it is dead-lettered.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DeleteItemCommand, PutItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { runCli, spawnCli, type CliResult } from '../support/cli.js';
import { createTable, withDynamoDbLocal } from '../support/dynamodb-local.js';
import { compareTables, formatDiff, isEmptyDiff, scanAll } from '../support/independent-scan.js';
import { mulberry32, seedItems } from '../support/workload.js';

const local = withDynamoDbLocal();

const RUN_TIMEOUT_MS = 60_000;
const FAST = {
  backfill: { segments: 2, concurrency: 2 },
  stream: { pollIntervalMs: 100, discoveryIntervalMs: 1000 },
};

type Item = Record<string, AttributeValue>;

interface DeadLetter {
  at: string;
  stage: string;
  source: string;
  sourceKey: Item;
  item?: unknown;
  target?: string;
  sequenceNumber?: string;
  error: { code: string; message: string };
}

interface Migration {
  cfg: string;
  deadLetterFile: string;
  statePath: string;
}

/** A temp dir with a transform module and a JSON config; the state folder is `.dynashift/<name>` beside it. */
function writeMigration(name: string, source: string, target: string, transform: string): Migration {
  const dir = mkdtempSync(join(tmpdir(), 'dynashift-bad-input-'));
  writeFileSync(join(dir, 'transform.mjs'), transform);
  const table = (t: string) => ({ table: t, endpoint: local.endpoint, region: 'us-east-1' });
  const cfg = join(dir, 'dynashift.config.json');
  writeFileSync(cfg, `${JSON.stringify({ name, source: table(source), target: table(target), transform: './transform.mjs', ...FAST }, null, 2)}\n`);
  const stateDir = join(dir, '.dynashift', name);
  return { cfg, deadLetterFile: join(stateDir, 'dead-letter.jsonl'), statePath: join(stateDir, 'state.json') };
}

async function sourceTable(name: string, items: number): Promise<void> {
  await createTable(local.client, { name, partitionKey: { name: 'id', type: 'S' }, streamViewType: 'NEW_AND_OLD_IMAGES' });
  if (items > 0) await seedItems(local.client, name, items, mulberry32(items));
}

function run(m: Migration, ...extra: string[]): Promise<CliResult> {
  return runCli(['run', '-c', m.cfg, '--until-synced', '--no-progress', ...extra], { timeoutMs: RUN_TIMEOUT_MS });
}

function readDeadLetters(m: Migration): DeadLetter[] {
  if (!existsSync(m.deadLetterFile)) return [];
  // The file is a log of failures and resolutions ({"resolved": id, …}); these tests read the failures.
  return readFileSync(m.deadLetterFile, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as DeadLetter & { resolved?: string })
    .filter((l) => l.resolved === undefined);
}

function readState(m: Migration): { phase: string; deadLetters: number; sources: Record<string, { stream: { shards: Record<string, { checkpoint?: string }> } }> } {
  return JSON.parse(readFileSync(m.statePath, 'utf8'));
}

const idOf = (key: Item | undefined): string => key?.['id']?.S ?? `<no id: ${JSON.stringify(key)}>`;
const show = (r: CliResult): string => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

/** The default mode stops at a bad item: exit 1, its code, and where the dead letters are. */
function assertHalted(r: CliResult, code: string, m: Migration): void {
  assert.equal(r.code, 1, `expected the run to halt with exit 1:\n${show(r)}`);
  assert.match(r.stderr, new RegExp(`\\[${code}\\]`), `expected [${code}] on stderr:\n${show(r)}`);
  assert.ok(r.stderr.includes(m.deadLetterFile), `stderr should name the dead-letter file ${m.deadLetterFile}:\n${show(r)}`);
  assert.match(r.stderr, /--on-error=dead-letter/, 'the hint should name the flag that sets bad items aside');
}

interface StatusJson {
  running: boolean;
  caughtUp: boolean;
  deadLetters: number;
  deadLetterFile: string;
  safeToCutOver: boolean;
  reason: string;
  runner?: { halt?: { code: string; message: string } };
}

async function status(m: Migration): Promise<StatusJson> {
  const r = await runCli(['status', '-c', m.cfg, '--json'], { timeoutMs: 30_000 });
  assert.equal(r.code, 0, show(r));
  return JSON.parse(r.stdout) as StatusJson;
}

/** Shard checkpoints of the single source, as BigInt (0 when a shard has none yet). */
function checkpoints(m: Migration): bigint[] {
  const shards = Object.values(readState(m).sources['source']!.stream.shards);
  return shards.map((s) => (s.checkpoint ? BigInt(s.checkpoint) : 0n));
}

const THROWING_TRANSFORM = [
  'export default function transform(item) {',
  "  if (item.id.endsWith('7')) throw new Error('boom ' + item.id);",
  '  return { ...item, migrated: true };',
  '}', '',
].join('\n');

function failingIds(sourceItems: Item[]): Set<string> {
  const failing = new Set(sourceItems.map((i) => i['id']!.S!).filter((id) => id.endsWith('7')));
  assert.equal(failing.size, 30);
  return failing;
}

/** The target equals transform(source) minus the failing items, and every failing item (only those) is dead-lettered. */
async function assertLandedExceptFailing(m: Migration, source: string, target: string, sourceItems: Item[], failing: Set<string>): Promise<void> {
  const expected = sourceItems.filter((i) => !failing.has(i['id']!.S!)).map((i) => ({ ...i, migrated: { BOOL: true } }));
  const actual = await scanAll(local.client, target);
  const diff = compareTables(expected, actual, ['id']);
  assert.ok(isEmptyDiff(diff), `target differs from transform(${source}) minus the failing items:\n${formatDiff(diff)}`);
  const letters = readDeadLetters(m);
  const lettered = new Set(letters.map((d) => idOf(d.sourceKey)));
  assert.deepEqual([...lettered].sort(), [...failing].sort(), 'every failing item, and nothing else, is in the dead-letter file');
  assert.equal(actual.length + lettered.size, sourceItems.length, 'every source item is either in the target or dead-lettered');
  for (const d of letters) {
    assert.equal(d.error.code, 'TRANSFORM_FAILED');
    assert.ok(d.error.message.includes(`boom ${idOf(d.sourceKey)}`), d.error.message);
  }
  // The backfill read each failing item once: each must be dead-lettered from the backfill, not only from the stream.
  const fromBackfill = new Set(letters.filter((d) => d.stage === 'backfill').map((d) => idOf(d.sourceKey)));
  assert.deepEqual([...fromBackfill].sort(), [...failing].sort());
}

describe('bad input is halted on or dead-lettered, never dropped', () => {
  test('a transform that throws for some items: halt by default, then --on-error=dead-letter lands the rest exactly', async () => {
    const [source, target] = ['bad_tx_src', 'bad_tx_dst'];
    await sourceTable(source, 300);
    const m = writeMigration('throwing-transform', source, target, THROWING_TRANSFORM);
    const sourceItems = await scanAll(local.client, source);
    const failing = failingIds(sourceItems);

    // 1. Default mode: the run halts and records what failed.
    const halted = await run(m);
    assertHalted(halted, 'TRANSFORM_FAILED', m);
    assert.match(halted.stderr, /boom item-\d+7/);
    const first = readDeadLetters(m);
    assert.ok(first.length > 0, 'the halted run should have written dead letters');
    for (const d of first) {
      const id = idOf(d.sourceKey);
      assert.ok(failing.has(id), `dead letter for an item that should not fail: ${JSON.stringify(d.sourceKey)}`);
      assert.equal(d.error.code, 'TRANSFORM_FAILED');
      assert.ok(d.error.message.includes(`boom ${id}`), `the dead letter should carry the transform's error: ${d.error.message}`);
      assert.equal(d.source, 'source');
    }
    const afterHalt = await status(m);
    assert.ok(afterHalt.deadLetters > 0, JSON.stringify(afterHalt));
    assert.equal(afterHalt.safeToCutOver, false);
    assert.equal(afterHalt.runner?.halt?.code, 'TRANSFORM_FAILED', JSON.stringify(afterHalt));
    assert.match(afterHalt.reason, /halted/);

    // 2. Dead-letter mode, resuming the halted migration: it completes, and nothing is lost.
    const done = await run(m, '--on-error=dead-letter');
    assert.equal(done.code, 0, show(done));
    await assertLandedExceptFailing(m, source, target, sourceItems, failing);
    const after = await status(m);
    assert.ok(after.deadLetters >= failing.size, `status should count the dead letters: ${JSON.stringify(after)}`);
    assert.equal(after.safeToCutOver, false);
  });

  test('with --on-error=dead-letter from the start, every other item lands exactly and dead letters block the cut-over', async () => {
    const [source, target] = ['bad_txdl_src', 'bad_txdl_dst'];
    await sourceTable(source, 300);
    const m = writeMigration('throwing-transform-dl', source, target, THROWING_TRANSFORM);
    const sourceItems = await scanAll(local.client, source);
    const failing = failingIds(sourceItems);

    const done = await run(m, '--on-error=dead-letter');
    assert.equal(done.code, 0, show(done));
    assert.ok(done.stderr.includes(m.deadLetterFile), `the run should say where the dead letters are:\n${show(done)}`);
    await assertLandedExceptFailing(m, source, target, sourceItems, failing);

    const after = await status(m);
    assert.ok(after.deadLetters >= failing.size, `status should count the dead letters: ${JSON.stringify(after)}`);
    assert.equal(after.deadLetterFile, m.deadLetterFile);
    assert.equal(after.safeToCutOver, false);

    // Even with a live run caught up with the stream, dead letters keep the migration from being safe to cut over.
    const live = spawnCli(['run', '-c', m.cfg, '--on-error=dead-letter', '--no-progress']);
    try {
      let seen: StatusJson | undefined;
      for (const deadline = Date.now() + 30_000; Date.now() < deadline;) {
        seen = await status(m);
        if ((seen.running && seen.caughtUp) || live.exitCode !== null) break;
        await sleep(250);
      }
      assert.ok(seen?.running && seen.caughtUp, `the live run should catch up: ${JSON.stringify(seen)}`);
      assert.ok(seen.deadLetters > 0);
      assert.equal(seen.safeToCutOver, false, `dead letters must block the cut-over: ${JSON.stringify(seen)}`);
      assert.match(seen.reason, /dead-letter/);
    } finally {
      live.kill('SIGTERM');
    }
    const stopped = await live.result;
    assert.equal(stopped.code, 0, `the live run should stop cleanly on SIGTERM:\n${show(stopped)}`);
  });

  test('an item the target rejects (> 400 KB): ITEM_REJECTED by default, dead-lettered alone with --on-error=dead-letter', async () => {
    const [source, target] = ['bad_big_src', 'bad_big_dst'];
    await sourceTable(source, 200);
    const bigId = 'item-000042';
    const m = writeMigration('oversized-item', source, target, [
      'export default function transform(item) {',
      `  if (item.id === '${bigId}') return { ...item, blob: 'x'.repeat(420 * 1024) };`,
      '  return item;',
      '}', '',
    ].join('\n'));
    const sourceItems = await scanAll(local.client, source);

    const halted = await run(m);
    assertHalted(halted, 'ITEM_REJECTED', m);
    assert.ok(halted.stderr.includes(bigId), `the error should name the rejected item:\n${show(halted)}`);
    const first = readDeadLetters(m);
    assert.ok(first.length > 0, 'the rejected item should be in the dead-letter file');
    for (const d of first) {
      assert.equal(idOf(d.sourceKey), bigId);
      assert.equal(d.target, 'target');
      assert.equal(d.error.code, 'ValidationException', `the service's error should be recorded: ${JSON.stringify(d.error)}`);
      assert.match(d.error.message, /size/i);
    }
    const afterHalt = await status(m);
    assert.ok(afterHalt.deadLetters > 0);
    assert.equal(afterHalt.safeToCutOver, false);
    assert.equal(afterHalt.runner?.halt?.code, 'ITEM_REJECTED');

    const done = await run(m, '--on-error=dead-letter');
    assert.equal(done.code, 0, show(done));
    const expected = sourceItems.filter((i) => i['id']!.S !== bigId);
    const diff = compareTables(expected, await scanAll(local.client, target), ['id']);
    assert.ok(isEmptyDiff(diff), `every other item should land unchanged:\n${formatDiff(diff)}`);
    const letters = readDeadLetters(m);
    assert.deepEqual([...new Set(letters.map((d) => idOf(d.sourceKey)))], [bigId], 'the dead-letter file holds exactly that item');
    // The dead-letter run meets the item again in the backfill (the halted page is re-read) and records nothing new
    // for it; as the seeding is recent, it may meet it once more when it replays the item's INSERT from the stream.
    assert.equal(letters.filter((d) => d.stage === 'backfill').length, 1, `the backfill failure is recorded once: ${JSON.stringify(letters.map((d) => d.stage))}`);
    for (const d of letters) {
      assert.equal(d.error.code, 'ValidationException');
      if (d.stage === 'stream') assert.ok(d.sequenceNumber);
    }

    const after = await status(m);
    assert.ok(after.deadLetters > 0);
    assert.equal(after.safeToCutOver, false);
  });

  test('a stream change that fails the transform during catch-up halts without moving the checkpoint past it', async () => {
    const [source, target] = ['bad_stream_src', 'bad_stream_dst'];
    await sourceTable(source, 60);
    const m = writeMigration('stream-failure', source, target, [
      'export default function transform(item) {',
      "  if (item.explode) throw new Error('exploded ' + item.id);",
      '  return item;',
      '}', '',
    ].join('\n'));

    // The backfill is clean; the bad item arrives only through the stream.
    const synced = await run(m);
    assert.equal(synced.code, 0, show(synced));
    assert.deepEqual(readDeadLetters(m), []);
    const before = checkpoints(m);

    const bad: Item = { id: { S: 'late-bad' }, explode: { BOOL: true } };
    const good: Item = { id: { S: 'late-good' }, v: { N: '1' } };
    await local.client.send(new PutItemCommand({ TableName: source, Item: bad }));
    await local.client.send(new PutItemCommand({ TableName: source, Item: good }));

    const halted = await run(m);
    assertHalted(halted, 'TRANSFORM_FAILED', m);
    assert.match(halted.stderr, /exploded late-bad/);
    const letters = readDeadLetters(m);
    assert.equal(letters.length, 1, `exactly the failing change is dead-lettered: ${JSON.stringify(letters)}`);
    const letter = letters[0]!;
    assert.equal(idOf(letter.sourceKey), 'late-bad');
    assert.equal(letter.stage, 'stream');
    assert.match(letter.error.message, /exploded late-bad/);
    assert.ok(letter.sequenceNumber && /^\d+$/.test(letter.sequenceNumber), `the dead letter should name the record: ${JSON.stringify(letter)}`);
    const failedAt = BigInt(letter.sequenceNumber);
    const held = checkpoints(m);
    assert.ok(held.every((c) => c < failedAt), `the checkpoint (${held.join(',')}) must stay before the failed record ${failedAt}`);
    assert.ok(held.every((c, i) => c >= (before[i] ?? 0n)), 'the checkpoint never moves backwards');

    // The same command meets the same record again: the failure was not skipped.
    const again = await run(m);
    assertHalted(again, 'TRANSFORM_FAILED', m);
    const lettersAgain = readDeadLetters(m);
    assert.deepEqual(lettersAgain, letters, 'the rerun meets the same record again, and records it once: no second entry on resume');
    assert.ok(checkpoints(m).every((c) => c < failedAt));
    const afterHalt = await status(m);
    assert.ok(afterHalt.deadLetters > 0);
    assert.equal(afterHalt.safeToCutOver, false);
    assert.equal(afterHalt.runner?.halt?.code, 'TRANSFORM_FAILED');

    // Setting it aside lets the catch-up proceed past it.
    const done = await run(m, '--on-error=dead-letter');
    assert.equal(done.code, 0, show(done));
    assert.ok(checkpoints(m).some((c) => c >= failedAt), 'the checkpoint moves past the dead-lettered record');
    const expected = (await scanAll(local.client, source)).filter((i) => i['id']!.S !== 'late-bad');
    const diff = compareTables(expected, await scanAll(local.client, target), ['id']);
    assert.ok(isEmptyDiff(diff), `the target should hold every change but the failed one:\n${formatDiff(diff)}`);
    const final = readDeadLetters(m);
    assert.ok(final.every((d) => idOf(d.sourceKey) === 'late-bad' && d.sequenceNumber === letter.sequenceNumber), JSON.stringify(final));
    const after = await status(m);
    assert.ok(after.deadLetters > 0);
    assert.equal(after.safeToCutOver, false);
  });

  test('a transient bad change (written, then deleted) halts the catch-up too, though no scan can see it', async () => {
    // The planner samples the table; a change that is no longer in the table can only be met in the stream.
    const [source, target] = ['bad_transient_src', 'bad_transient_dst'];
    await sourceTable(source, 60);
    const m = writeMigration('transient-failure', source, target, [
      'export default function transform(item) {',
      "  if (item.explode) throw new Error('exploded ' + item.id);",
      '  return item;',
      '}', '',
    ].join('\n'));
    const synced = await run(m);
    assert.equal(synced.code, 0, show(synced));

    await local.client.send(new PutItemCommand({ TableName: source, Item: { id: { S: 'brief-bad' }, explode: { BOOL: true } } }));
    await local.client.send(new DeleteItemCommand({ TableName: source, Key: { id: { S: 'brief-bad' } } }));

    const halted = await run(m);
    assertHalted(halted, 'TRANSFORM_FAILED', m);
    const letters = readDeadLetters(m);
    assert.ok(letters.length >= 1 && letters.every((d) => idOf(d.sourceKey) === 'brief-bad' && d.stage === 'stream' && d.sequenceNumber),
      JSON.stringify(letters));
    const firstFailed = letters.map((d) => BigInt(d.sequenceNumber!)).reduce((a, b) => (a < b ? a : b));
    assert.ok(checkpoints(m).every((c) => c < firstFailed), 'the checkpoint must stay before the first failed record');

    const again = await run(m);
    assertHalted(again, 'TRANSFORM_FAILED', m);

    const done = await run(m, '--on-error=dead-letter');
    assert.equal(done.code, 0, show(done));
    const diff = compareTables(await scanAll(local.client, source), await scanAll(local.client, target), ['id']);
    assert.ok(isEmptyDiff(diff), formatDiff(diff));
    const st = await status(m);
    assert.ok(st.deadLetters > 0);
    assert.equal(st.safeToCutOver, false);
    assert.equal(dirname(st.deadLetterFile), dirname(m.statePath));
  });
});
