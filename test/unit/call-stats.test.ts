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
