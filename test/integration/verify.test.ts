/**
 * `dynashift verify` against DynamoDB Local, driven through the CLI: the target state is built directly with the SDK
 * (independently of the engine), differences are injected by hand, and the verdict, the keys it names and the report
 * file are checked. One test runs a real migration first; one changes items while verify re-checks (in flight); one
 * repairs; one shows that a repair write conditioned on what verify observed can't clobber a newer change.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BatchWriteItemCommand,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
  type AttributeValue,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { loadConfig } from '../../src/config/load-config.js';
import { toDdbJson } from '../../src/core/ddb-json.js';
import { differingAttributes } from '../../src/core/equality.js';
import { silentLogger } from '../../src/engine/logger.js';
import { unchangedSince } from '../../src/engine/verify/condition.js';
import { openVerifyContext } from '../../src/engine/verify/context.js';
import { repairSuspect, REPAIRED } from '../../src/engine/verify/repair.js';
import { runVerify } from '../../src/engine/verify/run-verify.js';
import type { VerifyResult } from '../../src/engine/verify/types.js';
import { clientsFor } from '../../src/aws/clients.js';
import { roleFor } from '../../src/aws/errors.js';
import { runCli, spawnCli, type CliResult } from '../support/cli.js';
import { createTable, withDynamoDbLocal } from '../support/dynamodb-local.js';
import { compareTables, formatDiff, isEmptyDiff, scanAll } from '../support/independent-scan.js';
import { generateSeedItems, itemId, mulberry32, seedItems } from '../support/workload.js';

const local = withDynamoDbLocal();
const tempDirs: string[] = [];
after(() => {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

type Item = Record<string, AttributeValue>;
const FAST_RECHECK = ['--recheck-rounds', '1', '--recheck-delay', '50'];
const show = (r: CliResult): string => `exit ${r.code}\n--- stdout\n${r.stdout.slice(0, 4000)}\n--- stderr\n${r.stderr.slice(-4000)}`;

/** Re-keys by group: target key (grp, id); adds a label. The target item keeps `id`, the source key. */
const REKEY_TRANSFORM = `export default function transform(item) {
  return { ...item, label: item.grp + '#' + item.id };
}
`;
/** The same transform, written independently for building expected targets in the tests. */
function rekey(item: Item): Item {
  return { ...item, label: { S: `${item['grp']!.S}#${item['id']!.S}` } };
}

interface Setup {
  dir: string;
  cfg: string;
}

function writeConfig(name: string, body: Record<string, unknown>, transform?: string): Setup {
  const dir = mkdtempSync(join(tmpdir(), `dynashift-verify-${name}-`));
  tempDirs.push(dir);
  if (transform) writeFileSync(join(dir, 'transform.mjs'), transform);
  const cfg = join(dir, 'dynashift.config.json');
  writeFileSync(
    cfg,
    `${JSON.stringify(
      {
        name,
        ...body,
        ...(transform ? { transform: './transform.mjs' } : {}),
        backfill: { segments: 4, concurrency: 4 },
        stream: { pollIntervalMs: 100, discoveryIntervalMs: 1000 },
      },
      null,
      2,
    )}\n`,
  );
  return { dir, cfg };
}

const table = (t: string, extra: Record<string, unknown> = {}) => ({ table: t, endpoint: local.endpoint, region: 'us-east-1', ...extra });
const byGroupKey = { partitionKey: { name: 'grp', type: 'S' }, sortKey: { name: 'id', type: 'S' } } as const;

async function putAll(tableName: string, items: Item[]): Promise<void> {
  for (let i = 0; i < items.length; i += 25) {
    let pending: WriteRequest[] = items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } }));
    while (pending.length) {
      const res = await local.client.send(new BatchWriteItemCommand({ RequestItems: { [tableName]: pending } }));
      pending = res.UnprocessedItems?.[tableName] ?? [];
    }
  }
}

