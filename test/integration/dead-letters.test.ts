/**
 * The dead-letter lifecycle end to end on DynamoDB Local: a bad transform halts the run; the failures are recorded once
 * per item (not again on resume) in DynamoDB JSON; after the transform is fixed, a rerun that applies the failed items
 * again resolves them, or `dynashift dead-letters retry` re-reads them from the source — the fixed transform accepted
 * explicitly (`--accept-transform`) without re-copying the table; the unresolved count follows, and `cutover reads`
 * passes without --force.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BatchWriteItemCommand, PutItemCommand, UpdateItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { createStateTable, DynamoDbStateStore } from '../../src/state/dynamodb-state-store.js';
import { deadLetterId } from '../../src/state/dead-letters.js';
import type { MigrationState } from '../../src/state/migration-state.js';
import { runCli, spawnCli, type CliResult } from '../support/cli.js';
import { createTable, enableStream, withDynamoDbLocal } from '../support/dynamodb-local.js';
import { compareTables, formatDiff, isEmptyDiff, scanAll } from '../support/independent-scan.js';

const local = withDynamoDbLocal();

type Item = Record<string, AttributeValue>;

const BAD_TRANSFORM = [
  'export default function transform(item) {',
  "  if (item.id.endsWith('7')) throw new Error('boom ' + item.id);",
  '  return { ...item, migrated: true };',
  '}',
  '',
].join('\n');
const GOOD_TRANSFORM = 'export default function transform(item) {\n  return { ...item, migrated: true };\n}\n';

interface Migration {
  dir: string;
  cfg: string;
  deadLetterFile: string;
}

function writeMigration(name: string, source: string, target: string): Migration {
  const dir = mkdtempSync(join(tmpdir(), 'dynashift-dead-letters-'));
  writeFileSync(join(dir, 'transform.mjs'), BAD_TRANSFORM);
  const table = (t: string) => ({ table: t, endpoint: local.endpoint, region: 'us-east-1' });
  const cfg = join(dir, 'dynashift.config.json');
  // One segment: the single page holds every failing item, so the halted run meets all of them.
  writeFileSync(
    cfg,
    JSON.stringify(
      {
        name,
        source: table(source),
        target: table(target),
        transform: './transform.mjs',
        backfill: { segments: 1, concurrency: 1 },
        stream: { pollIntervalMs: 100, discoveryIntervalMs: 1000 },
      },
      null,
      2,
    ),
  );
  return { dir, cfg, deadLetterFile: join(dir, '.dynashift', name, 'dead-letter.jsonl') };
}

const fixTransform = (m: Migration) => writeFileSync(join(m.dir, 'transform.mjs'), GOOD_TRANSFORM);

/**
 * A table that has held its items for a while: seeded before its stream is enabled. Seeded with the stream on, the
 * seeding's own records lie inside the snapshot margin, so the stream applier (running during the backfill) meets each
 * bad item too and records a second, stream-stage failure for it — correct, but not the backfill lifecycle this file
 * follows (and how many it meets before the halt depends on timing).
 */
async function seed(table: string, count: number): Promise<void> {
  await createTable(local.client, { name: table, partitionKey: { name: 'id', type: 'S' } });
  const items: Item[] = Array.from({ length: count }, (_, i) => ({
    id: { S: `item-${String(i).padStart(4, '0')}` },
    n: { N: String(10n ** 37n + BigInt(i)) },
    bin: { B: Uint8Array.from([27, i % 256, 255]) },
  }));
  for (let i = 0; i < items.length; i += 25) {
    await local.client.send(
      new BatchWriteItemCommand({ RequestItems: { [table]: items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })) } }),
    );
  }
  await enableStream(local.client, table);
}

const cli = (m: Migration, ...args: string[]) => runCli([...args, '-c', m.cfg], { timeoutMs: 90_000 });
const run = (m: Migration, ...extra: string[]) => cli(m, 'run', '--until-synced', '--no-progress', ...extra);
const show = (r: CliResult) => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

interface ListJson {
  unresolved: number;
  total: number;
  deadLetters: { id: string; sourceKey: Item; resolved: boolean; failures: { stage: string; resolved?: { by: string; reason?: string } }[] }[];
}

async function list(m: Migration, ...extra: string[]): Promise<ListJson> {
  const r = await cli(m, 'dead-letters', 'list', '--json', ...extra);
  assert.equal(r.code, 0, show(r));
  return JSON.parse(r.stdout) as ListJson;
}

async function status(m: Migration): Promise<{ phase: string; running: boolean; caughtUp: boolean; deadLetters: number; safeToCutOver: boolean }> {
  const r = await cli(m, 'status', '--json');
  assert.equal(r.code, 0, show(r));
  return JSON.parse(r.stdout);
}

