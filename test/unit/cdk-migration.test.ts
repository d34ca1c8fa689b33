/**
 * The CDK construct's synthesized template: the stream mapping settings the protocol depends on, least-privilege IAM
 * (no "*" resource for any DynamoDB action; exactly the named roles assumable), the alarms, and the backfill state
 * machine's Distributed Map with a loop per segment. And `dynashift deploy --synth` through the CLI, with no AWS
 * credentials.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Code } from 'aws-cdk-lib/aws-lambda';
import { DynashiftMigration, type DynashiftMigrationProps } from '../../src/cdk/index.js';
import aslValidator from 'asl-validator';
import { runCli } from '../support/cli.js';

const ASSET = fileURLToPath(new URL('../fixtures/lambda/asset', import.meta.url));
const STREAM_ARN = 'arn:aws:dynamodb:eu-west-1:111111111111:table/Orders/stream/2026-11-01T00:00:00.000';
const WRITER_ROLE = 'arn:aws:iam::222222222222:role/dynashift-writer';

function synth(overrides: Partial<DynashiftMigrationProps> = {}): Template {
  const app = new App({ analyticsReporting: false });
  const stack = new Stack(app, 'Test', { env: { account: '111111111111', region: 'eu-west-1' } });
  new DynashiftMigration(stack, 'Migration', {
    migrationName: 'orders-split',
    sources: { source: { tableName: 'Orders', streamArn: STREAM_ARN } },
    targets: {
      byCustomer: { tableName: 'OrdersByCustomer' },
      archive: { tableName: 'OrdersArchive', account: '222222222222', roleArn: WRITER_ROLE, create: false },
    },
    code: Code.fromAsset(ASSET),
    backfill: { concurrency: 4 },
    ...overrides,
  });
  return Template.fromStack(stack);
}

type Statement = { Action: string | string[]; Resource: unknown; Effect: string };

function statements(template: Template): Statement[] {
  return Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
    (p) => (p as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument.Statement,
  );
}

const actionsOf = (s: Statement): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);
const resourcesOf = (s: Statement): unknown[] => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]);

/** The state machine definition with CloudFormation tokens replaced by a placeholder string, parsed. */
function definition(template: Template): { States: Record<string, any> } {
  const sm = Object.values(template.findResources('AWS::StepFunctions::StateMachine'))[0] as { Properties: { DefinitionString: unknown } };
  const d = sm.Properties.DefinitionString as string | { 'Fn::Join': [string, unknown[]] };
  const text = typeof d === 'string' ? d : d['Fn::Join'][1].map((p) => (typeof p === 'string' ? p : 'TOKEN')).join('');
  return JSON.parse(text);
}

test('the stream mapping starts at TRIM_HORIZON, disabled, reports item failures, never bisects, one batch per shard, failures to SQS', () => {
  const t = synth();
  t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
    EventSourceArn: STREAM_ARN,
    StartingPosition: 'TRIM_HORIZON',
    Enabled: false,
    FunctionResponseTypes: ['ReportBatchItemFailures'],
    BisectBatchOnFunctionError: false,
    ParallelizationFactor: 1,
    BatchSize: 100,
    MaximumRetryAttempts: Match.absent(), // unlimited: a halted record is retried until fixed, never skipped
    DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [Match.stringLikeRegexp('StreamOnFailure'), 'Arn'] } } },
  });
  t.resourceCountIs('AWS::SQS::Queue', 1);
  synth({ stream: { retryAttempts: 5, enabled: true } }).hasResourceProperties('AWS::Lambda::EventSourceMapping', {
    MaximumRetryAttempts: 5,
    Enabled: true,
  });
});

