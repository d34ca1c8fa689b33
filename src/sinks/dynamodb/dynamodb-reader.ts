import { BatchGetItemCommand, ScanCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { backoffDelay, sleep } from '../../core/backoff.js';
import { isRetryable } from '../../aws/errors.js';
import type { AttributeMap, KeySchema } from '../../core/item.js';
import { keyId } from '../../core/item.js';

/** Reads a DynamoDB table back for verify: parallel Scan segments and consistent BatchGetItem lookups. */
export class DynamoDbReader {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
    readonly keySchema: KeySchema,
    private readonly pageSize = 1000,
  ) {}

  readPartitions(count: number): string[] {
    return Array.from({ length: count }, (_, i) => `${i}/${count}`);
  }

  async *readPartition(partition: string, signal?: AbortSignal): AsyncIterable<AttributeMap[]> {
    const [segment, total] = partition.split('/').map(Number) as [number, number];
    let start: AttributeMap | undefined;
    do {
      const res = await retrying(
        () =>
          this.client.send(
            new ScanCommand({
              TableName: this.table,
              Segment: segment,
              TotalSegments: total,
              Limit: this.pageSize,
              ConsistentRead: true,
              ...(start ? { ExclusiveStartKey: start } : {}),
            }),
          ),
        signal,
      );
      yield (res.Items ?? []) as AttributeMap[];
      start = res.LastEvaluatedKey;
    } while (start && !signal?.aborted);
  }

  async getItems(keys: AttributeMap[]): Promise<(AttributeMap | undefined)[]> {
    const found = new Map<string, AttributeMap>();
    // BatchGetItem rejects a request that names one key twice; ask once per key, answer every position.
    const unique = [...new Map(keys.map((k) => [keyId(k, this.keySchema), k])).values()];
    for (let i = 0; i < unique.length; i += 100) {
      let pending = unique.slice(i, i + 100);
      for (let attempt = 0; pending.length > 0; attempt++) {
        const res = await retrying(() =>
          this.client.send(
            new BatchGetItemCommand({
              RequestItems: { [this.table]: { Keys: pending, ConsistentRead: true } },
            }),
          ),
        );
        for (const item of (res.Responses?.[this.table] ?? []) as AttributeMap[]) found.set(keyId(item, this.keySchema), item);
        pending = (res.UnprocessedKeys?.[this.table]?.Keys ?? []) as AttributeMap[];
        if (pending.length) await sleep(backoffDelay(attempt));
      }
    }
    return keys.map((k) => found.get(keyId(k, this.keySchema)));
  }
}

async function retrying<T>(call: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (!isRetryable(err) || signal?.aborted) throw err;
      await sleep(backoffDelay(attempt, 100, 10_000), signal);
    }
  }
}
