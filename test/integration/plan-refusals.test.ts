/**
 * The planner's refusals, driven through the real CLI as a user would: every config that can't migrate safely is
 * refused with exit code 2, a stable code and a hint that says what to change — by `plan` and by `run`, which must
 * refuse before it creates or writes anything. A valid config plans with exit 0 and describes what will happen.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BatchWriteItemCommand,
  DescribeTableCommand,
  type AttributeValue,
  type DynamoDBClient,
  type StreamViewType,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { runCli, type CliResult } from '../support/cli.js';
import { createTable, withDynamoDbLocal } from '../support/dynamodb-local.js';
import { scanAll } from '../support/independent-scan.js';
import { mulberry32, seedItems } from '../support/workload.js';

const local = withDynamoDbLocal();

const CLI_TIMEOUT_MS = 30_000;
const FAST = {
  backfill: { segments: 2, concurrency: 2 },
  stream: { pollIntervalMs: 100, discoveryIntervalMs: 1000 },
};

let tableCounter = 0;
/** A table name no other test in this file uses. */
function uniqueName(prefix: string): string {
  tableCounter += 1;
  return `${prefix}_${tableCounter}`;
}

function ref(table: string): { table: string; endpoint: string; region: string } {
  return { table, endpoint: local.endpoint, region: 'us-east-1' };
}

/** Writes the config (and any side files, e.g. a transform module) into a fresh temp dir; returns the config path. */
function writeConfig(config: Record<string, unknown>, files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'dynashift-plan-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const path = join(dir, 'dynashift.config.json');
  writeFileSync(path, `${JSON.stringify(config, null, 2)}\n`);
  return path;
}

/** A source keyed by `id` (S) holding `items` seeded items, with the given stream view (none when undefined). */
async function sourceTable(view: StreamViewType | undefined, items = 50): Promise<string> {
  const name = uniqueName('src');
  await createTable(local.client, { name, partitionKey: { name: 'id', type: 'S' }, ...(view ? { streamViewType: view } : {}) });
  if (items > 0) await seedItems(local.client, name, items, mulberry32(items + tableCounter));
  return name;
}

async function putItems(client: DynamoDBClient, table: string, items: Record<string, AttributeValue>[]): Promise<void> {
  for (let i = 0; i < items.length; i += 25) {
    let pending: WriteRequest[] = items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } }));
    while (pending.length > 0) {
      const out = await client.send(new BatchWriteItemCommand({ RequestItems: { [table]: pending } }));
      pending = out.UnprocessedItems?.[table] ?? [];
    }
  }
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

function plan(cfg: string, ...extra: string[]): Promise<CliResult> {
  return runCli(['plan', '-c', cfg, ...extra], { timeoutMs: CLI_TIMEOUT_MS });
}

const show = (r: CliResult): string => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

/**
 * Asserts a refusal: exit 2, `[CODE]` on stderr, and — on the refusal's own `fix:` line — the hint pattern. Returns the
 * refusal's message line and fix line for further checks.
 */
function assertRefused(r: CliResult, code: string, hint: RegExp): { message: string; fix: string } {
  assert.equal(r.code, 2, `expected exit 2 (refused):\n${show(r)}`);
  const lines = r.stderr.split('\n');
  const at = lines.findIndex((l) => l.includes(`[${code}]`));
  assert.ok(at >= 0, `expected [${code}] on stderr:\n${show(r)}`);
  const fix = lines.slice(at + 1).find((l) => /^\s*fix:/.test(l)) ?? '';
  assert.match(fix, hint, `the fix hint for [${code}] should say what to change:\n${show(r)}`);
  return { message: lines[at]!, fix };
}

