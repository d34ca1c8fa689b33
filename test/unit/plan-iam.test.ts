import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ResolvedConfig } from '../../src/config/resolved-config.js';
import { DEFAULTS } from '../../src/config/resolved-config.js';
import type { TableInfo } from '../../src/aws/inspect-table.js';
import { iamGrants } from '../../src/engine/plan-iam.js';
import { MAX_SCAN_SEGMENTS, usableSegments } from '../../src/engine/segments.js';
import type { TargetInspection } from '../../src/sinks/driver.js';

const ARN = 'arn:aws:dynamodb:eu-west-1:123456789012:table/Orders';
const TARGET_ARN = 'arn:aws:dynamodb:eu-west-1:123456789012:table/OrdersV2';

function config(over: Partial<ResolvedConfig> = {}): ResolvedConfig {
  return {
    name: 'm',
    configPath: '/x/c.json',
    stateDir: '/x/.dynashift/m',
    sources: { source: { table: 'Orders', region: 'eu-west-1' } },
    targets: { target: { table: 'OrdersV2', region: 'eu-west-1' } },
    singleTarget: 'target',
    backfill: { ...DEFAULTS.backfill },
    stream: { ...DEFAULTS.stream },
    write: { ...DEFAULTS.write },
    onError: 'halt',
    ...over,
  } as ResolvedConfig;
}
const sources = { source: { table: 'Orders', arn: ARN } as TableInfo };
const inspection = (over: Partial<TargetInspection> = {}): TargetInspection => ({
  exists: false,
  willCreate: true,
  describe: [],
  notes: [],
  refusals: [],
  permissions: { actions: [], resources: [TARGET_ARN] },
  ...over,
});
const identity = (x: unknown) => x;

test('reverse replication (an inverseTransform) adds source writes and target stream and item reads to cutover writes and rollback', () => {
  const without = iamGrants(config(), sources, { target: inspection() });
  assert.equal(without['source source']!.commands['cutover writes'], undefined, 'no inverse transform: no reverse replication');
  assert.ok(!without['source source']!.actions.includes('dynamodb:PutItem'), 'the source is never written without reverse replication');

  const grants = iamGrants(config({ inverseTransform: identity as ResolvedConfig['inverseTransform'] }), sources, { target: inspection() });
  const src = grants['source source']!;
  const dst = grants['target target']!;
  for (const command of ['cutover writes', 'rollback'] as const) {
    for (const a of ['dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem', 'dynamodb:GetItem']) {
      assert.ok(src.commands[command]?.includes(a), `${command}: the source needs ${a}`);
    }
    for (const a of ['dynamodb:DescribeStream', 'dynamodb:GetShardIterator', 'dynamodb:GetRecords', 'dynamodb:GetItem']) {
      assert.ok(dst.commands[command]?.includes(a), `${command}: the target needs ${a}`);
    }
  }
  assert.ok(dst.resources.includes(`${TARGET_ARN}/stream/*`), 'the target stream is a resource');
  assert.ok(src.actions.includes('dynamodb:PutItem'), "the union lists every command's actions");
});

test('finish --delete-source needs DeleteTable on the source and CloudWatch GetMetricData', () => {
  const src = iamGrants(config(), sources, { target: inspection() })['source source']!;
  assert.deepEqual(src.commands['finish --delete-source'], ['dynamodb:DeleteTable', 'cloudwatch:GetMetricData']);
  assert.ok(src.notes.some((n) => /GetMetricData.*"\*"/.test(n)));
});

test('each strategy lists what it calls: touch updates source items, an export start exports and writes S3', () => {
  const touch = iamGrants(config({ backfill: { ...DEFAULTS.backfill, strategy: 'touch' } }), sources, { target: inspection() })['source source']!;
  assert.ok(touch.commands.run?.includes('dynamodb:UpdateItem'));
  const exp = iamGrants(config({ backfill: { ...DEFAULTS.backfill, strategy: 'export', export: { start: { s3Bucket: 'b' } } } }), sources, {
    target: inspection(),
  })['source source']!;
  for (const a of ['dynamodb:ExportTableToPointInTime', 'dynamodb:DescribeExport', 's3:PutObject', 's3:GetObject'])
    assert.ok(exp.commands.run?.includes(a), a);
  const scan = iamGrants(config(), sources, { target: inspection() })['source source']!;
  assert.ok(!scan.commands.run?.includes('dynamodb:UpdateItem'), 'a scan backfill never writes the source');
});

test('a target that will be created needs CreateTable in run only; verify --repair writes, verify only reads', () => {
  const dst = iamGrants(config(), sources, { target: inspection() })['target target']!;
  assert.ok(dst.commands.run?.includes('dynamodb:CreateTable'));
  assert.ok(dst.commands.run?.includes('dynamodb:BatchWriteItem'));
  assert.ok(!dst.commands.verify?.some((a) => /PutItem|DeleteItem|BatchWriteItem/.test(a)));
  assert.ok(dst.commands['verify --repair']?.includes('dynamodb:PutItem'));
  const existing = iamGrants(config(), sources, { target: inspection({ exists: true, willCreate: false }) })['target target']!;
  assert.ok(!existing.actions.includes('dynamodb:CreateTable'));
});

test('a PostgreSQL target lists database privileges and no IAM actions', () => {
  const pg = inspection({
    permissions: { actions: ['SELECT, INSERT, UPDATE, DELETE on public.orders'], resources: ['postgres://db public.orders'] },
  });
  const dst = iamGrants(config({ targets: { target: { table: 'orders', kind: 'postgres' } } }), sources, { target: pg })['target target']!;
  assert.ok(
    dst.actions.every((a) => !a.startsWith('dynamodb:')),
    JSON.stringify(dst.actions),
  );
  assert.deepEqual(dst.commands.run, ['SELECT, INSERT, UPDATE, DELETE on public.orders']);
});

test('a role to assume adds sts:AssumeRole to every command of that side', () => {
  const roleArn = 'arn:aws:iam::123456789012:role/Migrator';
  const src = iamGrants(config({ sources: { source: { table: 'Orders', region: 'eu-west-1', roleArn } } }), sources, { target: inspection() })[
    'source source'
  ]!;
  for (const actions of Object.values(src.commands)) assert.ok(actions.includes('sts:AssumeRole'));
});

test("segments are capped at one per page of items and at DynamoDB's 1,000,000, and the cap says so", () => {
  assert.deepEqual(usableSegments(16, 1_000_000, 1000), { segments: 16 }, 'a table big enough keeps the configured segments');
  const small = usableSegments(1_000_000, 504, 1000);
  assert.equal(small.segments, 1);
  assert.match(small.capped ?? '', /capped at 1: the table holds ~504 items/);
  assert.equal(usableSegments(8, 450, 100).segments, 5);
  assert.equal(usableSegments(8, 0, 1000).segments, 1, 'an empty table still gets one segment');
  assert.equal(usableSegments(MAX_SCAN_SEGMENTS, 5e12, 1).segments, MAX_SCAN_SEGMENTS);
});
