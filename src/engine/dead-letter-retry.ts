import { GetItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { ResolvedConfig } from '../config/resolved-config.js';
import { clientsFor } from '../aws/clients.js';
import { roleFor } from '../aws/errors.js';
import type { AttributeMap, KeySchema } from '../core/item.js';
import { retryWrites } from '../core/protocol.js';
import { ItemMapper, MappingError } from '../core/transform.js';
import { isExpired } from '../core/ttl.js';
import { PlanRefusedError } from '../errors.js';
import { driverFor } from '../sinks/drivers.js';
import type { Sink } from '../sinks/sink.js';
import { decodeMap, failureOldImage, type DeadLetter } from '../state/dead-letters.js';
import type { StateStore } from '../state/state-store.js';
import { buildPlan } from './plan.js';
import { writeToTargets } from './write-all.js';

export interface RetryOutcome {
  id: string;
  source: string;
  sourceKey: unknown;
  ok: boolean;
  /** What was written, or why the entry stays unresolved. */
  message: string;
  /** Something the operator should check although the retry succeeded. */
  warning?: string;
}

/**
 * `dynashift dead-letters retry`: each dead-lettered source item is read again with a consistent GetItem and applied
 * with the protocol's write rules (core/protocol.ts retryWrites) through the same sinks as a run: the targets of its
 * current version are put; the targets its failed records' old images produced, and any target item a rejected
 * delete left, are deleted unless the current version still produces them. A success marks the entry resolved
 * ('retry'); a failure leaves it open and says why.
 *
 * The caller holds the migration's lock, so no run applies the stream meanwhile. Records of the item still ahead of
 * the stream checkpoint are applied in order when the run resumes, after this write — the same order as a backfill
 * write followed by replay (docs/consistency.md), so the item converges.
 */
export async function retryDeadLetters(
  config: ResolvedConfig,
  store: StateStore,
  letters: DeadLetter[],
  say: (o: RetryOutcome) => void,
): Promise<RetryOutcome[]> {
  const plan = await buildPlan(config);
  if (plan.refusals.length > 0) throw new PlanRefusedError(plan.refusals);
  const targetKeys: Record<string, KeySchema> = {};
  const sinks: Record<string, Sink> = {};
  for (const [name, target] of Object.entries(config.targets)) {
    targetKeys[name] = plan.targets[name]!.keySchema!;
    sinks[name] = (await driverFor(target)).open(name, target, {
      keySchema: targetKeys[name]!,
      concurrency: config.write.concurrency,
      ...(config.guard ? { guard: config.guard } : {}),
      ...(config.write.maxWriteUnitsPerSecond ? { maxWriteUnitsPerSecond: config.write.maxWriteUnitsPerSecond } : {}),
    });
  }
  const mapper = new ItemMapper({ transform: config.transform, targets: targetKeys, singleTarget: config.singleTarget });
  const clients = new Map<string, DynamoDBClient>();
  const clientOf = (source: string) => {
    if (!clients.has(source)) clients.set(source, clientsFor(config.sources[source]!, roleFor('source', source, config.sources[source]!)).dynamodb);
    return clients.get(source)!;
  };
  const outcomes: RetryOutcome[] = [];
  try {
    for (const letter of letters) {
      const outcome = await retryOne(config, plan.sources[letter.source]?.ttlAttribute, clientOf, mapper, sinks, letter);
      if (outcome.ok) await store.resolveDeadLetters([{ id: letter.id, at: new Date().toISOString(), by: 'retry' }]);
      outcomes.push(outcome);
      say(outcome);
    }
  } finally {
    await Promise.all(Object.values(sinks).map((s) => s.close?.()));
    for (const client of clients.values()) client.destroy();
  }
  return outcomes;
}

async function retryOne(
  config: ResolvedConfig,
  ttlAttribute: string | undefined,
  clientOf: (source: string) => DynamoDBClient,
  mapper: ItemMapper,
  sinks: Record<string, Sink>,
  letter: DeadLetter,
): Promise<RetryOutcome> {
  const base = { id: letter.id, source: letter.source, sourceKey: letter.sourceKey };
  const ref = config.sources[letter.source];
  if (!ref) {
    return {
      ...base,
      ok: false,
      message: `"${letter.source}" is not a source of this migration (a reverse-replication dead letter names a target): retry applies source items only; check it with \`dynashift verify --reverse\`, then discard it`,
    };
  }
  const key = decodeMap(letter.sourceKey);
  const open = letter.failures.filter((f) => !f.resolved);
  const oldImages = open.map(failureOldImage).filter((i): i is AttributeMap => i !== undefined);
  const leftTargetKeys = open.flatMap((f) => {
    const deleteKey = (f.item as { deleteKey?: unknown } | undefined)?.deleteKey;
    return f.target && deleteKey ? [{ target: f.target, key: decodeMap(deleteKey) }] : [];
  });
  const res = await clientOf(letter.source).send(new GetItemCommand({ TableName: ref.table, Key: key, ConsistentRead: true }));
  let current = res.Item as AttributeMap | undefined;
  if (current && config.backfill.skipExpired && ttlAttribute && isExpired(current, ttlAttribute, Date.now())) current = undefined;
  let ops;
  try {
    ops = retryWrites(mapper, letter.source, key, current, oldImages, leftTargetKeys);
  } catch (err) {
    const code = err instanceof MappingError ? err.code : 'TRANSFORM_FAILED';
    return { ...base, ok: false, message: `[${code}] ${(err as Error).message}: fix the transform (or the item), then retry again` };
  }
  const { rejected } = await writeToTargets(sinks, ops);
  if (rejected.length > 0) {
    const first = rejected[0]!;
    return { ...base, ok: false, message: `target ${first.op.target} rejected the write: [${first.error.code}] ${first.error.message}` };
  }
  const puts = ops.filter((o) => o.kind === 'put').length;
  const deletes = ops.length - puts;
  const lostOldImage =
    open.some((f) => f.error.code === 'STREAM_RECORD_INCOMPLETE' && f.stage === 'stream' && !failureOldImage(f)) && mapper.keyCanMove(key);
  return {
    ...base,
    ok: true,
    message: `${current ? 'read from the source' : 'no longer in the source'}: ${puts} put(s), ${deletes} delete(s)`,
    ...(lostOldImage
      ? {
          warning:
            'a failed record of this item had no old image, so a target item it should have deleted is unknown: `dynashift verify` finds any such leftover',
        }
      : {}),
  };
}