describe('plan refuses configs that cannot migrate safely (exit 2, code, fix hint)', () => {
  test('a source without a stream is refused with STREAM_DISABLED and the update-table fix', async () => {
    const source = await sourceTable(undefined);
    const cfg = writeConfig({ source: ref(source), target: ref(uniqueName('dst')), ...FAST });
    const r = await plan(cfg);
    const { message, fix } = assertRefused(r, 'STREAM_DISABLED', /StreamViewType=NEW_AND_OLD_IMAGES/);
    assert.match(message, new RegExp(source));
    assert.match(fix, new RegExp(`--table-name ${source}`));
    assert.match(r.stdout, /stream\s+DISABLED/);
    assert.match(r.stdout, /REFUSED/);
  });

  for (const view of ['KEYS_ONLY', 'OLD_IMAGE'] as const) {
    test(`a ${view} stream is refused with STREAM_VIEW_INSUFFICIENT`, async () => {
      const source = await sourceTable(view);
      const cfg = writeConfig({ source: ref(source), target: ref(uniqueName('dst')), ...FAST });
      const { message } = assertRefused(await plan(cfg), 'STREAM_VIEW_INSUFFICIENT', /NEW_AND_OLD_IMAGES/);
      assert.match(message, new RegExp(view));
    });
  }

  test('a NEW_IMAGE stream with a transform (which can move the target key) is refused: deletes need the OLD image', async () => {
    const source = await sourceTable('NEW_IMAGE');
    const cfg = writeConfig(
      { source: ref(source), target: ref(uniqueName('dst')), transform: './transform.mjs', ...FAST },
      { 'transform.mjs': 'export default function transform(item) { return { ...item, migrated: true }; }\n' },
    );
    const { message } = assertRefused(await plan(cfg), 'STREAM_VIEW_INSUFFICIENT', /NEW_AND_OLD_IMAGES/);
    assert.match(message, /NEW_IMAGE/);
    assert.match(message, /OLD image/);
    assert.match(message, /transform/);
  });

  test('a NEW_IMAGE stream without a transform but with a target key on a non-key source attribute is refused', async () => {
    const source = await sourceTable('NEW_IMAGE');
    const cfg = writeConfig({
      source: ref(source),
      // Every seeded item has `grp`, so only the stream view can be the problem.
      target: { ...ref(uniqueName('dst')), create: { keySchema: { partitionKey: { name: 'grp', type: 'S' }, sortKey: { name: 'id', type: 'S' } } } },
      ...FAST,
    });
    const r = await plan(cfg);
    const { message } = assertRefused(r, 'STREAM_VIEW_INSUFFICIENT', /NEW_AND_OLD_IMAGES/);
    assert.match(message, /OLD image/);
    assert.doesNotMatch(r.stderr, /TARGET_KEY_MISSING/);
  });

  test('positive control: a NEW_IMAGE stream, no transform and the same key schema plans fine (exit 0)', async () => {
    const source = await sourceTable('NEW_IMAGE');
    const cfg = writeConfig({ source: ref(source), target: ref(uniqueName('dst')), ...FAST });
    const r = await plan(cfg);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /stream\s+enabled, NEW_IMAGE/);
    assert.match(r.stdout, /OK: ready to migrate/);
    assert.doesNotMatch(r.stderr, /\[[A-Z_]+\]/);
  });

  test('a backfill estimated longer than the stream retention is refused with BACKFILL_EXCEEDS_RETENTION', async () => {
    const source = await sourceTable('NEW_AND_OLD_IMAGES', 300);
    // DynamoDB Local reports ItemCount/TableSizeBytes live (AWS refreshes them about every 6 h): the estimate needs them.
    const { Table } = await local.client.send(new DescribeTableCommand({ TableName: source }));
    assert.equal(Table?.ItemCount, 300, 'DynamoDB Local should report the item count live');
    assert.ok((Table?.TableSizeBytes ?? 0) > 0, 'DynamoDB Local should report the table size live');

    const cfg = writeConfig({ source: ref(source), target: ref(uniqueName('dst')), write: { maxWriteUnitsPerSecond: 0.001 }, ...FAST });
    const r = await plan(cfg);
    const { message } = assertRefused(r, 'BACKFILL_EXCEEDS_RETENTION', /maxWriteUnitsPerSecond|readShare|write capacity/);
    assert.match(message, /24 h/);
    assert.match(r.stdout, /300 items/);

    // Same table, no write cap: the estimate fits, so the refusal really came from the cap.
    const ok = await plan(writeConfig({ source: ref(source), target: ref(uniqueName('dst')), ...FAST }));
    assert.equal(ok.code, 0, show(ok));
  });

  test('source items that lack the target key attribute are refused with TARGET_KEY_MISSING naming it', async () => {
    const source = await sourceTable('NEW_AND_OLD_IMAGES', 0);
    const items = Array.from({ length: 40 }, (_, n): Record<string, AttributeValue> => ({
      id: { S: `order-${n}` },
      total: { N: String(n * 10) },
      // Every fourth order has no customer.
      ...(n % 4 === 3 ? {} : { customerId: { S: `cust-${n % 5}` } }),
    }));
    await putItems(local.client, source, items);
    const cfg = writeConfig({
      source: ref(source),
      target: { ...ref(uniqueName('dst')), create: { keySchema: { partitionKey: { name: 'customerId', type: 'S' }, sortKey: { name: 'id', type: 'S' } } } },
      ...FAST,
    });
    const { message, fix } = assertRefused(await plan(cfg), 'TARGET_KEY_MISSING', /customerId/);
    assert.match(message, /customerId/);
    const lacking = items.filter((i) => i['customerId'] === undefined).map((i) => i['id']!.S!);
    const named = /"id":\{"S":"(order-\d+)"\}/.exec(message)?.[1];
    assert.ok(named && lacking.includes(named), `the refusal should name a source item lacking the attribute: ${message}`);
    assert.match(fix, /transform|keySchema/);
  });

  test('a transform producing the wrong key type (N where S is declared) is refused with TARGET_KEY_MISSING', async () => {
    const source = await sourceTable('NEW_AND_OLD_IMAGES');
    const cfg = writeConfig(
      {
        source: ref(source),
        target: { ...ref(uniqueName('dst')), create: { keySchema: { partitionKey: { name: 'bucket', type: 'S' }, sortKey: { name: 'id', type: 'S' } } } },
        transform: './transform.mjs',
        ...FAST,
      },
      { 'transform.mjs': 'export default function transform(item) { return { ...item, bucket: Number(item.v.toString()) % 10 }; }\n' },
    );
    const { message } = assertRefused(await plan(cfg), 'TARGET_KEY_MISSING', /bucket/);
    assert.match(message, /bucket/);
    assert.match(message, /\bN\b/);
    assert.match(message, /\bS\b/);
  });

  test('a missing source table is refused with SOURCE_TABLE_NOT_FOUND', async () => {
    const missing = uniqueName('no_such_table');
    const cfg = writeConfig({ source: ref(missing), target: ref(uniqueName('dst')), ...FAST });
    const r = await plan(cfg);
    const { message } = assertRefused(r, 'SOURCE_TABLE_NOT_FOUND', /source\.table|source\.region|source\.endpoint/);
    assert.match(message, new RegExp(missing));
    assert.match(r.stdout, /NOT FOUND/);
  });

  test('an existing target whose key schema differs from target.create.keySchema is refused with TARGET_KEY_MISMATCH', async () => {
    const source = await sourceTable('NEW_AND_OLD_IMAGES');
    const target = uniqueName('dst');
    await createTable(local.client, { name: target, partitionKey: { name: 'id', type: 'S' } });
    const cfg = writeConfig({
      source: ref(source),
      target: { ...ref(target), create: { keySchema: { partitionKey: { name: 'grp', type: 'S' }, sortKey: { name: 'id', type: 'S' } } } },
      ...FAST,
    });
    const { message, fix } = assertRefused(await plan(cfg), 'TARGET_KEY_MISMATCH', /keySchema|drop or rename/);
    assert.match(message, new RegExp(target));
    assert.match(message, /id:S/);
    assert.match(message, /grp:S \+ id:S/);
    assert.match(fix, /target\.create\.keySchema/);
  });

  test('a target that is the source table itself is refused', async () => {
    const source = await sourceTable('NEW_AND_OLD_IMAGES');
    const cfg = writeConfig({ source: ref(source), target: ref(source), ...FAST });
    const r = await plan(cfg);
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /same table as source/);
    assert.match(r.stderr, /fix: choose a new target table name/);
  });

  test('`run` on a refused config exits 2 before creating the target or writing anything', async () => {
    const source = await sourceTable(undefined);
    const target = uniqueName('dst');
    const cfg = writeConfig({ name: 'refused-run', source: ref(source), target: ref(target), ...FAST });
    const r = await runCli(['run', '-c', cfg, '--until-synced', '--no-progress'], { timeoutMs: CLI_TIMEOUT_MS });
    assertRefused(r, 'STREAM_DISABLED', /StreamViewType=NEW_AND_OLD_IMAGES/);
    assert.match(r.stderr, /PLAN_REFUSED/);
    assert.equal(await tableExists(target), false, 'the target table must not be created');
    const stateDir = join(cfg, '..', '.dynashift', 'refused-run');
    assert.equal(existsSync(join(stateDir, 'state.json')), false, 'no migration state may be written');
    assert.equal(existsSync(join(stateDir, 'dead-letter.jsonl')), false, 'no dead letters may be written');
    assert.equal((await scanAll(local.client, source)).length, 50, 'the source is untouched');
  });

  test('`run` with a target-key refusal exits 2 and does not create the target either', async () => {
    const source = await sourceTable('NEW_AND_OLD_IMAGES', 0);
    await putItems(local.client, source, [{ id: { S: 'a' } }, { id: { S: 'b' }, customerId: { S: 'c1' } }]);
    const target = uniqueName('dst');
    const cfg = writeConfig({
      source: ref(source),
      target: { ...ref(target), create: { keySchema: { partitionKey: { name: 'customerId', type: 'S' } } } },
      ...FAST,
    });
    const r = await runCli(['run', '-c', cfg, '--until-synced', '--no-progress'], { timeoutMs: CLI_TIMEOUT_MS });
    assertRefused(r, 'TARGET_KEY_MISSING', /customerId/);
    assert.equal(await tableExists(target), false, 'the target table must not be created');
  });
});

