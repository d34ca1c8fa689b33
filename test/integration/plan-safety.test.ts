/**
 * `plan` refusals for mistakes that used to pass silently (issue 18, defects 3 and 4, and assumption A2): the same
 * table reached through two spellings of one endpoint; a transform that returns undefined (a forgotten `return`); a
 * transform that is not a pure function. Each is refused with exit 2, its own code and a fix, before anything is
 * created or written. Kept apart from plan-refusals.test.ts, which is being reshaped into a table.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { runCli, type CliResult } from '../support/cli.js';
import { createTable, withDynamoDbLocal } from '../support/dynamodb-local.js';
import { scanAll } from '../support/independent-scan.js';
import { mulberry32, seedItems } from '../support/workload.js';

// A patient start: DynamoDB Local's JVM can take minutes to answer on a loaded machine.
const local = withDynamoDbLocal({ startTimeoutMs: 180_000 });
const CLI_TIMEOUT_MS = 120_000;
const FAST = { backfill: { segments: 2, concurrency: 2 }, stream: { pollIntervalMs: 100, discoveryIntervalMs: 1000 } };

let counter = 0;
async function sourceTable(items = 30): Promise<string> {
  const name = `safety_src_${++counter}`;
  await createTable(local.client, { name, partitionKey: { name: 'id', type: 'S' }, streamViewType: 'NEW_AND_OLD_IMAGES' });
  await seedItems(local.client, name, items, mulberry32(counter));
  return name;
}

function writeConfig(config: Record<string, unknown>, files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'dynashift-plan-safety-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const path = join(dir, 'dynashift.config.json');
  writeFileSync(path, JSON.stringify(config, null, 2));
  return path;
}

const ref = (table: string, endpoint = local.endpoint) => ({ table, endpoint, region: 'us-east-1' });
const show = (r: CliResult): string => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

function assertRefused(r: CliResult, code: string, hint: RegExp): string {
  assert.equal(r.code, 2, `expected exit 2 (refused):\n${show(r)}`);
  const lines = r.stderr.split('\n');
  const at = lines.findIndex((l) => l.includes(`[${code}]`));
  assert.ok(at >= 0, `expected [${code}] on stderr:\n${show(r)}`);
  assert.match(lines.slice(at + 1).find((l) => /^\s*fix:/.test(l)) ?? '', hint, show(r));
  return lines[at]!;
}

async function tableExists(table: string): Promise<boolean> {
  try {
    await local.client.send(new DescribeTableCommand({ TableName: table }));
    return true;
  } catch (err) {
    if ((err as Error).name === 'ResourceNotFoundException') return false;
    throw err;
  }
}

describe('plan refuses what used to pass silently', () => {
  test('the source table reached as localhost and as 127.0.0.1 is recognised as one table by its ARN/ID: TARGET_IS_SOURCE, and run writes nothing', async () => {
    const source = await sourceTable();
    const other = local.endpoint.replace('127.0.0.1', 'localhost');
    assert.notEqual(other, local.endpoint, 'the test needs two spellings of one endpoint');
    const cfg = writeConfig({ source: ref(source), target: ref(source, other), ...FAST });
    const message = assertRefused(await runCli(['plan', '-c', cfg], { timeoutMs: CLI_TIMEOUT_MS }), 'TARGET_IS_SOURCE', /new target table name/);
    assert.match(message, /same table as source/);
    const before = await scanAll(local.client, source);
    assertRefused(
      await runCli(['run', '-c', cfg, '--until-synced', '--no-progress'], { timeoutMs: CLI_TIMEOUT_MS }),
      'TARGET_IS_SOURCE',
      /target\.table/,
    );
    assert.deepEqual(await scanAll(local.client, source), before, 'the source is untouched');
  });

  test('a different table at another spelling of the endpoint is not mistaken for the source', async () => {
    const source = await sourceTable();
    const target = `safety_dst_${++counter}`;
    await createTable(local.client, { name: target, partitionKey: { name: 'id', type: 'S' } });
    const cfg = writeConfig({ source: ref(source), target: ref(target, local.endpoint.replace('127.0.0.1', 'localhost')), ...FAST });
    const r = await runCli(['plan', '-c', cfg], { timeoutMs: CLI_TIMEOUT_MS });
    assert.equal(r.code, 0, show(r));
  });

  test('a transform that returns undefined (a forgotten return) is refused with TRANSFORM_OUTPUT_INVALID, not run as "filter everything"', async () => {
    const source = await sourceTable();
    const target = `safety_dst_${++counter}`;
    const cfg = writeConfig(
      { source: ref(source), target: ref(target), transform: './transform.mjs', ...FAST },
      { 'transform.mjs': 'export default (item) => { ({ ...item, migrated: true }); };\n' },
    );
    const message = assertRefused(
      await runCli(['plan', '-c', cfg], { timeoutMs: CLI_TIMEOUT_MS }),
      'TRANSFORM_OUTPUT_INVALID',
      /null to leave it out/,
    );
    assert.match(message, /undefined/);
    assertRefused(
      await runCli(['run', '-c', cfg, '--until-synced', '--no-progress'], { timeoutMs: CLI_TIMEOUT_MS }),
      'TRANSFORM_OUTPUT_INVALID',
      /null/,
    );
    assert.equal(await tableExists(target), false, 'run refused before creating the target');
  });

  test('a transform that returns null for every item is a valid filter and plans', async () => {
    const source = await sourceTable();
    const cfg = writeConfig(
      { source: ref(source), target: ref(`safety_dst_${++counter}`), transform: './transform.mjs', ...FAST },
      { 'transform.mjs': 'export default () => null;\n' },
    );
    const r = await runCli(['plan', '-c', cfg], { timeoutMs: CLI_TIMEOUT_MS });
    assert.equal(r.code, 0, show(r));
  });

  test('a non-deterministic transform is refused with TRANSFORM_NONDETERMINISTIC and a fix naming what makes it impure', async () => {
    const source = await sourceTable();
    const cfg = writeConfig(
      { source: ref(source), target: ref(`safety_dst_${++counter}`), transform: './transform.mjs', ...FAST },
      { 'transform.mjs': 'let n = 0;\nexport default (item) => ({ ...item, seq: n++ });\n' },
    );
    const message = assertRefused(
      await runCli(['plan', '-c', cfg], { timeoutMs: CLI_TIMEOUT_MS }),
      'TRANSFORM_NONDETERMINISTIC',
      /Date\.now\(\).*Math\.random\(\)/,
    );
    assert.match(message, /attribute seq differs/);
  });

  test('a transform that moves the key non-deterministically is refused too', async () => {
    const source = await sourceTable();
    const cfg = writeConfig(
      { source: ref(source), target: ref(`safety_dst_${++counter}`), transform: './transform.mjs', ...FAST },
      // plan samples all 30 items, once, then once more: the second pass moves every key.
      { 'transform.mjs': 'let calls = 0;\nexport default (item) => ({ ...item, id: calls++ < 30 ? item.id : item.id + "-again" });\n' },
    );
    const message = assertRefused(await runCli(['plan', '-c', cfg], { timeoutMs: CLI_TIMEOUT_MS }), 'TRANSFORM_NONDETERMINISTIC', /pure/);
    assert.match(message, /target key/);
  });
});
