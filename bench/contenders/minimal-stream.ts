/**
 * The practical limit for the stream apply: a minimal reader + writer. DescribeStream, GetShardIterator at
 * TRIM_HORIZON, then GetRecords (Limit 1000) → BatchWriteItem until a page comes back empty. Like dynashift it
 * writes a page before reading the next one (the order of changes to a key must be kept) and compacts a page to the
 * last change per key (BatchWriteItem rejects two requests on one key). No lineage, checkpoints or transform.
 */
import type { DynamoDBClient, WriteRequest } from '@aws-sdk/client-dynamodb';
import { DescribeStreamCommand, GetRecordsCommand, GetShardIteratorCommand, type DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { KEY_NAME } from '../lib/dataset.js';
import { batchWrite } from '../lib/local.js';
import { limiter } from '../lib/limit.js';

export async function minimalDrain(
  client: DynamoDBClient,
  streams: DynamoDBStreamsClient,
  streamArn: string,
  target: string,
  opts: { writeConcurrency: number; onFirstRecord?: () => void },
): Promise<number> {
  const gate = limiter(opts.writeConcurrency);
  const listing = await streams.send(new DescribeStreamCommand({ StreamArn: streamArn }));
  let records = 0;
  // DynamoDB Local keeps one shard per stream; parents come first in the listing.
  for (const shard of listing.StreamDescription?.Shards ?? []) {
    let iterator = (
      await streams.send(
        new GetShardIteratorCommand({
          StreamArn: streamArn,
          ShardId: shard.ShardId,
          ShardIteratorType: 'TRIM_HORIZON',
        }),
      )
    ).ShardIterator;
    while (iterator) {
      const page = await streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }));
      const recs = page.Records ?? [];
      if (recs.length === 0) break; // caught up (an open shard) or nothing left
      if (records === 0) opts.onFirstRecord?.();
      records += recs.length;
      const last = new Map<string, WriteRequest>();
      for (const r of recs) {
        const keys = r.dynamodb?.Keys as Record<string, AttributeValue>;
        const id = keys[KEY_NAME]!.S!;
        const image = r.dynamodb?.NewImage as Record<string, AttributeValue> | undefined;
        last.delete(id); // keep the page order of the final writes
        last.set(id, image ? { PutRequest: { Item: image } } : { DeleteRequest: { Key: keys } });
      }
      const requests = [...last.values()];
      const writes: Promise<void>[] = [];
      for (let i = 0; i < requests.length; i += 25) {
        const batch = requests.slice(i, i + 25);
        writes.push(gate(() => batchWrite(client, target, batch)));
      }
      await Promise.all(writes);
      iterator = page.NextShardIterator;
    }
  }
  return records;
}
