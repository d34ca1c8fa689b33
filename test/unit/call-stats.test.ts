/**
 * Throttles and retries are counted per attempt, including the ones the SDK's own retry loop absorbs, and a
 * BatchWriteItem that comes back with UnprocessedItems counts as throttled and retried (the sink resends it).
 * DynamoDB Local never throttles, so a loopback endpoint plays DynamoDB's throttling answers to a real SDK client.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BatchWriteItemCommand } from '@aws-sdk/client-dynamodb';
import { clientsFor } from '../../src/aws/clients.js';
import { addCalls, callDeltas, newCallStats } from '../../src/aws/call-stats.js';
import { roleFor } from '../../src/aws/errors.js';

const THROTTLED = { status: 400, body: { __type: 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException', message: 'slow down' } };

test('every throttled attempt is counted, including those the SDK retries, and UnprocessedItems count as throttled', async () => {
  const answers = [
    THROTTLED,
    THROTTLED,
    { status: 200, body: { UnprocessedItems: { t: [{ PutRequest: { Item: { id: { S: 'b' } } } }] } } },
    { status: 200, body: { UnprocessedItems: {} } },
  ];
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const a = answers.shift() ?? { status: 500, body: { message: 'unexpected request' } };
      res.writeHead(a.status, { 'content-type': 'application/x-amz-json-1.0' }).end(JSON.stringify(a.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const ref = { table: 't', endpoint, region: 'us-east-1' };
    const { dynamodb, calls } = clientsFor(ref, roleFor('target', 'target', ref));
    const put = (id: string) => new BatchWriteItemCommand({ RequestItems: { t: [{ PutRequest: { Item: { id: { S: id } } } }] } });

    const first = await dynamodb.send(put('a')); // two throttles absorbed by the SDK, then a partial answer
    assert.equal(first.$metadata.attempts, 3);
    assert.deepEqual(calls, { requests: 3, throttles: 3, retries: 3 });
    await dynamodb.send(put('b')); // the resend, accepted whole
    assert.deepEqual(calls, { requests: 4, throttles: 3, retries: 3 });
    dynamodb.destroy();
  } finally {
    server.close();
  }
});

test('a worker thread reports its requests as deltas since its previous report, which the main thread adds up', () => {
  const source = newCallStats();
  const target = newCallStats();
  const since = callDeltas(() => ({ source, target, absent: undefined }));
  assert.equal(since(), undefined, 'nothing yet');
  source.requests += 3;
  target.requests += 2;
  target.throttles += 1;
  target.retries += 1;
  assert.deepEqual(since(), { source: { requests: 3, throttles: 0, retries: 0 }, target: { requests: 2, throttles: 1, retries: 1 } });
  source.requests += 1;
  assert.deepEqual(since(), { source: { requests: 1, throttles: 0, retries: 0 } }, 'only what changed, only the change');
  const main = newCallStats();
  addCalls(main, { requests: 3, throttles: 0, retries: 0 });
  addCalls(main, { requests: 1, throttles: 1, retries: 1 });
  assert.deepEqual(main, { requests: 4, throttles: 1, retries: 1 });
});