async function verify(s: Setup, ...args: string[]): Promise<{ r: CliResult; result: VerifyResult }> {
  const r = await runCli(['verify', '-c', s.cfg, '--json', ...args], { timeoutMs: 110_000 });
  let result: VerifyResult;
  try {
    result = JSON.parse(r.stdout) as VerifyResult;
  } catch {
    assert.fail(`verify printed no JSON result:\n${show(r)}`);
  }
  return { r, result };
}

const keyOf = (f: { key: Record<string, unknown> }): string => JSON.stringify(f.key);
const idKeys = (fs: { key: Record<string, unknown> }[], attr = 'id'): string[] => fs.map((f) => (f.key[attr] as { S: string }).S).sort();

/** A source keyed by id, with a stream, seeded with the workload's items (38-digit numbers, sets, binary, nesting). */
async function seededSource(name: string, count: number, seed: number): Promise<Item[]> {
  await createTable(local.client, { name, partitionKey: { name: 'id', type: 'S' }, streamViewType: 'NEW_AND_OLD_IMAGES' });
  await seedItems(local.client, name, count, mulberry32(seed));
  return generateSeedItems(count, mulberry32(seed));
}

test('identical copy with a key-changing transform: exit 0 and a report with 0 differences', { timeout: 60_000 }, async () => {
  const items = await seededSource('ident_src', 300, 1);
  await createTable(local.client, { name: 'ident_dst', partitionKey: byGroupKey.partitionKey, sortKey: byGroupKey.sortKey });
  await putAll('ident_dst', items.map(rekey));
  const s = writeConfig('ident', { source: table('ident_src'), target: table('ident_dst', { create: { keySchema: byGroupKey } }) }, REKEY_TRANSFORM);

  const { r, result } = await verify(s);
  assert.equal(r.code, 0, show(r));
  assert.equal(result.identical, true);
  assert.equal(result.mode, 'full');
  assert.deepEqual(
    { ...result.counts },
    {
      expected: 300,
      actual: 300,
      missing: 0,
      extra: 0,
      differing: 0,
      transformErrors: 0,
      recheckedInFlight: 0,
      repaired: 0,
      repairSkipped: 0,
    },
  );
  const report = JSON.parse(readFileSync(result.reportPath, 'utf8'));
  assert.equal(report.identical, true);
  assert.deepEqual([report.missing, report.extra, report.differing], [[], [], []]);
  assert.equal(report.counts.missing + report.counts.extra + report.counts.differing, 0);
  assert.ok(result.reportPath.startsWith(join(s.dir, '.dynashift', 'ident')), `default report path in the state folder: ${result.reportPath}`);
  // The spill folder is gone.
  assert.deepEqual(
    readdirSync(join(s.dir, '.dynashift', 'ident')).filter((f) => f.startsWith('verify-work')),
    [],
  );

  // The terminal form says so too.
  const plain = await runCli(['verify', '-c', s.cfg], { timeoutMs: 60_000 });
  assert.equal(plain.code, 0, show(plain));
  assert.match(plain.stdout, /✔ 0 differences/);
});