function failureLines(m: Migration): Record<string, unknown>[] {
  return readFileSync(m.deadLetterFile, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l['resolved'] === undefined);
}

const failingIds = (items: Item[]) =>
  items
    .map((i) => i['id']!.S!)
    .filter((id) => id.endsWith('7'))
    .sort();

async function assertTargetIsTransformOfSource(source: string, target: string, except: string[] = []): Promise<void> {
  const expected = (await scanAll(local.client, source))
    .filter((i) => !except.includes(i['id']!.S!))
    .map((i) => ({ ...i, migrated: { BOOL: true } }));
  const diff = compareTables(expected, await scanAll(local.client, target), ['id']);
  assert.ok(isEmptyDiff(diff), formatDiff(diff));
}

/** Starts a live run, waits until it is caught up, asks for `cutover reads` (no --force), and stops the run. */
async function cutoverReadsWithLiveRun(m: Migration): Promise<CliResult> {
  const live = spawnCli(['run', '-c', m.cfg, '--no-progress']);
  try {
    for (const deadline = Date.now() + 60_000; ; ) {
      const s = await status(m);
      if (s.running && s.caughtUp && s.phase === 'in-sync') break;
      assert.ok(Date.now() < deadline && live.exitCode === null, `the live run should catch up: ${JSON.stringify(s)}`);
      await sleep(250);
    }
    return await cli(m, 'cutover', 'reads');
  } finally {
    live.kill('SIGTERM');
    await live.result;
  }
}