test('IAM: every DynamoDB action is limited to the named tables, streams and the state table; only the named role is assumable', () => {
  const t = synth();
  const all = statements(t);
  const dynamo = all.filter((s) => actionsOf(s).some((a) => a.startsWith('dynamodb:')));
  assert.ok(dynamo.length > 0);
  for (const s of dynamo) {
    for (const r of resourcesOf(s)) {
      const text = JSON.stringify(r);
      assert.notEqual(r, '*', `dynamodb actions on "*": ${JSON.stringify(s)}`);
      assert.ok(/table\/Orders(ByCustomer)?(\/stream\/\*)?"|StateTable/.test(text), `unexpected resource ${text} for ${actionsOf(s).join(',')}`);
    }
  }
  // The cross-account target is reached only through its role: no DynamoDB grant names it.
  assert.ok(!dynamo.some((s) => JSON.stringify(s.Resource).includes('OrdersArchive')));
  const assume = all.filter((s) => actionsOf(s).includes('sts:AssumeRole'));
  assert.ok(assume.length > 0);
  for (const s of assume) assert.deepEqual(resourcesOf(s), [WRITER_ROLE]);
  // Stream reads (the event source mapping) are on the source's streams only.
  assert.ok(dynamo.some((s) => actionsOf(s).includes('dynamodb:GetRecords') && JSON.stringify(s.Resource).includes('table/Orders/stream/*')));
  // The state machine may enable exactly its mapping.
  const enable = all.filter((s) => actionsOf(s).includes('lambda:UpdateEventSourceMapping'));
  assert.equal(enable.length, 1);
  assert.match(JSON.stringify(enable[0]!.Resource), /event-source-mapping:/);
});

test('alarms: IteratorAge, handler errors, the on-failure queue, dead letters and a failed backfill', () => {
  const t = synth({ alarms: { iteratorAge: Duration.minutes(10) } });
  t.resourceCountIs('AWS::CloudWatch::Alarm', 5);
  t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'IteratorAge', Namespace: 'AWS/Lambda', Threshold: 600_000 });
  t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Errors', Namespace: 'AWS/Lambda' });
  t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ApproximateNumberOfMessagesVisible', Namespace: 'AWS/SQS' });
  t.hasResourceProperties('AWS::CloudWatch::Alarm', {
    MetricName: 'DeadLetters',
    Namespace: 'Dynashift',
    Dimensions: [{ Name: 'migration', Value: 'orders-split' }],
  });
  t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ExecutionsFailed', Namespace: 'AWS/States' });
});

test('without the spool (stream.duringBackfill false): Prepare → Distributed Map (a STANDARD loop per segment) → Complete → enable the mapping, within 20 h', () => {
  const t = synth({ stream: { duringBackfill: false } });
  const d = definition(t);
  assert.equal(d.States.Prepare.Type, 'Task');
  const map = d.States.BackfillSegments;
  assert.equal(map.Type, 'Map');
  assert.equal(map.ItemsPath, '$.segments');
  assert.equal(map.MaxConcurrency, 4);
  assert.deepEqual(map.ItemProcessor.ProcessorConfig, { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' });
  assert.equal(map.ToleratedFailurePercentage ?? 0, 0, 'any failed segment fails the map (the Step Functions default)');
  const inner = map.ItemProcessor.States;
  assert.equal(inner.CopySegment.Next, 'SegmentDone');
  assert.equal(inner.SegmentDone.Default, 'CopySegment', 'a segment loops until done');
  assert.ok(inner.CopySegment.Retry.some((r: { ErrorEquals: string[] }) => r.ErrorEquals.includes('SegmentLeasedError')));
  assert.equal(d.States.Prepare.Next, 'BackfillSegments');
  assert.equal(map.Next, 'Complete');
  assert.equal(d.States.Complete.Next, 'StreamMayStart');
  // A step whose previous attempt still holds the migration lock (or that lost it after a stall) runs again later.
  for (const step of ['Prepare', 'Complete'])
    assert.ok(
      d.States[step].Retry.some((r: { ErrorEquals: string[] }) => r.ErrorEquals.includes('MigrationLockedError')),
      `${step} is retried on MigrationLockedError`,
    );
  const gate = d.States.StreamMayStart;
  assert.equal(gate.Choices[0].Variable, '$.enableStreamMapping');
  assert.equal(gate.Default, 'BackfillIncomplete');
  const enable = d.States[gate.Choices[0].Next];
  assert.equal(enable.Resource, 'arn:TOKEN:states:::aws-sdk:lambda:updateEventSourceMapping');
  assert.equal(enable.Parameters.Enabled, true);
  assert.equal(d.States.ReplaySpool, undefined, 'nothing to replay');
  assert.equal((d as { TimeoutSeconds?: number }).TimeoutSeconds, 72_000, 'the 20-hour bound of the stream retention');
});

test('with the spool (the default): Prepare → enable the mapping → Distributed Map → Complete → ReplaySpool looped until done, no 20-hour timeout', () => {
  const t = synth();
  const d = definition(t);
  const enable = d.States[d.States.Prepare.Next];
  assert.equal(enable.Resource, 'arn:TOKEN:states:::aws-sdk:lambda:updateEventSourceMapping', 'the mapping is enabled right after Prepare');
  assert.equal(enable.Parameters.Enabled, true);
  assert.equal(enable.Next, 'BackfillSegments');
  assert.equal(d.States.BackfillSegments.Next, 'Complete');
  const gate = d.States.StreamMayStart;
  assert.equal(gate.Choices[0].Next, 'ReplaySpool');
  assert.equal(gate.Default, 'BackfillIncomplete');
  assert.equal(d.States.ReplaySpool.Next, 'SpoolReplayed');
  const loop = d.States.SpoolReplayed;
  assert.equal(loop.Choices[0].Variable, '$.done');
  assert.equal(loop.Choices[0].Next, 'CatchingUp');
  assert.equal(loop.Default, 'ReplaySpool', 'the replay loops until the spool is live');
  assert.equal(
    Object.values(d.States).filter((s: { Resource?: string }) => s.Resource?.includes('updateEventSourceMapping')).length,
    1,
    'enabled once',
  );
  assert.equal((d as { TimeoutSeconds?: number }).TimeoutSeconds, undefined, 'no step depends on the 24-hour stream retention');
  t.hasResourceProperties('AWS::Lambda::Function', { Handler: 'index.replaySpool', Timeout: 900 });
  // The replay reads each spooled key from the source: GetItem on the source table, nothing broader.
  const reads = statements(t).filter((s) => actionsOf(s).includes('dynamodb:GetItem') && JSON.stringify(s.Resource).includes('table/Orders"'));
  assert.ok(reads.length > 0, 'GetItem on the source table');
});

test('without a stream ARN the construct reads LatestStreamArn at deploy time, allowed DescribeTable on that table only', () => {
  const t = synth({ sources: { source: { tableName: 'Orders' } } });
  t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
    EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('StreamArnLookup'), 'Table.LatestStreamArn'] },
  });
  t.hasResourceProperties('AWS::IAM::Policy', {
    PolicyDocument: {
      Statement: [{ Action: 'dynamodb:DescribeTable', Effect: 'Allow', Resource: Match.objectLike({ 'Fn::Join': Match.anyValue() }) }],
    },
  });
});