test(
  'each injected difference is caught with its key; equal numbers spelled differently and reordered sets are not',
  { timeout: 60_000 },
  async () => {
    await createTable(local.client, { name: 'diff_src', partitionKey: { name: 'id', type: 'S' } });
    await createTable(local.client, { name: 'diff_dst', partitionKey: { name: 'id', type: 'S' } });
    const big = '12345678901234567890123456789012345678';
    const base = (id: string): Item => ({
      id: { S: id },
      s: { S: 'hello' },
      n: { N: '1.5' },
      tags: { SS: ['a', 'b', 'c'] },
      big: { N: big },
      gone: { S: 'here' },
      bin: { B: new Uint8Array([1, 2, 3]) },
    });
    const ids = ['same', 'missing', 'str', 'num', 'spelled', 'setmember', 'setorder', 'big38', 'removed'];
    const source = ids.map(base);
    await putAll('diff_src', source);
    const target = source.filter((i) => i['id']!.S !== 'missing').map((i) => ({ ...i }));
    const edit = (id: string, change: (i: Item) => void): void => change(target.find((i) => i['id']!.S === id)!);
    edit('str', (i) => {
      i['s'] = { S: 'hallo' };
    });
    edit('num', (i) => {
      i['n'] = { N: '1.6' };
    });
    edit('setmember', (i) => {
      i['tags'] = { SS: ['a', 'b', 'd'] };
    });
    edit('setorder', (i) => {
      i['tags'] = { SS: ['c', 'a', 'b'] };
    });
    edit('big38', (i) => {
      i['big'] = { N: '12345678901234567890123456789012345679' };
    });
    edit('removed', (i) => {
      delete i['gone'];
    });
    target.push({ ...base('extra') });
    await putAll('diff_dst', target);
    // PutItem normalizes 1.50 to 1.5 on DynamoDB Local; UpdateItem SET keeps the literal spelling (semantics doc §8).
    await local.client.send(
      new UpdateItemCommand({
        TableName: 'diff_dst',
        Key: { id: { S: 'spelled' } },
        UpdateExpression: 'SET #n = :n',
        ExpressionAttributeNames: { '#n': 'n' },
        ExpressionAttributeValues: { ':n': { N: '1.50' } },
      }),
    );

    const s = writeConfig('diff', { source: table('diff_src'), target: table('diff_dst') });
    const { r, result } = await verify(s, ...FAST_RECHECK);
    assert.equal(r.code, 1, show(r));
    assert.equal(result.identical, false);
    assert.deepEqual(idKeys(result.missing), ['missing']);
    assert.deepEqual(idKeys(result.extra), ['extra']);
    const differing = Object.fromEntries(result.differing.map((d) => [(d.key['id'] as { S: string }).S, d.attributes]));
    assert.deepEqual(differing, { str: ['s'], num: ['n'], setmember: ['tags'], big38: ['big'], removed: ['gone'] });
    assert.deepEqual(
      { missing: result.counts.missing, extra: result.counts.extra, differing: result.counts.differing },
      { missing: 1, extra: 1, differing: 5 },
    );
    assert.deepEqual(result.differing.find((d) => (d.key['id'] as { S: string }).S === 'str')?.sourceKey, { id: { S: 'str' } });

    // The report carries the values in DynamoDB JSON (binary as base64).
    const report = JSON.parse(readFileSync(result.reportPath, 'utf8'));
    const str = report.differing.find((d: { key: { id: { S: string } } }) => d.key.id.S === 'str');
    assert.deepEqual(str.expected.s, { S: 'hello' });
    assert.deepEqual(str.actual.s, { S: 'hallo' });
    assert.deepEqual(str.expected.bin, { B: Buffer.from([1, 2, 3]).toString('base64') });
    assert.equal(report.missing[0].expected.id.S, 'missing');
    assert.equal(report.extra[0].actual.id.S, 'extra');

    // The terminal shows keys and attribute names, never the values.
    const reportFile = join(s.dir, 'my-report.json');
    const plain = await runCli(['verify', '-c', s.cfg, '--report', reportFile, ...FAST_RECHECK], { timeoutMs: 60_000 });
    assert.equal(plain.code, 1, show(plain));
    assert.match(plain.stdout, /missing \(1\):\n {2}target {2}id="missing"/);
    assert.match(plain.stdout, /extra \(1\):\n {2}target {2}id="extra"/);
    assert.match(plain.stdout, /target {2}id="big38" {2}attributes: big/);
    assert.ok(!plain.stdout.includes('hallo') && !plain.stdout.includes(big), `values must not be printed:\n${plain.stdout}`);
    assert.match(plain.stdout, /✘ 7 difference/);
    assert.ok(existsSync(reportFile), 'the --report path is used');
  },
);

