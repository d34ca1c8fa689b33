/**
 * The planner's refusals, driven through the real CLI as a user would: every config that can't migrate safely is
 * refused with exit code 2, a stable code and a hint that says what to change — by `plan` and by `run`, which must
 * refuse before it creates or writes anything. A valid config plans with exit 0 and describes what will happen.
 *
 * REFUSALS is the table of cases (gh-ost's localtests model): one row per refusal, each building its source and
 * config, then asserting the code, exit 2 and the refusal's own fix line. A new refusal is a new row.
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

interface RefusalCase {
  /** What is refused, and why that is right. */
  name: string;
  code: string;
  /** What the refusal's own `fix:` line must say. */
  fix: RegExp;
  /** Builds the tables and the config; returns the config path, extra CLI arguments and names for `check`. */
  setup(): Promise<{ cfg: string; args?: string[]; names?: Record<string, string> }>;
  /** Further assertions on the output and the refusal's message line. */
  check?(r: CliResult, refusal: { message: string; fix: string }, names: Record<string, string>): void;
}

const writeOnceTarget = (table: string): Record<string, unknown> => ({
  table,
  kind: 'files',
  files: { uri: mkdtempSync(join(tmpdir(), 'dynashift-files-')) },
});
const VERSIONED_BOOL: Record<string, AttributeValue>[] = Array.from({ length: 10 }, (_, n) => ({
  id: { S: `i${n}` },
  ver: n % 2 ? { BOOL: true } : { N: String(n) },
}));

