import { DeleteItemCommand, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { fromDdbJson } from '../../core/ddb-json.js';
import { differingAttributes } from '../../core/equality.js';
import { extractKey, type AttributeMap } from '../../core/item.js';
import { errorName } from '../../aws/errors.js';
import type { VerifyContext } from './context.js';
import { unchangedSince } from './condition.js';
import { expectationAt, type Expectation } from './expected-now.js';
import { traceSources, type SourceRef } from './recheck.js';
import type { Suspect } from './suspect.js';

/** Outcome written into Suspect.r. */
export const REPAIRED = 'repaired';
const MAX_ATTEMPTS = 3;

export interface RepairTarget {
  kind: string;
  /** Set for DynamoDB targets only. */
  client?: DynamoDBClient;
  table: string;
}

/**
 * Rewrites one persisting difference from the source, without clobbering a newer change:
 * 1. re-read the source item (consistent) and map it: the item the target should hold now, or nothing;
 * 2. write it (or delete the target item) on the condition that the target item is still exactly what verify last
 *    observed — ConditionalCheckFailed means a newer change landed first, and verify leaves the item alone;
 * 3. re-read the source: if it changed between 1 and 3 the stream may already have applied that change before our
 *    write, so write the newer version again, conditioned on what we wrote; otherwise our write is transform(latest),
 *    which no later stream write can contradict.
 * Returns REPAIRED, 'unchanged' (nothing to write any more), or why the item was left alone.
 */
export async function repairSuspect(ctx: VerifyContext, s: Suspect, target: RepairTarget): Promise<string> {
  if (!target.client) return `repair not supported for kind ${target.kind}`;
  let observed = s.a ? fromDdbJson(s.a) : undefined;
  // The source item(s) that may produce this key: the known one, or for an extra those whose key it carries.
  const refs: SourceRef[] = s.n && s.s ? [{ n: s.n, s: s.s }] : observed ? traceSources(ctx, observed) : [];
  if (refs.length === 0) {
    return 'not repaired: the target item does not carry a source key, so verify cannot prove that no source item produces it; delete it by hand if it should not exist';
  }
  const schema = ctx.targets[s.t]!.keySchema;
  let desired = await expectedNow(ctx, refs, s);
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    if (!desired.ok) return `not repaired: the transform fails on the current source item (${desired.error})`;
    const want = desired.item;
    if (same(want, observed)) return attempt === 0 ? 'unchanged' : REPAIRED;
    try {
      if (want) {
        await target.client.send(new PutItemCommand({ TableName: target.table, Item: want, ...conditionOf(unchangedSince(observed, schema, want)) }));
      } else {
        await target.client.send(
          new DeleteItemCommand({ TableName: target.table, Key: extractKey(observed!, schema)!, ...conditionOf(unchangedSince(observed, schema)) }),
        );
      }
    } catch (err) {
      if (errorName(err) === 'ConditionalCheckFailedException') {
        return 'skipped: the target item changed after verify read it (a newer change landed); it was re-checked instead';
      }
      throw err;
    }
    const after = await expectedNow(ctx, refs, s);
    if (after.ok && same(after.item, want)) return REPAIRED;
    observed = want;
    desired = after;
  }
  return 'skipped: the source item kept changing during the repair';
}

/** The item the source side produces at the suspect's key now (consistent reads), from the first ref producing it. */
async function expectedNow(ctx: VerifyContext, refs: SourceRef[], s: Suspect): Promise<Expectation> {
  for (const ref of refs) {
    const [item] = await ctx.sources[ref.n]!.reader.getItems([fromDdbJson(ref.s)]);
    const exp = expectationAt(ctx, ref.n, item, s.t, s.k);
    if (!exp.ok || exp.item) return exp;
  }
  return { ok: true, item: undefined };
}

function same(a: AttributeMap | undefined, b: AttributeMap | undefined): boolean {
  if (!a || !b) return a === b;
  return differingAttributes(a, b).length === 0;
}

function conditionOf(c: ReturnType<typeof unchangedSince>) {
  return {
    ConditionExpression: c.ConditionExpression,
    ExpressionAttributeNames: c.ExpressionAttributeNames,
    ...(c.ExpressionAttributeValues ? { ExpressionAttributeValues: c.ExpressionAttributeValues } : {}),
  };
}