test('a transform that throws is reported as its own category, not a crash', { timeout: 60_000 }, async () => {
  const items = await seededSource('terr_src', 30, 7);
  await createTable(local.client, { name: 'terr_dst', partitionKey: byGroupKey.partitionKey, sortKey: byGroupKey.sortKey });
  await putAll('terr_dst', items.filter((i) => !i['id']!.S!.endsWith('7')).map(rekey));
  const s = writeConfig(
    'terr',
    { source: table('terr_src'), target: table('terr_dst', { create: { keySchema: byGroupKey } }) },
    `export default function transform(item) {
  if (item.id.endsWith('7')) throw new Error('boom ' + item.id);
  return { ...item, label: item.grp + '#' + item.id };
}
`,
  );
  const { r, result } = await verify(s, ...FAST_RECHECK);
  assert.equal(r.code, 1, show(r));
  assert.equal(result.counts.transformErrors, 3);
  assert.deepEqual(result.transformErrors.map((e) => (e.sourceKey['id'] as { S: string }).S).sort(), ['item-000007', 'item-000017', 'item-000027']);
  assert.ok(result.transformErrors.every((e) => e.code === 'TRANSFORM_FAILED' && /boom/.test(e.message)));
  assert.equal(result.counts.missing + result.counts.extra + result.counts.differing, 0);
  assert.equal(result.counts.expected, 27);
});

test('split into two targets: differences are reported per target', { timeout: 60_000 }, async () => {
  const items = await seededSource('split_src', 200, 2);
  await createTable(local.client, { name: 'split_groups', partitionKey: byGroupKey.partitionKey, sortKey: byGroupKey.sortKey });
  await createTable(local.client, { name: 'split_flags', partitionKey: { name: 'id', type: 'S' } });
  const groups: Item[] = items.map((i) => ({ ...i, label: { S: `${i['grp']!.S}#${i['id']!.S}` } }));
  const flags = items.filter((i) => i['flag'] !== undefined).map((i) => ({ id: i['id']!, flag: i['flag']!, grp: i['grp']! }));
  assert.ok(flags.length > 10);
  const droppedFlag = flags.pop()!;
  groups[5] = { ...groups[5]!, v: { N: '-1' } };
  await putAll('split_groups', groups);
  await putAll('split_flags', flags);
  const s = writeConfig(
    'split',
    {
      source: table('split_src'),
      targets: {
        groups: table('split_groups', { create: { keySchema: byGroupKey } }),
        flags: table('split_flags', { create: { keySchema: { partitionKey: { name: 'id', type: 'S' } } } }),
      },
    },
    `export default function transform(item) {
  return {
    groups: { ...item, label: item.grp + '#' + item.id },
    flags: item.flag === undefined ? null : { id: item.id, flag: item.flag, grp: item.grp },
  };
}
`,
  );
  const { r, result } = await verify(s, ...FAST_RECHECK);
  assert.equal(r.code, 1, show(r));
  assert.deepEqual(
    result.missing.map((f) => [f.target, keyOf(f)]),
    [['flags', JSON.stringify({ id: droppedFlag['id'] })]],
  );
  assert.deepEqual(
    result.differing.map((f) => [f.target, (f.key['id'] as { S: string }).S, f.attributes]),
    [['groups', items[5]!['id']!.S, ['v']]],
  );
  assert.equal(result.extra.length, 0);
  assert.equal(result.counts.expected, 200 + flags.length + 1);
});

