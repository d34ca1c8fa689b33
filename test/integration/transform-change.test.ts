/**
 * A changed transform is part of what a resume must match (issue 18, defect 2). Before, a rerun with another transform
 * exited 0 "in sync" with the target holding both transforms' output. Now: refused with TRANSFORM_CHANGED; `run
 * --rebackfill` re-copies every item under the new transform keeping the stream position; the old transform's
 * leftovers are reported by `verify` and removed by `verify --repair`; a state from before fingerprints resumes.
 * `run --accept-transform` records the new transform without re-copying anything; when the operator's claim that the
 * change alters no written item is wrong, `verify` shows exactly the altered items and `verify --repair` rewrites them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createTable, withDynamoDbLocal } from '../support/dynamodb-local.js';
import { runCli, type CliResult } from '../support/cli.js';
import { compareTables, formatDiff, isEmptyDiff, scanAll } from '../support/independent-scan.js';
import { mulberry32, runWorkload, seedItems } from '../support/workload.js';

// A patient start: DynamoDB Local's JVM can take minutes to answer on a loaded machine.
const local = withDynamoDbLocal({ startTimeoutMs: 180_000 });
const V1 = `export default (item) => ({ ...item, gk: item.grp, rule: 'v1' });\n`;
// v2 moves every item to another target key, so every v1 item becomes a leftover.
const V2 = `export default (item) => ({ ...item, gk: item.grp + '#2', rule: 'v2' });\n`;
// Keeps every target key, but alters the rule of the items whose id ends in 3 (a change that is not a mere fix).
const V1_ALTERED = `export default (item) => ({ ...item, gk: item.grp, rule: item.id.endsWith('3') ? 'v1b' : 'v1' });\n`;
const show = (r: CliResult) => `exit ${r.code}\n${r.stdout}\n${r.stderr}`;
const cli = (...args: string[]) => runCli(args, { timeoutMs: 240_000 });

test(
  'a changed transform is refused on resume; --rebackfill re-copies under it and verify --repair removes the old leftovers',
  { timeout: 1_200_000 },
  async () => {
    const { client, endpoint } = local;
    const dir = mkdtempSync(join(tmpdir(), 'dynashift-transform-change-'));
    await createTable(client, { name: 'orders', partitionKey: { name: 'id', type: 'S' }, streamViewType: 'NEW_AND_OLD_IMAGES' });
    await seedItems(client, 'orders', 200, mulberry32(41));
    writeFileSync(join(dir, 'transform.mjs'), V1);
    const cfg = join(dir, 'dynashift.config.json');
    writeFileSync(
      cfg,
      JSON.stringify(
        {
          name: 'change',
          source: { table: 'orders', endpoint, region: 'us-east-1' },
          target: {
            table: 'orders_v2',
            endpoint,
            region: 'us-east-1',
            create: { keySchema: { partitionKey: { name: 'gk', type: 'S' }, sortKey: { name: 'id', type: 'S' } } },
          },
          transform: './transform.mjs',
          backfill: { segments: 2, concurrency: 2 },
          stream: { pollIntervalMs: 100, discoveryIntervalMs: 500 },
        },
        null,
        2,
      ),
    );
    const statePath = join(dir, '.dynashift', 'change', 'state.json');

    let r = await cli('run', '-c', cfg, '--until-synced', '--no-progress');
    assert.equal(r.code, 0, show(r));

    // A state written before transform fingerprints existed still resumes, and gets one.
    const old = JSON.parse(readFileSync(statePath, 'utf8'));
    assert.ok(old.transformFingerprint, 'a new state records the transform fingerprint');
    delete old.transformFingerprint;
    writeFileSync(statePath, JSON.stringify(old));
    r = await cli('run', '-c', cfg, '--until-synced', '--no-progress');
    assert.equal(r.code, 0, show(r));
    assert.match(r.stderr, /predates transform fingerprints/);
    assert.ok(JSON.parse(readFileSync(statePath, 'utf8')).transformFingerprint, 'the migrated state holds the fingerprint');

    // The transform changes: refused, nothing written.
    writeFileSync(join(dir, 'transform.mjs'), V2);
    const before = await scanAll(client, 'orders_v2');
    r = await cli('run', '-c', cfg, '--until-synced', '--no-progress');
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /\[TRANSFORM_CHANGED\]/);
    assert.match(r.stderr, /fix: .*--rebackfill.*start over/);
    assert.deepEqual(await scanAll(client, 'orders_v2'), before, 'a refused resume writes nothing');

    // --rebackfill, with the application writing meanwhile: every item re-copied under v2, the stream still applied.
    const writer = runWorkload(client, 'orders', { rng: mulberry32(42), idSpace: 260, maxOps: 300, concurrency: 2 });
    r = await cli('run', '-c', cfg, '--rebackfill', '--until-synced', '--no-progress');
    await writer;
    assert.equal(r.code, 0, show(r));
    assert.match(r.stderr, /verify --repair/);
    r = await cli('run', '-c', cfg, '--until-synced', '--no-progress');
    assert.equal(r.code, 0, `the writes made during the re-copy are applied, and the new transform is now the recorded one:\n${show(r)}`);
    const leftovers = await compare(client);
    assert.equal(leftovers.missing.length + leftovers.differing.length, 0, `every item follows v2:\n${formatDiff(leftovers)}`);
    assert.ok(leftovers.extra.length > 0, 'v1 items at keys v2 no longer produces are left for verify to find');

    // verify finds the leftovers; verify --repair removes them.
    r = await cli('verify', '-c', cfg);
    assert.equal(r.code, 1, show(r));
    assert.match(r.stdout + r.stderr, /extra/);
    r = await cli('verify', '-c', cfg, '--repair');
    assert.match(r.stdout, /extra 200 .* repaired 200 · not repaired 0/, show(r));
    r = await cli('verify', '-c', cfg);
    assert.equal(r.code, 0, `a second verify confirms the repair:\n${show(r)}`);
    const final = await compare(client);
    assert.ok(isEmptyDiff(final), formatDiff(final));
  },
);

test(
  '--accept-transform goes on under the new transform without re-copying; verify finds the written items the change did alter, and --repair rewrites them',
  { timeout: 900_000 },
  async () => {
    const { client, endpoint } = local;
    const dir = mkdtempSync(join(tmpdir(), 'dynashift-accept-transform-'));
    await createTable(client, { name: 'acc_orders', partitionKey: { name: 'id', type: 'S' }, streamViewType: 'NEW_AND_OLD_IMAGES' });
    await seedItems(client, 'acc_orders', 200, mulberry32(43));
    writeFileSync(join(dir, 'transform.mjs'), V1);
    const cfg = join(dir, 'dynashift.config.json');
    writeFileSync(
      cfg,
      JSON.stringify(
        {
          name: 'accept',
          source: { table: 'acc_orders', endpoint, region: 'us-east-1' },
          target: {
            table: 'acc_orders_v2',
            endpoint,
            region: 'us-east-1',
            create: { keySchema: { partitionKey: { name: 'gk', type: 'S' }, sortKey: { name: 'id', type: 'S' } } },
          },
          transform: './transform.mjs',
          backfill: { segments: 2, concurrency: 2 },
          stream: { pollIntervalMs: 100, discoveryIntervalMs: 500 },
        },
        null,
        2,
      ),
    );
    const statePath = join(dir, '.dynashift', 'accept', 'state.json');
    let r = await cli('run', '-c', cfg, '--until-synced', '--no-progress');
    assert.equal(r.code, 0, show(r));

    // The operator believes the change only fixes failing items, but it alters the 20 items whose id ends in 3.
    writeFileSync(join(dir, 'transform.mjs'), V1_ALTERED);
    const before = await scanAll(client, 'acc_orders_v2');
    r = await cli('run', '-c', cfg, '--until-synced', '--no-progress');
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /\[TRANSFORM_CHANGED\]/);
    assert.match(r.stderr, /fix: .*run --accept-transform.*run --rebackfill/);

    r = await cli('run', '-c', cfg, '--until-synced', '--no-progress', '--accept-transform', '--rebackfill');
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /\[CONFIG_INVALID\].*two different answers/);

    const recorded = JSON.parse(readFileSync(statePath, 'utf8')).transformFingerprint;
    r = await cli('run', '-c', cfg, '--until-synced', '--no-progress', '--accept-transform');
    assert.equal(r.code, 0, show(r));
    assert.match(r.stderr, /new transform is accepted.*dynashift verify/);
    const state = JSON.parse(readFileSync(statePath, 'utf8'));
    assert.notDeepEqual(state.transformFingerprint, recorded, 'the new transform is the recorded one');
    assert.deepEqual(state.transformAccepted.from, recorded, 'and the state keeps the one it replaced');
    assert.deepEqual(await scanAll(client, 'acc_orders_v2'), before, 'nothing is re-copied: written items stay as they are');
    r = await cli('run', '-c', cfg, '--until-synced', '--no-progress');
    assert.equal(r.code, 0, `a plain resume goes on under the accepted transform:\n${show(r)}`);

    // verify holds the claim against the new transform: exactly the 20 altered items differ; --repair rewrites them.
    r = await cli('verify', '-c', cfg);
    assert.equal(r.code, 1, show(r));
    assert.match(r.stdout, /missing 0 · extra 0 · differing 20 /, show(r));
    r = await cli('verify', '-c', cfg, '--repair');
    assert.match(r.stdout, /differing 20 .* repaired 20 · not repaired 0/, show(r));
    r = await cli('verify', '-c', cfg);
    assert.equal(r.code, 0, `a second verify confirms the repair:\n${show(r)}`);
    const expected = (await scanAll(client, 'acc_orders')).map((i) => ({ ...i, gk: i.grp!, rule: { S: i.id!.S!.endsWith('3') ? 'v1b' : 'v1' } }));
    const diff = compareTables(expected, await scanAll(client, 'acc_orders_v2'), ['gk', 'id']);
    assert.ok(isEmptyDiff(diff), formatDiff(diff));
  },
);

async function compare(client: DynamoDBClient) {
  const expected = (await scanAll(client, 'orders')).map((i) => ({ ...i, gk: { S: `${i.grp!.S}#2` }, rule: { S: 'v2' } }));
  return compareTables(expected, await scanAll(client, 'orders_v2'), ['gk', 'id']);
}
