/**
 * The practical limit for a backfill: a minimal hand-written parallel Scan → BatchWriteItem copier, about as simple as
 * a copier can be while still using every segment and keeping writes in flight. No transform, no checkpoints, no rate
 * limiting: what is left is the cost of the API calls themselves.
 */
import { ScanCommand, type AttributeValue, type DynamoDBClient, type WriteRequest } from '@aws-sdk/client-dynamodb';
import { batchWrite } from '../lib/local.js';
import { limiter } from '../lib/limit.js';

export interface MinimalCopyOptions {
  segments: number;
  /** BatchWriteItem requests in flight at once, across every segment. */
  writeConcurrency: number;
  pageSize: number;
  /**
   * Ask for ConsumedCapacity on every Scan and BatchWriteItem, as dynashift does for its rate limiter. Not part of the
   * minimal copier: this variant measures what the question itself costs the emulator.
   */
  returnConsumedCapacity?: boolean;
  /** A transform, applied to each item as a hand-written copier would: the wire map in, a wire map out. */
  map?: (item: Record<string, AttributeValue>) => Record<string, AttributeValue>;
}

export async function minimalCopy(client: DynamoDBClient, source: string, target: string, opts: MinimalCopyOptions): Promise<number> {
  const gate = limiter(opts.writeConcurrency);
  const capacity = opts.returnConsumedCapacity ? { ReturnConsumedCapacity: 'TOTAL' as const } : {};
  let copied = 0;
  await Promise.all(
    Array.from({ length: opts.segments }, async (_, segment) => {
      let start: ScanCommand['input']['ExclusiveStartKey'];
      do {
        const page = await client.send(
          new ScanCommand({
            TableName: source,
            Segment: segment,
            TotalSegments: opts.segments,
            Limit: opts.pageSize,
            ConsistentRead: true,
            ExclusiveStartKey: start,
            ...capacity,
          }),
        );
        const items = opts.map ? (page.Items ?? []).map(opts.map) : (page.Items ?? []);
        const writes: Promise<void>[] = [];
        for (let i = 0; i < items.length; i += 25) {
          const batch: WriteRequest[] = items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } }));
          writes.push(gate(() => batchWrite(client, target, batch, { returnConsumedCapacity: opts.returnConsumedCapacity ?? false })));
        }
        await Promise.all(writes);
        copied += items.length;
        start = page.LastEvaluatedKey;
      } while (start);
    }),
  );
  return copied;
}