test('a difference that resolves while verify re-checks is not reported (changes in flight)', { timeout: 60_000 }, async () => {
  const items = await seededSource('flight_src', 100, 3);
  await createTable(local.client, { name: 'flight_dst', partitionKey: byGroupKey.partitionKey, sortKey: byGroupKey.sortKey });
  const target = items.map(rekey);
  const stale = { ...target[10]!, v: { N: '99999' } };
  const late = target[20]!;
  await putAll('flight_dst', [...target.filter((_, i) => i !== 20 && i !== 10), stale]);
  // A source item created after the scans, whose target copy is already there: an "extra" until the source is seen.
  const fresh: Item = { id: { S: 'fresh-1' }, grp: { S: 'alpha' }, v: { N: '1' } };
  await putAll('flight_dst', [rekey(fresh)]);
  const s = writeConfig(
    'flight',
    { source: table('flight_src'), target: table('flight_dst', { create: { keySchema: byGroupKey } }) },
    REKEY_TRANSFORM,
  );

  const child = spawnCli(['verify', '-c', s.cfg, '--json', '--recheck-rounds', '2', '--recheck-delay', '1500']);
  let fixed = false;
  const fixing = new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer): void => {
      if (fixed || !d.toString().includes('re-checking differences')) return;
      fixed = true;
      // What the stream would have applied a moment later.
      Promise.all([putAll('flight_dst', [target[10]!, late]), putAll('flight_src', [fresh])]).then(() => resolve(), reject);
    };
    child.stderr!.on('data', onData);
  });
  const r = await child.result;
  assert.ok(fixed, `verify never logged its re-check:\n${show(r)}`);
  await fixing;
  const result = JSON.parse(r.stdout) as VerifyResult;
  assert.equal(r.code, 0, show(r));
  assert.equal(result.identical, true);
  assert.equal(result.counts.recheckedInFlight, 3, JSON.stringify(result.counts));
  assert.equal(result.counts.missing + result.counts.extra + result.counts.differing, 0);
});

test('--sample catches a differing item when N covers the table, and exits 0 on an identical table', { timeout: 60_000 }, async () => {
  const items = await seededSource('sample_src', 60, 4);
  await createTable(local.client, { name: 'sample_dst', partitionKey: byGroupKey.partitionKey, sortKey: byGroupKey.sortKey });
  await putAll('sample_dst', items.map(rekey));
  const s = writeConfig(
    'sample',
    { source: table('sample_src'), target: table('sample_dst', { create: { keySchema: byGroupKey } }) },
    REKEY_TRANSFORM,
  );

  const ok = await verify(s, '--sample', '20', ...FAST_RECHECK);
  assert.equal(ok.r.code, 0, show(ok.r));
  assert.equal(ok.result.mode, 'sample');
  assert.equal(ok.result.sampled, 20);
  assert.ok(
    ok.result.notes.some((n) => /extra target items .* cannot be detected/.test(n)),
    ok.result.notes.join('\n'),
  );

  const victim = rekey(items[33]!);
  await putAll('sample_dst', [{ ...victim, empty: { S: 'not empty' } }]);
  const bad = await verify(s, '--sample', '100', ...FAST_RECHECK);
  assert.equal(bad.r.code, 1, show(bad.r));
  assert.equal(bad.result.sampled, 60);
  assert.deepEqual(
    bad.result.differing.map((d) => [(d.key['id'] as { S: string }).S, d.attributes]),
    [[items[33]!['id']!.S, ['empty']]],
  );
});

test('--repair fixes missing, differing and extra items; a second verify exits 0', { timeout: 60_000 }, async () => {
  const items = await seededSource('repair_src', 120, 5);
  await createTable(local.client, { name: 'repair_dst', partitionKey: byGroupKey.partitionKey, sortKey: byGroupKey.sortKey });
  const target = items.map(rekey);
  target[7] = { ...target[7]!, tags: { SS: ['wrong'] } };
  const missing = target.splice(50, 1)[0]!;
  // Left behind by a key move: the source item now lives under another group.
  const stray = { ...rekey(items[60]!), grp: { S: 'zzz-old-group' } };
  await putAll('repair_dst', [...target, stray]);
  const s = writeConfig(
    'repair',
    { source: table('repair_src'), target: table('repair_dst', { create: { keySchema: byGroupKey } }) },
    REKEY_TRANSFORM,
  );

  const first = await verify(s, '--repair', ...FAST_RECHECK);
  assert.equal(first.r.code, 1, `differences were found (and repaired):\n${show(first.r)}`);
  assert.deepEqual(
    { m: first.result.counts.missing, e: first.result.counts.extra, d: first.result.counts.differing, r: first.result.counts.repaired },
    { m: 1, e: 1, d: 1, r: 3 },
    JSON.stringify(first.result, null, 2),
  );
  assert.ok([...first.result.missing, ...first.result.extra, ...first.result.differing].every((f) => f.repaired));

  const second = await verify(s, ...FAST_RECHECK);
  assert.equal(second.r.code, 0, show(second.r));
  const diff = compareTables(items.map(rekey), await scanAll(local.client, 'repair_dst'), ['grp', 'id']);
  assert.ok(isEmptyDiff(diff), formatDiff(diff));
  assert.ok(missing);
});