const REFUSALS: RefusalCase[] = [
  {
    name: 'a source without a stream: changes made during the migration would be lost',
    code: 'STREAM_DISABLED',
    fix: /StreamViewType=NEW_AND_OLD_IMAGES/,
    async setup() {
      const source = await sourceTable(undefined);
      return { cfg: writeConfig({ source: ref(source), target: ref(uniqueName('dst')), ...FAST }), names: { source } };
    },
    check(r, { message, fix }, { source }) {
      assert.match(message, new RegExp(source!));
      assert.match(fix, new RegExp(`--table-name ${source}`));
      assert.match(r.stdout, /stream\s+DISABLED/);
      assert.match(r.stdout, /REFUSED/);
    },
  },
  ...(['KEYS_ONLY', 'OLD_IMAGE'] as const).map(
    (view): RefusalCase => ({
      name: `a ${view} stream carries no new item images to apply`,
      code: 'STREAM_VIEW_INSUFFICIENT',
      fix: /NEW_AND_OLD_IMAGES/,
      async setup() {
        return { cfg: writeConfig({ source: ref(await sourceTable(view)), target: ref(uniqueName('dst')), ...FAST }) };
      },
      check(_r, { message }) {
        assert.match(message, new RegExp(view));
      },
    }),
  ),
  {
    name: 'a NEW_IMAGE stream with a transform (which can move the target key): deletes need the OLD image',
    code: 'STREAM_VIEW_INSUFFICIENT',
    fix: /NEW_AND_OLD_IMAGES/,
    async setup() {
      return {
        cfg: writeConfig(
          { source: ref(await sourceTable('NEW_IMAGE')), target: ref(uniqueName('dst')), transform: './transform.mjs', ...FAST },
          { 'transform.mjs': 'export default function transform(item) { return { ...item, migrated: true }; }\n' },
        ),
      };
    },
    check(_r, { message }) {
      assert.match(message, /NEW_IMAGE/);
      assert.match(message, /OLD image/);
      assert.match(message, /transform/);
    },
  },
  {
    name: 'a NEW_IMAGE stream without a transform but with a target key on a non-key source attribute',
    code: 'STREAM_VIEW_INSUFFICIENT',
    fix: /NEW_AND_OLD_IMAGES/,
    async setup() {
      return {
        cfg: writeConfig({
          source: ref(await sourceTable('NEW_IMAGE')),
          // Every seeded item has `grp`, so only the stream view can be the problem.
          target: {
            ...ref(uniqueName('dst')),
            create: { keySchema: { partitionKey: { name: 'grp', type: 'S' }, sortKey: { name: 'id', type: 'S' } } },
          },
          ...FAST,
        }),
      };
    },
    check(r, { message }) {
      assert.match(message, /OLD image/);
      assert.doesNotMatch(r.stderr, /TARGET_KEY_MISSING/);
    },
  },
  {
    name: 'a backfill estimated longer than the 24 h stream retention, with the stream applied after it',
    code: 'BACKFILL_EXCEEDS_RETENTION',
    fix: /maxWriteUnitsPerSecond|readShare|write capacity/,
    async setup() {
      const source = await sourceTable('NEW_AND_OLD_IMAGES', 300);
      // DynamoDB Local reports ItemCount/TableSizeBytes live (AWS refreshes them about every 6 h): the estimate needs them.
      const { Table } = await local.client.send(new DescribeTableCommand({ TableName: source }));
      assert.equal(Table?.ItemCount, 300, 'DynamoDB Local should report the item count live');
      assert.ok((Table?.TableSizeBytes ?? 0) > 0, 'DynamoDB Local should report the table size live');
      // Same table, no write cap: the estimate fits, so the refusal really comes from the cap.
      const ok = await plan(writeConfig({ source: ref(source), target: ref(uniqueName('dst')), ...FAST }));
      assert.equal(ok.code, 0, show(ok));
      // The retention bounds the backfill only when the stream is applied after it (stream.duringBackfill: false).
      const after = { ...FAST, stream: { ...FAST.stream, duringBackfill: false } };
      return { cfg: writeConfig({ source: ref(source), target: ref(uniqueName('dst')), write: { maxWriteUnitsPerSecond: 0.001 }, ...after }) };
    },
    check(r, { message }) {
      assert.match(message, /24 h/);
      assert.match(r.stdout, /300 items/);
    },
  },
  {
    name: 'source items that lack the target key attribute, named in the refusal',
    code: 'TARGET_KEY_MISSING',
    fix: /customerId/,
    async setup() {
      const source = await sourceTable('NEW_AND_OLD_IMAGES', 0);
      // Every fourth order has no customer.
      await putItems(
        local.client,
        source,
        Array.from(
          { length: 40 },
          (_, n): Record<string, AttributeValue> => ({
            id: { S: `order-${n}` },
            total: { N: String(n * 10) },
            ...(n % 4 === 3 ? {} : { customerId: { S: `cust-${n % 5}` } }),
          }),
        ),
      );
      return {
        cfg: writeConfig({
          source: ref(source),
          target: {
            ...ref(uniqueName('dst')),
            create: { keySchema: { partitionKey: { name: 'customerId', type: 'S' }, sortKey: { name: 'id', type: 'S' } } },
          },
          ...FAST,
        }),
      };
    },
    check(_r, { message, fix }) {
      assert.match(message, /customerId/);
      const named = /"id":\{"S":"order-(\d+)"\}/.exec(message)?.[1];
      assert.ok(named !== undefined && Number(named) % 4 === 3, `the refusal should name a source item lacking the attribute: ${message}`);
      assert.match(fix, /transform|keySchema/);
    },
  },
  {
    name: 'a transform producing the wrong key type (N where S is declared)',
    code: 'TARGET_KEY_MISSING',
    fix: /bucket/,
    async setup() {
      return {
        cfg: writeConfig(
          {
            source: ref(await sourceTable('NEW_AND_OLD_IMAGES')),
            target: {
              ...ref(uniqueName('dst')),
              create: { keySchema: { partitionKey: { name: 'bucket', type: 'S' }, sortKey: { name: 'id', type: 'S' } } },
            },
            transform: './transform.mjs',
            ...FAST,
          },
          { 'transform.mjs': 'export default function transform(item) { return { ...item, bucket: Number(item.v.toString()) % 10 }; }\n' },
        ),
      };
    },
    check(_r, { message }) {
      assert.match(message, /bucket/);
      assert.match(message, /\bN\b/);
      assert.match(message, /\bS\b/);
    },
  },
  {
    name: 'a source table that does not exist',
    code: 'SOURCE_TABLE_NOT_FOUND',
    fix: /source\.table|source\.region|source\.endpoint/,
    async setup() {
      const missing = uniqueName('no_such_table');
      return { cfg: writeConfig({ source: ref(missing), target: ref(uniqueName('dst')), ...FAST }), names: { missing } };
    },
    check(r, { message }, { missing }) {
      assert.match(message, new RegExp(missing!));
      assert.match(r.stdout, /NOT FOUND/);
    },
  },
  {
    name: 'an existing target whose key schema differs from target.create.keySchema',
    code: 'TARGET_KEY_MISMATCH',
    fix: /target\.create\.keySchema/,
    async setup() {
      const source = await sourceTable('NEW_AND_OLD_IMAGES');
      const target = uniqueName('dst');
      await createTable(local.client, { name: target, partitionKey: { name: 'id', type: 'S' } });
      return {
        cfg: writeConfig({
          source: ref(source),
          target: { ...ref(target), create: { keySchema: { partitionKey: { name: 'grp', type: 'S' }, sortKey: { name: 'id', type: 'S' } } } },
          ...FAST,
        }),
        names: { target },
      };
    },
    check(_r, { message }, { target }) {
      assert.match(message, new RegExp(target!));
      assert.match(message, /id:S/);
      assert.match(message, /grp:S \+ id:S/);
    },
  },
  {
    name: 'a missing target with create: false',
    code: 'TARGET_NOT_FOUND',
    fix: /create the table first|"create": false/,
    async setup() {
      const target = uniqueName('dst');
      return {
        cfg: writeConfig({ source: ref(await sourceTable('NEW_AND_OLD_IMAGES')), target: { ...ref(target), create: false }, ...FAST }),
        names: { target },
      };
    },
    check(_r, { message }, { target }) {
      assert.match(message, new RegExp(`${target} does not exist`));
    },
  },
  {
    name: 'a target that is the source table itself',
    code: 'TARGET_IS_SOURCE',
    fix: /choose a new target table name/,
    async setup() {
      const source = await sourceTable('NEW_AND_OLD_IMAGES');
      return { cfg: writeConfig({ source: ref(source), target: ref(source), ...FAST }) };
    },
    check(_r, { message }) {
      assert.match(message, /same table as source/);
    },
  },
  {
    name: 'backfill.skipExpired on a source without TTL: no item can be told expired',
    code: 'TTL_NOT_ENABLED',
    fix: /enable TTL|skipExpired/,
    async setup() {
      return {
        cfg: writeConfig({
          source: ref(await sourceTable('NEW_AND_OLD_IMAGES')),
          target: ref(uniqueName('dst')),
          ...FAST,
          backfill: { ...FAST.backfill, skipExpired: true },
        }),
      };
    },
  },
  {
    name: '--backfill none on a source whose items never expire (no TTL)',
    code: 'BACKFILL_NONE_UNSAFE',
    fix: /scan backfill/,
    async setup() {
      return {
        cfg: writeConfig({ source: ref(await sourceTable('NEW_AND_OLD_IMAGES')), target: ref(uniqueName('dst')), ...FAST }),
        args: ['--backfill', 'none'],
      };
    },
  },
  {
    name: 'replicas (a Global Table) for a target on a local endpoint',
    code: 'REPLICAS_INVALID',
    fix: /remove target\.create\.replicas/,
    async setup() {
      return {
        cfg: writeConfig({
          source: ref(await sourceTable('NEW_AND_OLD_IMAGES')),
          target: { ...ref(uniqueName('dst')), create: { replicas: ['us-west-2'] } },
          ...FAST,
        }),
      };
    },
  },
  {
    name: "guard on a files target, which can't make a write conditional: it would be ignored",
    code: 'GUARD_UNSUPPORTED',
    fix: /remove "guard".*dynamodb, postgres/,
    async setup() {
      return {
        cfg: writeConfig({
          source: ref(await sourceTable('NEW_AND_OLD_IMAGES')),
          target: writeOnceTarget(uniqueName('exp')),
          guard: { versionAttribute: 'v' },
          ...FAST,
        }),
      };
    },
    check(_r, { message }) {
      assert.match(message, /guard\.versionAttribute "v" would be ignored/);
    },
  },
  {
    name: "a guard version attribute that holds BOOLs as well as numbers: versions that can't be compared",
    code: 'GUARD_INVALID',
    fix: /guard\.versionAttribute/,
    async setup() {
      const source = await sourceTable('NEW_AND_OLD_IMAGES', 0);
      await putItems(local.client, source, VERSIONED_BOOL);
      return { cfg: writeConfig({ source: ref(source), target: ref(uniqueName('dst')), guard: { versionAttribute: 'ver' }, ...FAST }) };
    },
    check(_r, { message }) {
      assert.match(message, /BOOL and N/);
    },
  },
  {
    name: 'inverseTransform (rollback) with a files target, which has no stream to replicate back from',
    code: 'REVERSE_UNSUPPORTED',
    fix: /--no-reverse/,
    async setup() {
      return {
        cfg: writeConfig(
          {
            source: ref(await sourceTable('NEW_AND_OLD_IMAGES')),
            target: writeOnceTarget(uniqueName('exp')),
            inverseTransform: './inverse.mjs',
            ...FAST,
          },
          { 'inverse.mjs': 'export default (item) => item;\n' },
        ),
      };
    },
    check(_r, { message }) {
      assert.match(message, /no change stream/);
    },
  },
  {
    name: "inverseTransform with a split into two targets: one target item can't rebuild a source item",
    code: 'REVERSE_UNSUPPORTED',
    fix: /--no-reverse/,
    async setup() {
      return {
        cfg: writeConfig(
          {
            source: ref(await sourceTable('NEW_AND_OLD_IMAGES')),
            targets: { a: ref(uniqueName('dst')), b: ref(uniqueName('dst')) },
            transform: './split.mjs',
            inverseTransform: './inverse.mjs',
            ...FAST,
          },
          { 'split.mjs': 'export default (item) => ({ a: item, b: item });\n', 'inverse.mjs': 'export default (item) => item;\n' },
        ),
      };
    },
    check(_r, { message }) {
      assert.match(message, /exactly one source and one target/);
    },
  },
  {
    name: 'a files target with the touch strategy, which copies no snapshot',
    code: 'WRITE_ONCE_NEEDS_BACKFILL',
    fix: /backfill\.strategy.*"scan"/,
    async setup() {
      return {
        cfg: writeConfig({ source: ref(await sourceTable('NEW_AND_OLD_IMAGES')), target: writeOnceTarget(uniqueName('exp')), ...FAST }),
        args: ['--backfill', 'touch'],
      };
    },
  },
  {
    name: 'a files target next to a target that follows the stream',
    code: 'WRITE_ONCE_MIXED',
    fix: /migration of its own/,
    async setup() {
      return {
        cfg: writeConfig(
          {
            source: ref(await sourceTable('NEW_AND_OLD_IMAGES')),
            targets: { files: writeOnceTarget(uniqueName('exp')), table: ref(uniqueName('dst')) },
            transform: './split.mjs',
            ...FAST,
          },
          { 'split.mjs': 'export default (item) => ({ files: item, table: item });\n' },
        ),
      };
    },
  },
  {
    name: 'the export strategy without an export location',
    code: 'EXPORT_LOCATION_MISSING',
    fix: /--backfill export:<uri>|backfill\.export\.uri/,
    async setup() {
      return {
        cfg: writeConfig({
          source: ref(await sourceTable('NEW_AND_OLD_IMAGES')),
          target: ref(uniqueName('dst')),
          ...FAST,
          backfill: { ...FAST.backfill, strategy: 'export' },
        }),
      };
    },
  },
  {
    name: 'an export location that holds no export',
    code: 'EXPORT_INVALID',
    fix: /.+/,
    async setup() {
      return {
        cfg: writeConfig({ source: ref(await sourceTable('NEW_AND_OLD_IMAGES')), target: ref(uniqueName('dst')), ...FAST }),
        args: ['--backfill', `export:${mkdtempSync(join(tmpdir(), 'dynashift-empty-export-'))}`],
      };
    },
  },
  // PITR_DISABLED has no row: DynamoDB Local has no point-in-time recovery to report as off.
];

describe('plan refuses configs that cannot migrate safely (exit 2, its own code, a fix line)', () => {
  for (const c of REFUSALS) {
    test(`${c.code}: ${c.name}`, async () => {
      const { cfg, args = [], names = {} } = await c.setup();
      const r = await plan(cfg, ...args);
      const refusal = assertRefused(r, c.code, c.fix);
      c.check?.(r, refusal, names);
    });
  }

  test('positive control: a NEW_IMAGE stream, no transform and the same key schema plans fine (exit 0)', async () => {
    const source = await sourceTable('NEW_IMAGE');
    const cfg = writeConfig({ source: ref(source), target: ref(uniqueName('dst')), ...FAST });
    const r = await plan(cfg);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /stream\s+enabled, NEW_IMAGE/);
    assert.match(r.stdout, /OK: ready to migrate/);
    assert.doesNotMatch(r.stderr, /\[[A-Z_]+\]/);
  });
});

describe('run refuses before it creates or writes anything', () => {
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
    assert.deepEqual(
      parsed.refusals.map((x) => x.code),
      ['STREAM_DISABLED'],
    );
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
