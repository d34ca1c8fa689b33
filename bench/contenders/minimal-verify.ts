/**
 * The practical limit for verify: a minimal two-sided parallel scan that compares source and target item by item.
 * Both tables are scanned at once; an item waits in a map until its twin from the other side arrives, so memory holds
 * only the items seen on one side so far. Items are compared by a canonical JSON form (attribute names and set
 * members sorted); numbers are compared as DynamoDB returns them (it normalizes them on write).
 */
import { ScanCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KEY_NAME } from '../lib/dataset.js';

export interface MinimalVerifyResult {
  sourceItems: number;
  targetItems: number;
  missing: number;
  extra: number;
  differing: number;
}

export async function minimalVerify(client: DynamoDBClient, source: string, target: string, segments: number): Promise<MinimalVerifyResult> {
  const waiting = new Map<string, { side: 0 | 1; form: string }>();
  const r: MinimalVerifyResult = { sourceItems: 0, targetItems: 0, missing: 0, extra: 0, differing: 0 };
  const scanSide = async (table: string, side: 0 | 1): Promise<void> => {
    await Promise.all(
      Array.from({ length: segments }, async (_, segment) => {
        let start: Record<string, AttributeValue> | undefined;
        do {
          const page = await client.send(
            new ScanCommand({
              TableName: table,
              Segment: segment,
              TotalSegments: segments,
              Limit: 1000,
              ConsistentRead: true,
              ExclusiveStartKey: start,
            }),
          );
          for (const item of page.Items ?? []) {
            if (side === 0) r.sourceItems++;
            else r.targetItems++;
            const id = item[KEY_NAME]!.S!;
            const form = canonical(item);
            const twin = waiting.get(id);
            if (twin && twin.side !== side) {
              waiting.delete(id);
              if (twin.form !== form) r.differing++;
            } else {
              waiting.set(id, { side, form });
            }
          }
          start = page.LastEvaluatedKey;
        } while (start);
      }),
    );
  };
  await Promise.all([scanSide(source, 0), scanSide(target, 1)]);
  for (const w of waiting.values()) {
    if (w.side === 0) r.missing++;
    else r.extra++;
  }
  return r;
}

function canonical(item: Record<string, AttributeValue>): string {
  return JSON.stringify(canonicalMap(item));
}

function canonicalMap(m: Record<string, AttributeValue>): unknown[] {
  return Object.keys(m)
    .sort()
    .map((k) => [k, canonicalValue(m[k]!)]);
}

function canonicalValue(v: AttributeValue): unknown {
  if (v.S !== undefined) return ['S', v.S];
  if (v.N !== undefined) return ['N', v.N];
  if (v.B !== undefined) return ['B', Buffer.from(v.B).toString('base64')];
  if (v.BOOL !== undefined) return ['BOOL', v.BOOL];
  if (v.NULL !== undefined) return ['NULL'];
  if (v.SS !== undefined) return ['SS', [...v.SS].sort()];
  if (v.NS !== undefined) return ['NS', [...v.NS].sort()];
  if (v.BS !== undefined) return ['BS', v.BS.map((b) => Buffer.from(b).toString('base64')).sort()];
  if (v.L !== undefined) return ['L', v.L.map(canonicalValue)];
  if (v.M !== undefined) return ['M', canonicalMap(v.M)];
  return ['?'];
}