test('a write conditioned on the observed item fails once the item changed (DynamoDB Local)', { timeout: 30_000 }, async () => {
  await createTable(local.client, { name: 'cond_dst', partitionKey: { name: 'pk', type: 'S' }, sortKey: { name: 'sk', type: 'N' } });
  const schema = { partitionKey: { name: 'pk', type: 'S' as const }, sortKey: { name: 'sk', type: 'N' as const } };
  const observed: Item = {
    pk: { S: 'a' },
    sk: { N: '1' },
    n: { N: '1.50' },
    ss: { SS: ['x', 'y'] },
    m: { M: { l: { L: [{ N: '1' }, { NULL: true }] } } },
    b: { B: new Uint8Array([0, 255]) },
    e: { S: '' },
  };
  const next: Item = { ...observed, n: { N: '2' }, added: { BOOL: true } };
  const put = (item: Item, cond: ReturnType<typeof unchangedSince>) =>
    local.client.send(
      new PutItemCommand({
        TableName: 'cond_dst',
        Item: item,
        ConditionExpression: cond.ConditionExpression,
        ExpressionAttributeNames: cond.ExpressionAttributeNames,
        ...(cond.ExpressionAttributeValues ? { ExpressionAttributeValues: cond.ExpressionAttributeValues } : {}),
      }),
    );
  const rejected = async (p: Promise<unknown>): Promise<void> => {
    await assert.rejects(p, (err: Error) => err.name === 'ConditionalCheckFailedException');
  };
  // Missing when observed: the put succeeds once, then not again (the item now exists).
  await put(observed, unchangedSince(undefined, schema, observed));
  await rejected(put(observed, unchangedSince(undefined, schema, observed)));
  // Unchanged (sets in another order, the number spelled differently): the condition holds.
  await put({ ...observed, ss: { SS: ['y', 'x'] } }, unchangedSince({ ...observed, n: { N: '1.5' } }, schema, observed));
  // Changed after observation: an attribute's value…
  await local.client.send(
    new UpdateItemCommand({
      TableName: 'cond_dst',
      Key: { pk: { S: 'a' }, sk: { N: '1' } },
      UpdateExpression: 'SET ss = :s',
      ExpressionAttributeValues: { ':s': { SS: ['x', 'z'] } },
    }),
  );
  await rejected(put(next, unchangedSince(observed, schema, next)));
  // …an attribute the new version adds, written meanwhile…
  await local.client.send(new PutItemCommand({ TableName: 'cond_dst', Item: { ...observed, added: { BOOL: false } } }));
  await rejected(put(next, unchangedSince(observed, schema, next)));
  // …or an observed attribute removed.
  const { e: _e, ...withoutE } = observed;
  await local.client.send(new PutItemCommand({ TableName: 'cond_dst', Item: withoutE }));
  await rejected(put(next, unchangedSince(observed, schema, next)));
  const now = await local.client.send(new GetItemCommand({ TableName: 'cond_dst', Key: { pk: { S: 'a' }, sk: { N: '1' } }, ConsistentRead: true }));
  assert.deepEqual(differingAttributes(now.Item!, withoutE), [], 'the newer change survived');
  // Observed exactly: the write goes through.
  await put(next, unchangedSince(withoutE, schema, next));
});

