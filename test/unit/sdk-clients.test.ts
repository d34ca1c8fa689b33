import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { clientsFor } from '../../src/aws/clients.js';
import { retryAws } from '../../src/aws/aws-retry.js';
import { awsRetryVerdict, isTimeout, roleFor } from '../../src/aws/errors.js';
import { requestHealth } from '../../src/aws/request-health.js';
import { sdkAttemptsOf } from '../../src/aws/sdk-attempts.js';
import type { WriteOp } from '../../src/core/write-op.js';
import { DynashiftError } from '../../src/errors.js';
import { DynamoDbSink } from '../../src/sinks/dynamodb/dynamodb-sink.js';
import { startFakeDynamoDb, type FakeReply } from '../support/fake-dynamodb.js';
import { s3ClientFor } from '../../src/aws/s3.js';
import { SDK_LOGGER_MIDDLEWARE } from '../../src/aws/sdk-logging.js';

// The SDK's logger middleware copies every request and response body before logging nothing; dynashift's clients
// must not carry it (a sixth of the backfill's CPU), and the name it is removed by must still exist in the SDK.
test('SDK clients are built without the logger middleware', () => {
  const { dynamodb, streams } = clientsFor(
    { table: 't', region: 'us-east-1', endpoint: 'http://127.0.0.1:1' },
    roleFor('source', 'source', { table: 't' }),
  );
  for (const [name, client] of [
    ['dynamodb', dynamodb],
    ['streams', streams],
  ] as const) {
    const stack = client.middlewareStack.identify().join('\n');
    assert.doesNotMatch(stack, new RegExp(SDK_LOGGER_MIDDLEWARE), name);
    assert.match(stack, /retryMiddleware/, `${name}: the rest of the stack is intact`);
  }
  const s3 = s3ClientFor({ endpoint: 'http://127.0.0.1:1', region: 'us-east-1' });
  assert.doesNotMatch(s3.middlewareStack.identify().join('\n'), new RegExp(SDK_LOGGER_MIDDLEWARE));
});

test('the SDK still names its logger middleware the way dynashift removes it', async () => {
  const { DynamoDBClient } = await import('@aws-sdk/client-dynamodb');
  const plain = new DynamoDBClient({ region: 'us-east-1' });
  assert.match(plain.middlewareStack.identify().join('\n'), new RegExp(SDK_LOGGER_MIDDLEWARE));
});

// ---- timeouts, retries and what they are reported as ---------------------------------------------------------------

const fakeRef = (endpoint: string) => ({ table: 't', region: 'us-east-1', endpoint });
const role = (side: 'source' | 'target', endpoint: string) => roleFor(side, side, fakeRef(endpoint));
const DESCRIBE_OK = { Table: { TableName: 't', TableStatus: 'ACTIVE' } };

function captureWarnings(): { warnings: { obj: Record<string, unknown>; msg?: string }[]; stop(): void } {
  const warnings: { obj: Record<string, unknown>; msg?: string }[] = [];
  requestHealth.setLogger({ warn: (obj, msg) => warnings.push({ obj: obj as Record<string, unknown>, ...(msg ? { msg } : {}) }) });
  return { warnings, stop: () => requestHealth.setLogger(undefined) };
}

test('a server that stops answering is reported as a warning naming the side and the operation, within the request timeout', async (t) => {
  const server = await startFakeDynamoDb(() => ({ kind: 'freeze' }));
  const cap = captureWarnings();
  t.after(async () => {
    cap.stop();
    await server.close();
  });
  const { dynamodb } = clientsFor(fakeRef(server.endpoint), role('target', server.endpoint), { requestTimeoutMs: 300, maxAttempts: 1 });
  const started = Date.now();
  await assert.rejects(dynamodb.send(new DescribeTableCommand({ TableName: 't' })), (err: Error) => isTimeout(err));
  assert.ok(Date.now() - started < 3_000, `the call ended after ${Date.now() - started} ms instead of hanging`);
  const w = cap.warnings.find((x) => x.obj['operation'] === 'DescribeTable');
  assert.ok(w, `a warning for the operation; got ${JSON.stringify(cap.warnings)}`);
  assert.equal(w.obj['side'], 'target');
  assert.match(w.msg ?? '', /target: DescribeTable got no answer within the request timeout/);
});