describe('dead letters have a lifecycle', () => {
  test(
    'halt on a bad transform, fix it, rerun: the dead letters are resolved by the rerun and `cutover reads` passes without --force',
    { timeout: 300_000 },
    async () => {
      const [source, target] = ['dl_halt_src', 'dl_halt_dst'];
      await seed(source, 120);
      const m = writeMigration('dl-halt', source, target);
      const failing = failingIds(await scanAll(local.client, source));
      assert.equal(failing.length, 12);

      const halted = await run(m);
      assert.equal(halted.code, 1, show(halted));
      assert.match(halted.stderr, /\[TRANSFORM_FAILED\]/);
      const first = failureLines(m);
      assert.deepEqual(first.map((l) => (l['sourceKey'] as Item)['id']!.S).sort(), failing, 'one entry per failing item');
      for (const l of first) {
        const bin = (l['item'] as Record<string, { B?: unknown }>)['bin']!.B;
        assert.equal(typeof bin, 'string', `binary is base64 in the file, not {"0":27,…}: ${JSON.stringify(l['item'])}`);
        assert.match((l['item'] as Record<string, { N?: string }>)['n']!.N ?? '', /^10{32}\d{5}$/, 'numbers are exact 38-digit strings');
      }
      let listed = await list(m);
      assert.equal(listed.unresolved, 12);
      assert.equal((await status(m)).deadLetters, 12);

      // Resuming meets the same failures again and records none of them twice.
      const again = await run(m);
      assert.equal(again.code, 1, show(again));
      assert.equal(failureLines(m).length, 12, 'no duplicate entries on resume');

      // The fix is a changed transform: a plain resume refuses it (TRANSFORM_CHANGED) and names both explicit choices.
      fixTransform(m);
      const refused = await run(m);
      assert.equal(refused.code, 2, show(refused));
      assert.match(refused.stderr, /\[TRANSFORM_CHANGED\]/);
      assert.match(refused.stderr, /fix: .*run --accept-transform.*run --rebackfill/);
      assert.equal((await list(m)).unresolved, 12, 'a refused resume resolves nothing');
      // The fix only changes what the transform makes of the items that failed: accept it, with no re-copy. The rerun
      // resumes from the checkpoint the halt left before the failing page and applies the failed items under it.
      const fixed = await run(m, '--accept-transform');
      assert.equal(fixed.code, 0, show(fixed));
      assert.match(fixed.stderr, /new transform is accepted.*dynashift verify/);
      listed = await list(m, '--all');
      assert.equal(listed.unresolved, 0, JSON.stringify(listed));
      assert.equal(listed.total, 12);
      for (const l of listed.deadLetters) {
        assert.equal(l.resolved, true);
        assert.ok(
          l.failures.every((f) => f.resolved?.by === 'rerun'),
          JSON.stringify(l),
        );
      }
      assert.equal((await status(m)).deadLetters, 0);
      await assertTargetIsTransformOfSource(source, target);
      const verified = await cli(m, 'verify');
      assert.equal(verified.code, 0, `verify, as the accepted change suggests, finds every item as the new transform makes it:\n${show(verified)}`);

      const reads = await cutoverReadsWithLiveRun(m);
      assert.equal(
        reads.code,
        0,
        `cutover reads must pass without --force once nothing is unresolved (and the live run resumes under the accepted transform with no flag):\n${show(reads)}`,
      );
    },
  );

  test(
    'dead-letter mode: retry re-reads the items from the source (refused while a run is active, and under an unaccepted transform), discard resolves with a reason',
    { timeout: 300_000 },
    async () => {
      const [source, target] = ['dl_retry_src', 'dl_retry_dst'];
      await seed(source, 60);
      const m = writeMigration('dl-retry', source, target);
      const failing = failingIds(await scanAll(local.client, source));
      assert.equal(failing.length, 6);

      const done = await run(m, '--on-error=dead-letter');
      assert.equal(done.code, 0, show(done));
      // The backfill fails each item, and the stream replays each item's INSERT, which fails too: still one per item.
      let listed = await list(m);
      assert.deepEqual(listed.deadLetters.map((l) => l.sourceKey['id']!.S).sort(), failing);
      const refusedReads = await cutoverReadsWithLiveRun(m);
      assert.notEqual(refusedReads.code, 0, show(refusedReads));
      assert.match(refusedReads.stdout + refusedReads.stderr, /6 unresolved dead letter\(s\).*dead-letters retry/s);

      // A failing item changes after the failure: retry must apply what the source holds now.
      await local.client.send(
        new UpdateItemCommand({
          TableName: source,
          Key: { id: { S: failing[0]! } },
          UpdateExpression: 'SET n = :n',
          ExpressionAttributeValues: { ':n': { N: '99999999999999999999999999999999999999' } },
        }),
      );
      // The live run only holds the lock, with the transform it started with (a changed one would be TRANSFORM_CHANGED),
      // in the migration's dead-letter mode: it meets the changed item's record, which fails again, and goes on.
      const live = spawnCli(['run', '-c', m.cfg, '--no-progress', '--on-error=dead-letter']);
      try {
        for (const deadline = Date.now() + 30_000; !(await status(m)).running; ) {
          assert.ok(Date.now() < deadline, 'the live run should start');
          await sleep(200);
        }
        const raced = await cli(m, 'dead-letters', 'retry');
        assert.equal(raced.code, 1, show(raced));
        assert.match(raced.stderr, /\[STATE_LOCKED\]/);
        assert.match(raced.stderr, /fix: stop it \(kill -TERM \d+\)/);
      } finally {
        live.kill('SIGTERM');
        const stopped = await live.result;
        assert.equal(stopped.code, 0, show(stopped));
      }
      fixTransform(m);

      const noReason = await cli(m, 'dead-letters', 'discard', listed.deadLetters[0]!.id);
      assert.equal(noReason.code, 2, show(noReason));
      const discarded = listed.deadLetters.find((l) => l.sourceKey['id']!.S === failing[5])!;
      const discard = await cli(m, 'dead-letters', 'discard', discarded.id.slice(0, 8), '--reason', 'test data, not needed');
      assert.equal(discard.code, 0, show(discard));

      // The fixed transform is not the recorded one: a retry under it is refused until it is accepted, and writes nothing.
      const targetBefore = await scanAll(local.client, target);
      const unaccepted = await cli(m, 'dead-letters', 'retry');
      assert.equal(unaccepted.code, 2, show(unaccepted));
      assert.match(unaccepted.stderr, /\[TRANSFORM_CHANGED\]/);
      assert.match(unaccepted.stderr, /fix: .*dead-letters retry --accept-transform.*run --rebackfill/);
      assert.equal((await list(m)).unresolved, 5);
      assert.deepEqual(await scanAll(local.client, target), targetBefore, 'a refused retry writes nothing');

      const retried = await cli(m, 'dead-letters', 'retry', '--accept-transform');
      assert.equal(retried.code, 0, show(retried));
      assert.match(retried.stdout, /5 of 5 resolved/);
      assert.match(retried.stderr, /new transform is accepted/);
      listed = await list(m, '--all');
      assert.equal(listed.unresolved, 0);
      const byId = new Map(listed.deadLetters.map((l) => [l.sourceKey['id']!.S!, l]));
      for (const f of byId.get(failing[5]!)!.failures) assert.deepEqual([f.resolved?.by, f.resolved?.reason], ['discard', 'test data, not needed']);
      for (const id of failing.slice(0, 5))
        assert.ok(
          byId.get(id)!.failures.every((f) => f.resolved?.by === 'retry'),
          id,
        );
      await assertTargetIsTransformOfSource(source, target, [failing[5]!]);

      // The accepted transform is recorded: the live run resumes under it with no flag.
      const reads = await cutoverReadsWithLiveRun(m);
      assert.equal(reads.code, 0, show(reads));
      await assertTargetIsTransformOfSource(source, target, [failing[5]!]);
    },
  );

  test(
    "the AWS runner's state table: one dead letter per item, resolutions, a derived count, and entries written before still load",
    { timeout: 120_000 },
    async () => {
      await createStateTable(local.client, 'dl_state');
      const store = new DynamoDbStateStore({ client: local.client, table: 'dl_state', migration: 'dl-aws' });
      const now = new Date().toISOString();
      const state: MigrationState = {
        version: 1,
        migration: 'dl-aws',
        configFingerprint: 'f',
        createdAt: now,
        updatedAt: now,
        phase: 'catching-up',
        sources: {},
        deadLetters: 0,
      };
      await store.save(state);
      const bin = Uint8Array.from([27, 0, 255]);
      const b64 = Buffer.from(bin).toString('base64');
      const key = { id: { B: b64 } };
      // Written before the lifecycle: another key hash, binary as {"0":27,…}, no id.
      const oldDoc = {
        at: '2026-01-01T00:00:00.000Z',
        stage: 'backfill',
        source: 'source',
        sourceKey: { id: { B: { 0: 27, 1: 0, 2: 255 } } },
        error: { code: 'TRANSFORM_FAILED', message: 'old' },
      };
      await local.client.send(
        new PutItemCommand({
          TableName: 'dl_state',
          Item: { pk: { S: 'dl-aws' }, sk: { S: 'dlq#0123456789abcdef' }, doc: { S: JSON.stringify(oldDoc) }, at: { S: oldDoc.at } },
        }),
      );
      const streamFailure = {
        at: now,
        stage: 'stream' as const,
        source: 'source',
        sourceKey: key,
        sequenceNumber: '42',
        record: { sequenceNumber: '42', keys: key },
        error: { code: 'TRANSFORM_FAILED', message: 'new' },
      };
      await store.appendDeadLetters([streamFailure, streamFailure]);
      await store.appendDeadLetters([
        {
          at: now,
          stage: 'stream',
          source: 'source',
          sourceKey: { id: { S: 'other' } },
          sequenceNumber: '43',
          error: { code: 'TRANSFORM_FAILED', message: 'x' },
        },
      ]);

      const letters = await store.deadLetters();
      assert.equal(letters.length, 2, 'the old entry and the new failure of the same item are one dead letter');
      const same = letters.find((l) => l.id === deadLetterId('source', key))!;
      assert.equal(same.failures.length, 2);
      assert.equal((await store.load())!.deadLetters, 2);

      await store.resolveDeadLetters([{ id: same.id, at: new Date().toISOString(), by: 'discard', reason: 'checked by hand' }]);
      assert.equal((await store.load())!.deadLetters, 1, 'the count follows the resolutions');
      const resolved = (await store.deadLetters()).find((l) => l.id === same.id)!;
      assert.ok(resolved.failures.every((f) => f.resolved?.by === 'discard' && f.resolved.reason === 'checked by hand'));

      // The same failure again opens it again.
      await store.appendDeadLetters([streamFailure]);
      assert.equal((await store.load())!.deadLetters, 2);
    },
  );

  test(
    "DynamoDB Local's untyped empty map in a stream image halts with STREAM_RECORD_INCOMPLETE and its quirk; retry re-reads the item whole",
    { timeout: 300_000 },
    async () => {
      const [source, target] = ['dl_empty_src', 'dl_empty_dst'];
      await seed(source, 20);
      const m = writeMigration('dl-empty-map', source, target);
      fixTransform(m);
      const synced = await run(m);
      assert.equal(synced.code, 0, show(synced));

      // Local writes {"m":{}} (no M type) for this item's empty map in the stream's new image.
      await local.client.send(new PutItemCommand({ TableName: source, Item: { id: { S: 'empty-map' }, m: { M: {} } } }));
      const halted = await run(m);
      assert.equal(halted.code, 1, show(halted));
      assert.match(halted.stderr, /\[STREAM_RECORD_INCOMPLETE\].*without a type at m of its new image/);
      assert.match(halted.stderr, /fix: .*DynamoDB Local \(3\.x\) writes empty maps as \{\}/);
      assert.doesNotMatch(halted.stderr, /TRANSFORM_FAILED|transform threw|No value defined/);

      const passed = await run(m, '--on-error=dead-letter');
      assert.equal(passed.code, 0, show(passed));
      const listed = await list(m);
      assert.equal(listed.unresolved, 1);
      assert.equal(listed.deadLetters[0]!.sourceKey['id']!.S, 'empty-map');

      const retried = await cli(m, 'dead-letters', 'retry');
      assert.equal(retried.code, 0, show(retried));
      assert.equal((await list(m)).unresolved, 0);
      await assertTargetIsTransformOfSource(source, target);
    },
  );
});
