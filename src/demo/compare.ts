import { ScanCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { AttributeMap, KeySchema } from '../core/item.js';
import { keyId } from '../core/item.js';
import { differingAttributes } from '../core/equality.js';
import type { ItemMapper } from '../core/transform.js';

export interface SmallDiff {
  expected: number;
  actual: number;
  missing: string[];
  extra: string[];
  differing: { key: string; attributes: string[] }[];
}

/**
 * Compares transform(source) with the target by holding both in memory — fine for the demo's few thousand items.
 * (`dynashift verify` is the bounded-memory comparison for real tables.)
 */
export async function compareInMemory(opts: {
  source: { client: DynamoDBClient; table: string; name: string };
  target: { client: DynamoDBClient; table: string; name: string; keySchema: KeySchema };
  mapper: ItemMapper;
}): Promise<SmallDiff> {
  const expected = new Map<string, AttributeMap>();
  for (const item of await scanAll(opts.source.client, opts.source.table)) {
    for (const r of opts.mapper.map(opts.source.name, item)) if (r.target === opts.target.name) expected.set(r.keyId, r.item);
  }
  const diff: SmallDiff = { expected: expected.size, actual: 0, missing: [], extra: [], differing: [] };
  const seen = new Set<string>();
  for (const item of await scanAll(opts.target.client, opts.target.table)) {
    diff.actual++;
    const id = keyId(item, opts.target.keySchema);
    seen.add(id);
    const want = expected.get(id);
    if (!want) diff.extra.push(id);
    else {
      const attributes = differingAttributes(want, item);
      if (attributes.length) diff.differing.push({ key: id, attributes });
    }
  }
  for (const id of expected.keys()) if (!seen.has(id)) diff.missing.push(id);
  return diff;
}

async function scanAll(client: DynamoDBClient, table: string): Promise<AttributeMap[]> {
  const out: AttributeMap[] = [];
  let start: AttributeMap | undefined;
  do {
    const res = await client.send(new ScanCommand({ TableName: table, ConsistentRead: true, Limit: 1000, ...(start ? { ExclusiveStartKey: start } : {}) }));
    out.push(...((res.Items ?? []) as AttributeMap[]));
    start = res.LastEvaluatedKey;
  } while (start);
  return out;
}