test('the functions get the state table, the migration name and the config path; the state table is kept on delete', () => {
  const t = synth();
  t.hasResourceProperties('AWS::Lambda::Function', {
    Handler: 'index.streamHandler',
    Environment: {
      Variables: Match.objectLike({
        DYNASHIFT_MIGRATION: 'orders-split',
        DYNASHIFT_CONFIG: 'dynashift.config.json',
        DYNASHIFT_STATE_TABLE: Match.anyValue(),
      }),
    },
  });
  t.hasResourceProperties('AWS::Lambda::Function', {
    Handler: 'index.backfillSegment',
    Timeout: 900,
    Environment: { Variables: Match.objectLike({ DYNASHIFT_TIME_BUDGET_MS: '720000' }) },
  });
  t.hasResource('AWS::DynamoDB::Table', {
    DeletionPolicy: 'Retain',
    Properties: Match.objectLike({
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
    }),
  });
});

test('`dynashift deploy --synth` prints the template as JSON without AWS credentials', { timeout: 110_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dynashift-deploy-'));
  writeFileSync(join(dir, 'transform.mjs'), 'export default (item) => item;\n');
  writeFileSync(
    join(dir, 'dynashift.config.json'),
    JSON.stringify({
      name: 'orders-move',
      source: { table: 'Orders', region: 'eu-west-1' },
      target: { table: 'OrdersV2', region: 'eu-west-1' },
      transform: './transform.mjs',
      backfill: { concurrency: 3 },
    }),
  );
  const env = {
    AWS_ACCESS_KEY_ID: '',
    AWS_SECRET_ACCESS_KEY: '',
    AWS_PROFILE: '',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: join(dir, 'none'),
    AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none'),
  };
  const res = await runCli(['deploy', '--synth', '-c', join(dir, 'dynashift.config.json'), '--code', ASSET], { env, timeoutMs: 100_000 });
  assert.equal(res.code, 0, res.stderr);
  const template = JSON.parse(res.stdout) as { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };
  const types = Object.values(template.Resources).map((r) => r.Type);
  for (const type of [
    'AWS::Lambda::EventSourceMapping',
    'AWS::StepFunctions::StateMachine',
    'AWS::DynamoDB::Table',
    'AWS::SQS::Queue',
    'AWS::CloudWatch::Alarm',
  ]) {
    assert.ok(types.includes(type), `${type} in the template`);
  }
  const esm = Object.values(template.Resources).find((r) => r.Type === 'AWS::Lambda::EventSourceMapping')!;
  assert.equal(esm.Properties.Enabled, false);
  assert.equal(esm.Properties.StartingPosition, 'TRIM_HORIZON');

  const refused = await runCli(['deploy', '-c', join(dir, 'dynashift.config.json')], { env, timeoutMs: 60_000 });
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /--synth/);
});