test('a server that never answers again halts the call with ENDPOINT_UNREACHABLE once the failure budget is spent, naming the side', async (t) => {
  const server = await startFakeDynamoDb(() => ({ kind: 'freeze' }));
  t.after(() => server.close());
  const { dynamodb } = clientsFor(fakeRef(server.endpoint), role('source', server.endpoint), { requestTimeoutMs: 200, maxAttempts: 2 });
  await assert.rejects(
    retryAws(() => dynamodb.send(new DescribeTableCommand({ TableName: 't' })), {
      side: 'source',
      operation: 'DescribeTable',
      budgetMs: 1_000,
      baseMs: 10,
      maxMs: 50,
    }),
    (err: unknown) => {
      assert.ok(err instanceof DynashiftError);
      assert.equal(err.code, 'ENDPOINT_UNREACHABLE');
      assert.equal(err.side, 'source');
      assert.equal(err.details?.['side'], 'source');
      assert.match(err.message, /source: DescribeTable kept failing for \d+ s \(no answer within the request timeout\)/);
      assert.match(err.hint ?? '', /source\.endpoint .*rerun the same command to resume/);
      return true;
    },
  );
  assert.ok(server.received.length >= 3, `retried: ${server.received.length} requests`);
});

test('a server that freezes for a while and answers again costs a delay, not the call', async (t) => {
  const frozenUntil = Date.now() + 800;
  const server = await startFakeDynamoDb(() => (Date.now() < frozenUntil ? { kind: 'freeze' } : { kind: 'ok', body: DESCRIBE_OK }));
  t.after(() => server.close());
  const { dynamodb } = clientsFor(fakeRef(server.endpoint), role('source', server.endpoint), { requestTimeoutMs: 200 });
  const out = await retryAws(() => dynamodb.send(new DescribeTableCommand({ TableName: 't' })), { side: 'source', operation: 'DescribeTable' });
  assert.equal(out?.Table?.TableStatus, 'ACTIVE');
  assert.ok(sdkAttemptsOf(out).failed >= 1, 'the timed-out attempts are on record');
});

test("the SDK's own retries are told apart: a 503 is a failure, ProvisionedThroughputExceeded is throttling", async (t) => {
  const script: FakeReply[] = [
    { kind: 'error', status: 503, type: 'ServiceUnavailable' },
    { kind: 'ok', body: DESCRIBE_OK },
    { kind: 'error', status: 400, type: 'ProvisionedThroughputExceededException' },
    { kind: 'ok', body: DESCRIBE_OK },
    { kind: 'error', status: 500, type: 'InternalServerError' },
    { kind: 'error', status: 400, type: 'ThrottlingException' },
    { kind: 'ok', body: DESCRIBE_OK },
  ];
  const server = await startFakeDynamoDb((_op, n) => script[n - 1]!);
  t.after(() => server.close());
  const { dynamodb } = clientsFor(fakeRef(server.endpoint), role('target', server.endpoint));
  const send = () => dynamodb.send(new DescribeTableCommand({ TableName: 't' }));
  assert.deepEqual({ ...sdkAttemptsOf(await send()) }, { throttled: 0, failed: 1 });
  assert.deepEqual({ ...sdkAttemptsOf(await send()) }, { throttled: 1, failed: 0 });
  assert.deepEqual({ ...sdkAttemptsOf(await send()) }, { throttled: 1, failed: 1 });
});

