import { BatchGetItemCommand, ScanCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { retryAws } from '../../aws/aws-retry.js';
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
      const res = await retryAws(
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
        { side: 'target', operation: 'Scan', table: this.table, baseMs: 100, maxMs: 10_000, ...(signal ? { signal } : {}) },
      );
      if (!res) return;
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
      // Unprocessed keys are asked again (with backoff) until every key is answered.
      await retryAws(
        async () => {
          const res = await this.client.send(
            new BatchGetItemCommand({
              RequestItems: { [this.table]: { Keys: pending, ConsistentRead: true } },
            }),
          );
          for (const item of (res.Responses?.[this.table] ?? []) as AttributeMap[]) found.set(keyId(item, this.keySchema), item);
          pending = (res.UnprocessedKeys?.[this.table]?.Keys ?? []) as AttributeMap[];
          return pending.length;
        },
        { side: 'target', operation: 'BatchGetItem', table: this.table, baseMs: 100, maxMs: 10_000, again: (left) => left > 0 },
      );
    }
    return keys.map((k) => found.get(keyId(k, this.keySchema)));
  }
}
