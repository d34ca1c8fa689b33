import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clientsFor } from '../../src/aws/clients.js';
import { roleFor } from '../../src/aws/errors.js';
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