test('export: Prepare (retried on ExportInProgressError) → a Distributed Map whose ItemReader reads manifest-files.json (JSONL) at the bucket and key Prepare returns, a STANDARD loop per data file → Complete; S3 reads limited to the export prefix; valid ASL', () => {
  const t = synth({ backfill: { strategy: 'export', concurrency: 4, export: { bucket: 'exports-bucket', prefix: 'orders/', start: true } } });
  const d = definition(t);
  assert.ok(
    d.States.Prepare.Retry.some(
      (r: { ErrorEquals: string[]; MaxAttempts: number }) => r.ErrorEquals.includes('ExportInProgressError') && r.MaxAttempts * 6 <= 8 * 60,
    ),
    'Prepare is retried while the export runs, inside the 8-hour idempotency window',
  );
  const choice = d.States[d.States[d.States.Prepare.Next].Next];
  assert.equal(choice.Choices[0].IsPresent, true);
  assert.equal(choice.Choices[0].Variable, '$.exportFiles.bucket');
  const map = d.States[choice.Choices[0].Next];
  assert.equal(map.Type, 'Map');
  assert.deepEqual(map.ItemReader.ReaderConfig, { InputType: 'JSONL' });
  assert.deepEqual(map.ItemReader.Parameters, { 'Bucket.$': '$.exportFiles.bucket', 'Key.$': '$.exportFiles.key' });
  assert.match(map.ItemReader.Resource, /:states:::s3:getObject$/);
  assert.equal(map.ItemSelector, undefined, 'each child gets the manifest line as it is');
  assert.equal(map.ItemProcessor.ProcessorConfig.ExecutionType, 'STANDARD');
  assert.equal(map.MaxConcurrency, 4);
  assert.equal(map.Next, 'Complete');
  const load = map.ItemProcessor.States[map.ItemProcessor.StartAt];
  assert.ok(load.Retry.some((r: { ErrorEquals: string[] }) => r.ErrorEquals.includes('SegmentLeasedError')));
  assert.equal(map.ItemProcessor.States[load.Next].Default, map.ItemProcessor.StartAt, 'a file loops until done');
  assert.equal(d.States[choice.Default].Next, 'Complete', 'an imported export skips the Map');
  const s3 = statements(t).filter((s) => actionsOf(s).some((a) => a.startsWith('s3:')));
  assert.ok(s3.length > 0);
  for (const s of s3) {
    for (const r of resourcesOf(s)) assert.match(String(r), /^arn:aws:s3:::exports-bucket(\/orders\/\*)?$/, `S3 grant ${JSON.stringify(s)}`);
  }
  const validated = aslValidator(JSON.parse(JSON.stringify(d).replaceAll('arn:TOKEN:', 'arn:aws:')), { checkArn: false, checkPaths: true });
  assert.ok(validated.isValid, validated.errorsText());
});

test('touch: the segment Map, and UpdateItem on the source table only for BackfillSegment; valid ASL', () => {
  const t = synth({ backfill: { strategy: 'touch', concurrency: 4 } });
  const d = definition(t);
  assert.equal(d.States.BackfillSegments.ItemsPath, '$.segments');
  const updates = statements(t).filter((s) => actionsOf(s).includes('dynamodb:UpdateItem') && JSON.stringify(s.Resource).includes('table/Orders"'));
  assert.ok(updates.length > 0, 'UpdateItem on the source table');
  const validated = aslValidator(JSON.parse(JSON.stringify(d).replaceAll('arn:TOKEN:', 'arn:aws:')), { checkArn: false, checkPaths: true });
  assert.ok(validated.isValid, validated.errorsText());
});