describe('plan on a valid config', () => {
  test('exits 0 and describes source, target, estimate and IAM actions; --json has no refusals', async () => {
    const source = await sourceTable('NEW_AND_OLD_IMAGES', 120);
    const target = uniqueName('dst');
    const cfg = writeConfig({ source: ref(source), target: ref(target), ...FAST });

    const r = await plan(cfg);
    assert.equal(r.code, 0, show(r));
    const out = r.stdout;
    assert.match(out, new RegExp(`Source source: ${source}`));
    assert.match(out, /key\s+id:S/);
    assert.match(out, /items\s+~120\b/);
    assert.match(out, /stream\s+enabled, NEW_AND_OLD_IMAGES/);
    assert.match(out, new RegExp(`Target target: ${target} — will be created`));
    assert.match(out, /Estimate\s+120 items/);
    assert.match(out, /IAM actions needed/);
    // The actions must sit under the right principal: Scan on the source, BatchWriteItem on the target.
    const sourceIam = out.slice(out.indexOf(`source source (${source})`), out.indexOf(`target target (${target})`));
    const targetIam = out.slice(out.indexOf(`target target (${target})`));
    assert.match(sourceIam, /dynamodb:Scan/);
    assert.match(sourceIam, /dynamodb:GetRecords/);
    assert.match(targetIam, /dynamodb:BatchWriteItem/);
    assert.match(out, /OK: ready to migrate/);
    assert.equal(r.stderr.trim(), '', `no warnings or errors expected:\n${r.stderr}`);

    const j = await plan(cfg, '--json');
    assert.equal(j.code, 0, show(j));
    const parsed = JSON.parse(j.stdout) as {
      refusals: unknown[];
      sources: Record<string, { table: string; itemCount: number; stream: { viewType: string } }>;
      targets: Record<string, { table: string; willCreate: boolean }>;
      estimate: { items: number; seconds: number };
      iam: Record<string, { actions: string[] }>;
    };
    assert.deepEqual(parsed.refusals, []);
    assert.equal(parsed.sources['source']?.table, source);
    assert.equal(parsed.sources['source']?.itemCount, 120);
    assert.equal(parsed.sources['source']?.stream.viewType, 'NEW_AND_OLD_IMAGES');
    assert.equal(parsed.targets['target']?.willCreate, true);
    assert.equal(parsed.estimate.items, 120);
    assert.ok(parsed.iam['source source']?.actions.includes('dynamodb:Scan'));
    assert.ok(parsed.iam['target target']?.actions.includes('dynamodb:BatchWriteItem'));
    assert.equal(await tableExists(target), false, 'plan must not create the target');
  });

  test('`plan --json` of a refused config still prints parseable JSON listing the refusal (exit 2)', async () => {
    const source = await sourceTable(undefined);
    const r = await plan(writeConfig({ source: ref(source), target: ref(uniqueName('dst')), ...FAST }), '--json');
    assert.equal(r.code, 2, show(r));
    const parsed = JSON.parse(r.stdout) as { refusals: { code: string; hint: string }[] };
    assert.deepEqual(parsed.refusals.map((x) => x.code), ['STREAM_DISABLED']);
    assert.match(parsed.refusals[0]!.hint, /NEW_AND_OLD_IMAGES/);
  });
});