test('a reset connection is reported as ECONNRESET, not as a timeout (the HTTP handler names both TimeoutError)', async (t) => {
  const server = await startFakeDynamoDb((_op, n) => (n === 1 ? { kind: 'reset' } : { kind: 'ok', body: DESCRIBE_OK }));
  const cap = captureWarnings();
  t.after(async () => {
    cap.stop();
    await server.close();
  });
  const { dynamodb } = clientsFor(fakeRef(server.endpoint), role('source', server.endpoint));
  const out = await dynamodb.send(new DescribeTableCommand({ TableName: 't' }));
  assert.deepEqual({ ...sdkAttemptsOf(out) }, { throttled: 0, failed: 1 });
  const w = cap.warnings.find((x) => x.obj['operation'] === 'DescribeTable');
  assert.equal(w?.obj['error'], 'ECONNRESET');
  assert.match(w?.msg ?? '', /source: DescribeTable failed with ECONNRESET; retrying/);
});

test('errors are classified as the SDK does: only throttling codes are throttling', () => {
  const err = (name: string, status?: number) =>
    Object.assign(new Error(name), { name, ...(status ? { $metadata: { httpStatusCode: status } } : {}) });
  for (const name of ['ProvisionedThroughputExceededException', 'ThrottlingException', 'RequestLimitExceeded']) {
    assert.equal(awsRetryVerdict(err(name, 400)), 'throttled', name);
  }
  assert.equal(awsRetryVerdict(err('InternalServerError', 500)), 'retry');
  assert.equal(awsRetryVerdict(err('ServiceUnavailable', 503)), 'retry');
  assert.equal(awsRetryVerdict(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })), 'retry');
  assert.equal(awsRetryVerdict(err('TimeoutError')), 'retry');
  assert.equal(awsRetryVerdict(err('ValidationException', 400)), 'fatal');
  assert.equal(awsRetryVerdict(err('ConditionalCheckFailedException', 400)), 'fatal');
});

describe('DynamoDbSink write rate', () => {
  const ok = { kind: 'ok', body: { UnprocessedItems: {}, ConsumedCapacity: [{ TableName: 't', CapacityUnits: 25 }] } } as const;
  const items = Array.from({ length: 3000 }, (_, i) => putOp(i));

  test('a 503 the SDK retried does not lower the write rate (3,000 items still written at full speed)', async (t) => {
    const server = await startFakeDynamoDb((_op, n) => (n === 1 ? { kind: 'error', status: 503, type: 'ServiceUnavailable' } : ok));
    t.after(() => server.close());
    const sink = new DynamoDbSink({
      name: 't',
      client: clientsFor(fakeRef(server.endpoint), role('target', server.endpoint)).dynamodb,
      table: 't',
      concurrency: 8,
    });
    const started = Date.now();
    const out = await sink.write(items);
    assert.equal(out.stats.written, 3000);
    assert.equal(sink.currentWriteRate, Infinity);
    // Fault-free this takes ~1–2 s (more on a loaded machine); limited to half the meter's reading it took ~100 s.
    assert.ok(Date.now() - started < 30_000, `took ${Date.now() - started} ms`);
  });

  test('a throttled request does lower the write rate (the SDK retried it successfully)', async (t) => {
    const server = await startFakeDynamoDb((_op, n) =>
      n === 5 ? { kind: 'error', status: 400, type: 'ProvisionedThroughputExceededException' } : ok,
    );
    t.after(() => server.close());
    const sink = new DynamoDbSink({
      name: 't',
      client: clientsFor(fakeRef(server.endpoint), role('target', server.endpoint)).dynamodb,
      table: 't',
      concurrency: 8,
    });
    await sink.write(items.slice(0, 250));
    assert.ok(Number.isFinite(sink.currentWriteRate), `rate ${sink.currentWriteRate}`);
  });
});

function putOp(i: number): WriteOp {
  const key = { pk: { S: `k${i}` } };
  return { kind: 'put', target: 't', keyId: `k${i}`, key, item: key, origin: { source: 'source', sourceKey: key, via: 'backfill' } };
}
