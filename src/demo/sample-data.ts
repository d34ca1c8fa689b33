import { BatchWriteItemCommand, DeleteItemCommand, PutItemCommand, UpdateItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { AttributeMap } from '../core/item.js';
import { sleep } from '../core/backoff.js';

/** The demo's orders table: one item per order, keyed by orderId; the migration re-keys it by customer. */
export function sampleOrder(n: number, rand: () => number): AttributeMap {
  const customers = 200;
  const cents = Math.floor(rand() * 1_000_000);
  const item: AttributeMap = {
    orderId: { S: `order-${String(n).padStart(6, '0')}` },
    customerId: { S: `customer-${String(Math.floor(rand() * customers)).padStart(3, '0')}` },
    status: { S: ['new', 'paid', 'shipped', 'test'][Math.floor(rand() * 4)]! },
    total: { N: `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}` },
    // 38 significant digits: a JS float would silently round this.
    ledgerId: { N: `1${String(n).padStart(37, '7')}` },
    lines: { L: [{ M: { sku: { S: `sku-${n % 97}` }, qty: { N: String(1 + (n % 5)) } } }] },
    tags: { SS: ['demo', `batch-${n % 10}`] },
    note: { S: '' },
    signature: { B: Buffer.from(`sig-${n}`) },
  };
  return item;
}

export async function seedOrders(client: DynamoDBClient, table: string, count: number, rand: () => number): Promise<void> {
  for (let i = 0; i < count; i += 25) {
    let requests = Array.from({ length: Math.min(25, count - i) }, (_, j) => ({ PutRequest: { Item: sampleOrder(i + j, rand) } }));
    while (requests.length > 0) {
      const res = await client.send(new BatchWriteItemCommand({ RequestItems: { [table]: requests } }));
      requests = (res.UnprocessedItems?.[table] ?? []) as typeof requests;
      if (requests.length) await sleep(50);
    }
  }
}

/**
 * The live application: new orders, status changes, customer re-assignments (which move the item to another key in
 * the new schema) and deletions, at a steady rate until the signal aborts.
 */
export async function liveWriter(
  client: DynamoDBClient,
  table: string,
  opts: { perSecond: number; startId: number; existing: number; rand: () => number; signal: AbortSignal },
): Promise<number> {
  let next = opts.startId;
  let writes = 0;
  const interval = 1000 / opts.perSecond;
  while (!opts.signal.aborted) {
    const started = Date.now();
    const r = opts.rand();
    const id = `order-${String(Math.floor(opts.rand() * next)).padStart(6, '0')}`;
    if (r < 0.3) {
      await client.send(new PutItemCommand({ TableName: table, Item: sampleOrder(next++, opts.rand) }));
    } else if (r < 0.6) {
      await client
        .send(
          new UpdateItemCommand({
            TableName: table,
            Key: { orderId: { S: id } },
            ConditionExpression: 'attribute_exists(orderId)',
            UpdateExpression: 'SET #s = :s, #t = #t + :d',
            ExpressionAttributeNames: { '#s': 'status', '#t': 'total' },
            ExpressionAttributeValues: { ':s': { S: 'shipped' }, ':d': { N: '0.01' } },
          }),
        )
        .catch(ignoreConditionFailed);
    } else if (r < 0.8) {
      await client
        .send(
          new UpdateItemCommand({
            TableName: table,
            Key: { orderId: { S: id } },
            ConditionExpression: 'attribute_exists(orderId)',
            UpdateExpression: 'SET customerId = :c',
            ExpressionAttributeValues: { ':c': { S: `customer-${String(Math.floor(opts.rand() * 200)).padStart(3, '0')}` } },
          }),
        )
        .catch(ignoreConditionFailed);
    } else {
      await client.send(new DeleteItemCommand({ TableName: table, Key: { orderId: { S: id } } }));
    }
    writes++;
    await sleep(interval - (Date.now() - started), opts.signal);
  }
  return writes;
}

function ignoreConditionFailed(err: unknown): void {
  // The order was deleted meanwhile: the update correctly did nothing.
  if ((err as { name?: string }).name !== 'ConditionalCheckFailedException') throw err;
}

/** The demo's data and writer are seeded, so two demo runs do the same thing. */
export { mulberry32 as seededRandom } from '../core/random.js';