describe('config errors', () => {
  test('an invalid field is refused with CONFIG_INVALID naming it (backfill.segments: 0)', async () => {
    const source = await sourceTable('NEW_AND_OLD_IMAGES', 0);
    const cfg = writeConfig({ source: ref(source), target: ref(uniqueName('dst')), backfill: { segments: 0 } });
    for (const command of ['plan', 'run']) {
      const r = await runCli([command, '-c', cfg], { timeoutMs: CLI_TIMEOUT_MS });
      assert.equal(r.code, 2, `${command}: ${show(r)}`);
      assert.match(r.stderr, /\[CONFIG_INVALID\]/, `${command}: ${show(r)}`);
      assert.match(r.stderr, /backfill\.segments/, `${command}: ${show(r)}`);
      assert.match(r.stderr, /fix:/, `${command}: ${show(r)}`);
    }
  });

  test('an unknown field is refused with CONFIG_INVALID naming it', async () => {
    const source = await sourceTable('NEW_AND_OLD_IMAGES', 0);
    const cfg = writeConfig({ source: ref(source), target: ref(uniqueName('dst')), backfil: { segments: 2 } });
    const r = await plan(cfg);
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /\[CONFIG_INVALID\]/);
    assert.match(r.stderr, /backfil\b/);
  });

  test('a missing config file is refused with CONFIG_NOT_FOUND and how to pass one', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'dynashift-plan-')), 'nope.json');
    for (const command of ['plan', 'run', 'status']) {
      const r = await runCli([command, '-c', path], { timeoutMs: CLI_TIMEOUT_MS });
      assert.equal(r.code, 2, `${command}: ${show(r)}`);
      assert.match(r.stderr, /\[CONFIG_NOT_FOUND\]/, `${command}: ${show(r)}`);
      assert.ok(r.stderr.includes(path), `${command} should name the missing file:\n${show(r)}`);
      assert.match(r.stderr, /fix: .*-c FILE/, `${command}: ${show(r)}`);
    }
  });
});
