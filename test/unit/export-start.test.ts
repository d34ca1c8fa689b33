/**
 * Starting and awaiting a DynamoDB export. DynamoDB Local has no export or PITR API (semantics doc §8), so the client
 * is a stub that records the calls and answers like the service.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DynashiftError } from '../../src/errors.js';
import { startExport, waitForExport, type ExportApiClient } from '../../src/sources/export/start-export.js';

const TABLE_ARN = 'arn:aws:dynamodb:eu-west-1:123456789012:table/Orders';
const EXPORT_ARN = `${TABLE_ARN}/export/01700000000000-a1b2c3d4`;

/** A stub DynamoDB client: answers by command name, records what it was sent. */
function stubClient(
  answers: Record<string, (input: Record<string, unknown>) => unknown>,
): ExportApiClient & { calls: { name: string; input: Record<string, unknown> }[] } {
  const calls: { name: string; input: Record<string, unknown> }[] = [];
  return {
    calls,
    send: (async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
      const name = command.constructor.name.replace(/Command$/, '');
      calls.push({ name, input: command.input });
      const answer = answers[name];
      if (!answer) throw new Error(`unexpected call ${name}`);
      return answer(command.input);
    }) as unknown as ExportApiClient['send'],
  };
}

const pitr = (status: 'ENABLED' | 'DISABLED') => () => ({
  ContinuousBackupsDescription: {
    ContinuousBackupsStatus: 'ENABLED',
    PointInTimeRecoveryDescription: {
      PointInTimeRecoveryStatus: status,
      ...(status === 'ENABLED'
        ? { EarliestRestorableDateTime: new Date('2024-01-01T00:00:00Z'), LatestRestorableDateTime: new Date('2024-01-02T00:00:00Z') }
        : {}),
    },
  },
});

describe('startExport (stubbed DynamoDB export API)', () => {
  test('checks PITR, then calls ExportTableToPointInTime with the bucket, prefix, format, time and a client token', async () => {
    const client = stubClient({
      DescribeContinuousBackups: pitr('ENABLED'),
      ExportTableToPointInTime: () => ({ ExportDescription: { ExportArn: EXPORT_ARN, ExportStatus: 'IN_PROGRESS' } }),
    });
    const started = await startExport(client, {
      tableArn: TABLE_ARN,
      s3Bucket: 'bkt',
      s3Prefix: 'exports/orders',
      format: 'ION',
      exportTime: new Date('2024-01-01T12:00:00Z'),
    });
    assert.deepEqual(started, { exportArn: EXPORT_ARN, exportId: '01700000000000-a1b2c3d4', status: 'IN_PROGRESS' });
    assert.deepEqual(
      client.calls.map((c) => c.name),
      ['DescribeContinuousBackups', 'ExportTableToPointInTime'],
    );
    const input = client.calls[1]!.input;
    assert.equal(input['TableArn'], TABLE_ARN);
    assert.equal(input['S3Bucket'], 'bkt');
    assert.equal(input['S3Prefix'], 'exports/orders');
    assert.equal(input['ExportFormat'], 'ION');
    assert.equal(input['ExportType'], 'FULL_EXPORT');
    assert.deepEqual(input['ExportTime'], new Date('2024-01-01T12:00:00Z'));
    assert.match(String(input['ClientToken']), /^[0-9a-f-]{36}$/);
  });

  test('a table without point-in-time recovery gets a clear refusal and no export call', async () => {
    const client = stubClient({ DescribeContinuousBackups: pitr('DISABLED') });
    await assert.rejects(startExport(client, { tableArn: TABLE_ARN, s3Bucket: 'bkt' }), (err: unknown) => {
      assert.ok(err instanceof DynashiftError);
      assert.equal(err.code, 'CONFIG_INVALID');
      assert.equal(err.exitCode, 2);
      assert.match(err.message, /point-in-time recovery is disabled on .*Orders/);
      assert.match(err.hint ?? '', /update-continuous-backups --table-name Orders/);
      return true;
    });
    assert.deepEqual(
      client.calls.map((c) => c.name),
      ['DescribeContinuousBackups'],
    );
  });

  test('an export time outside the PITR window is refused', async () => {
    const client = stubClient({ DescribeContinuousBackups: pitr('ENABLED') });
    await assert.rejects(
      startExport(client, { tableArn: TABLE_ARN, s3Bucket: 'bkt', exportTime: new Date('2023-12-01T00:00:00Z') }),
      /outside the point-in-time window/,
    );
  });
});

