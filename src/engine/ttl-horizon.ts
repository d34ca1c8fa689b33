import { ScanCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { AttributeMap } from '../core/item.js';
import { expiresAt } from '../core/ttl.js';

export interface TtlHorizon {
  /** Latest expiry among the items read (epoch ms); undefined when no item carries the attribute. */
  horizon?: number;
  itemsRead: number;
  /** Items without a usable TTL value: they never expire. */
  neverExpire: number;
  /** True when only part of the table was read (large tables): the horizon is an estimate. */
  sampled: boolean;
}

/**
 * When does every item that exists now expire? Reads only the TTL attribute, in parallel segments. Tables above
 * `maxItems` are sampled instead of read whole, and the answer says so.
 */
export async function findTtlHorizon(
  client: DynamoDBClient,
  table: string,
  ttlAttribute: string,
  opts: { itemCount: number; maxItems?: number; segments?: number },
): Promise<TtlHorizon> {
  const maxItems = opts.maxItems ?? 2_000_000;
  const segments = opts.segments ?? 8;
  const sampled = opts.itemCount > maxItems;
  const perSegmentCap = sampled ? Math.ceil(maxItems / segments / 10) : Infinity;
  const result: TtlHorizon = { itemsRead: 0, neverExpire: 0, sampled };
  await Promise.all(
    Array.from({ length: segments }, async (_, segment) => {
      let start: AttributeMap | undefined;
      let read = 0;
      do {
        const res = await client.send(
          new ScanCommand({
            TableName: table,
            Segment: segment,
            TotalSegments: segments,
            Limit: 1000,
            ProjectionExpression: '#t',
            ExpressionAttributeNames: { '#t': ttlAttribute },
            ...(start ? { ExclusiveStartKey: start } : {}),
          }),
        );
        for (const item of (res.Items ?? []) as AttributeMap[]) {
          const at = expiresAt(item, ttlAttribute);
          if (at === undefined) result.neverExpire++;
          else result.horizon = Math.max(result.horizon ?? 0, at);
        }
        read += res.Items?.length ?? 0;
        result.itemsRead += res.Items?.length ?? 0;
        start = res.LastEvaluatedKey;
      } while (start && read < perSegmentCap);
    }),
  );
  return result;
}