test('repair skips an item that changed between observation and repair (no clobber)', { timeout: 30_000 }, async () => {
  await createTable(local.client, { name: 'race_src', partitionKey: { name: 'id', type: 'S' } });
  await createTable(local.client, { name: 'race_dst', partitionKey: { name: 'id', type: 'S' } });
  const v1: Item = { id: { S: 'r1' }, v: { N: '1' } };
  await putAll('race_src', [{ ...v1, v: { N: '2' } }]);
  await putAll('race_dst', [v1]);
  const s = writeConfig('race', { source: table('race_src'), target: table('race_dst') });
  const config = await loadConfig(s.cfg);
  const ctx = await openVerifyContext(config, { concurrency: 2 });
  const client = clientsFor(config.targets['target']!, roleFor('target', 'target', config.targets['target']!)).dynamodb;
  try {
    const suspect = {
      c: 'differing' as const,
      t: 'target',
      k: '["S:r1"]',
      key: { id: { S: 'r1' } },
      n: 'source',
      s: { id: { S: 'r1' } },
      a: toDdbJson(v1),
      d: ['v'],
    };
    // A newer change lands after verify observed v1 (the stream applying source version 3, say).
    await local.client.send(new DeleteItemCommand({ TableName: 'race_dst', Key: { id: { S: 'r1' } } }));
    await putAll('race_dst', [{ id: { S: 'r1' }, v: { N: '3' }, note: { S: 'newer' } }]);
    const outcome = await repairSuspect(ctx, suspect, { kind: 'dynamodb', client, table: 'race_dst' });
    assert.match(outcome, /skipped: the target item changed/);
    const now = await local.client.send(new GetItemCommand({ TableName: 'race_dst', Key: { id: { S: 'r1' } }, ConsistentRead: true }));
    assert.deepEqual(toDdbJson(now.Item!), { id: { S: 'r1' }, v: { N: '3' }, note: { S: 'newer' } });
    // Observed right: the repair writes transform(source) = v2.
    const again = await repairSuspect(ctx, { ...suspect, a: toDdbJson(now.Item!) }, { kind: 'dynamodb', client, table: 'race_dst' });
    assert.equal(again, REPAIRED);
    const fixed = await local.client.send(new GetItemCommand({ TableName: 'race_dst', Key: { id: { S: 'r1' } }, ConsistentRead: true }));
    assert.deepEqual(toDdbJson(fixed.Item!), { id: { S: 'r1' }, v: { N: '2' } });
  } finally {
    client.destroy();
    await ctx.close();
  }
});

test('dynashift run --until-synced, then verify: exit 0', { timeout: 90_000 }, async () => {
  await seededSource('run_src', 400, 6);
  const s = writeConfig('runthen', { source: table('run_src'), target: table('run_dst', { create: { keySchema: byGroupKey } }) }, REKEY_TRANSFORM);
  const run = await runCli(['run', '-c', s.cfg, '--until-synced', '--no-progress'], { timeoutMs: 60_000 });
  assert.equal(run.code, 0, show(run));
  // A few changes after the run, applied by a second one.
  await local.client.send(new DeleteItemCommand({ TableName: 'run_src', Key: { id: { S: itemId(3) } } }));
  await local.client.send(
    new UpdateItemCommand({
      TableName: 'run_src',
      Key: { id: { S: itemId(4) } },
      UpdateExpression: 'SET grp = :g',
      ExpressionAttributeValues: { ':g': { S: 'moved' } },
    }),
  );
  const again = await runCli(['run', '-c', s.cfg, '--until-synced', '--no-progress'], { timeoutMs: 60_000 });
  assert.equal(again.code, 0, show(again));
  const { r, result } = await verify(s);
  assert.equal(r.code, 0, show(r));
  assert.equal(result.counts.expected, 399);
  assert.equal(result.counts.actual, 399);
});