describe('waitForExport (stubbed DynamoDB export API)', () => {
  test('polls DescribeExport with growing waits until COMPLETED, then returns the export folder URI', async () => {
    const statuses = ['IN_PROGRESS', 'IN_PROGRESS', 'IN_PROGRESS', 'COMPLETED'];
    const client = stubClient({
      DescribeExport: () => ({
        ExportDescription: {
          ExportArn: EXPORT_ARN,
          ExportStatus: statuses.shift(),
          S3Bucket: 'bkt',
          S3Prefix: 'exports/orders/',
          ExportTime: new Date('2024-01-01T12:00:00Z'),
          ItemCount: 42,
        },
      }),
    });
    const waits: number[] = [];
    const polled: string[] = [];
    const done = await waitForExport(client, EXPORT_ARN, {
      pollMs: 1000,
      maxPollMs: 2000,
      sleep: async (ms) => void waits.push(ms),
      onPoll: (s) => polled.push(s),
    });
    assert.deepEqual(done, {
      exportArn: EXPORT_ARN,
      exportId: '01700000000000-a1b2c3d4',
      uri: 's3://bkt/exports/orders/AWSDynamoDB/01700000000000-a1b2c3d4/',
      exportTime: new Date('2024-01-01T12:00:00Z'),
      itemCount: 42,
    });
    assert.deepEqual(waits, [1000, 1500, 2000]);
    assert.deepEqual(polled, ['IN_PROGRESS', 'IN_PROGRESS', 'IN_PROGRESS', 'COMPLETED']);
  });

  test('an export without a prefix lands at the bucket root', async () => {
    const client = stubClient({
      DescribeExport: () => ({ ExportDescription: { ExportArn: EXPORT_ARN, ExportStatus: 'COMPLETED', S3Bucket: 'bkt' } }),
    });
    assert.equal((await waitForExport(client, EXPORT_ARN, { sleep: async () => {} })).uri, 's3://bkt/AWSDynamoDB/01700000000000-a1b2c3d4/');
  });

  test("FAILED becomes a typed error carrying AWS's failure code and message", async () => {
    const client = stubClient({
      DescribeExport: () => ({
        ExportDescription: { ExportArn: EXPORT_ARN, ExportStatus: 'FAILED', FailureCode: 'S3AccessDenied', FailureMessage: 'Access Denied' },
      }),
    });
    await assert.rejects(waitForExport(client, EXPORT_ARN, { sleep: async () => {} }), (err: unknown) => {
      assert.ok(err instanceof DynashiftError);
      assert.equal(err.code, 'AWS_ERROR');
      assert.match(err.message, /failed: S3AccessDenied: Access Denied/);
      assert.match(err.hint ?? '', /bucket policy/);
      return true;
    });
  });

  test('transient DescribeExport errors are retried; a timeout ends the wait', async () => {
    let calls = 0;
    let now = 0;
    const client = stubClient({
      DescribeExport: () => {
        calls++;
        if (calls === 1) throw Object.assign(new Error('slow down'), { name: 'ThrottlingException' });
        return { ExportDescription: { ExportArn: EXPORT_ARN, ExportStatus: 'IN_PROGRESS' } };
      },
    });
    await assert.rejects(
      waitForExport(client, EXPORT_ARN, { timeoutMs: 10_000, pollMs: 4000, now: () => now, sleep: async (ms) => void (now += ms) }),
      /still IN_PROGRESS/,
    );
    assert.ok(calls >= 3);
  });
});
