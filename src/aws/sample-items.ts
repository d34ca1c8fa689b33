import { ScanCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { AttributeMap } from '../core/item.js';

/** Items a check can be tried on (plan's transform and key checks, the inverse transform before a rollback): one Scan page. */
export const SAMPLE_ITEMS = 200;

/** The first page of a plain Scan, at most `limit` items: a sample for checks, never a copy. */
export async function sampleItems(client: DynamoDBClient, table: string, limit = SAMPLE_ITEMS): Promise<AttributeMap[]> {
  const res = await client.send(new ScanCommand({ TableName: table, Limit: limit }));
  return (res.Items ?? []) as AttributeMap[];
}