test('engine: a verify stopped by its signal says interrupted, never identical, and leaves no spill files', { timeout: 30_000 }, async () => {
  const items = await seededSource('abort_src', 50, 8);
  await createTable(local.client, { name: 'abort_dst', partitionKey: { name: 'id', type: 'S' } });
  await putAll('abort_dst', items.slice(1));
  const s = writeConfig('abort', { source: table('abort_src'), target: table('abort_dst') });
  const stop = new AbortController();
  const workDir = join(s.dir, 'work');
  const result = await runVerify(await loadConfig(s.cfg), {
    log: silentLogger,
    signal: stop.signal,
    workDir,
    recheckRounds: 1,
    recheckDelayMs: 10,
    hooks: { onCompareStart: () => stop.abort() },
  });
  assert.equal(result.interrupted, true);
  assert.equal(result.identical, false);
  assert.deepEqual([result.missing, result.extra, result.differing], [[], [], []], 'nothing unconfirmed is reported');
  assert.match(result.notes[0]!, /interrupted/);
  assert.equal(existsSync(workDir), false);
  assert.equal(JSON.parse(readFileSync(result.reportPath, 'utf8')).interrupted, true);
});

test('engine: 20k small items in bounded memory (peak RSS printed), across several buckets', { timeout: 110_000 }, async () => {
  const count = 20_000;
  await createTable(local.client, { name: 'big_src', partitionKey: { name: 'id', type: 'S' } });
  await createTable(local.client, { name: 'big_dst', partitionKey: { name: 'id', type: 'S' } });
  const make = (n: number): Item => ({ id: { S: `k${String(n).padStart(6, '0')}` }, n: { N: String(n) }, s: { S: `value-${n % 97}` } });
  const all = Array.from({ length: count }, (_, n) => make(n));
  const t0 = Date.now();
  await Promise.all([
    parallelPut('big_src', all),
    parallelPut(
      'big_dst',
      all.filter((_, n) => n !== 12_345),
    ),
  ]);
  const seeded = Date.now() - t0;
  const s = writeConfig('big', { source: table('big_src'), target: table('big_dst') });

  // Through the CLI, watching the child's peak RSS (VmHWM) while it runs.
  const child = spawnCli(['verify', '-c', s.cfg, '--json', ...FAST_RECHECK], { env: { DYNASHIFT_LOG_LEVEL: 'warn' } });
  let peakKb = 0;
  const poll = setInterval(() => {
    peakKb = Math.max(peakKb, vmHwmKb(child.pid));
  }, 100);
  const t1 = Date.now();
  const r = await child.result;
  clearInterval(poll);
  const took = Date.now() - t1;
  assert.equal(r.code, 1, show(r));
  const result = JSON.parse(r.stdout) as VerifyResult;
  assert.deepEqual(idKeys(result.missing), ['k012345']);
  assert.equal(result.counts.expected, count);
  console.log(
    `# verify of ${count} items: ${took} ms (seeding ${seeded} ms), ${result.buckets} bucket(s), child peak RSS ${peakKb ? `${Math.round(peakKb / 1024)} MB` : 'n/a (no /proc)'}`,
  );

  // In the engine, every item spilled, forced to many buckets and small bucket files (so some are split again): still
  // one bucket in memory.
  const config = await loadConfig(s.cfg);
  let maxHeld = 0;
  let loaded = 0;
  const engine = await runVerify(config, {
    log: silentLogger,
    signal: new AbortController().signal,
    buckets: 16,
    maxBucketBytes: 64 * 1024,
    // No pairing in memory (an identity copy would settle every pair there): every item goes through the buckets.
    pairingBudgetBytes: 0,
    recheckRounds: 1,
    recheckDelayMs: 10,
    hooks: {
      onBucketLoaded: (_b, _bytes, held) => {
        loaded++;
        maxHeld = Math.max(maxHeld, held);
      },
    },
  });
  assert.equal(engine.buckets, 16);
  assert.deepEqual(idKeys(engine.missing), ['k012345']);
  assert.equal(maxHeld, 1);
  assert.ok(loaded > 16, `oversized buckets were split (${loaded} loads)`);
  console.log(
    `# engine run with 16 buckets split to ${loaded} loads: ${engine.durationMs} ms, test process maxRSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MB`,
  );
});

async function parallelPut(tableName: string, items: Item[]): Promise<void> {
  const batches: Item[][] = [];
  for (let i = 0; i < items.length; i += 25) batches.push(items.slice(i, i + 25));
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < batches.length) await putAll(tableName, batches[next++]!);
    }),
  );
}

function vmHwmKb(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}
