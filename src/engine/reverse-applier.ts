import { GetItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { ChangePage, ChangeRecord } from '../core/change.js';
import type { AttributeMap, KeySchema } from '../core/item.js';
import { keyId } from '../core/item.js';
import { changeWrites, type MappedWrites } from '../core/protocol.js';
import { Semaphore } from '../core/semaphore.js';
import { TaskGroup } from '../core/task-group.js';
import type { ItemMapper } from '../core/transform.js';
import type { WriteOp } from '../core/write-op.js';
import type { Sink } from '../sinks/sink.js';
import type { ApplyStats } from './catch-up.js';
import type { FailurePolicy } from './failure-policy.js';
import { chainsBySourceItem } from './reverse-chains.js';
import { writeToTargets } from './write-all.js';

/**
 * Applies the targets' stream to the source through the inverse transform. Unlike the forward direction, several
 * target items can map to one source item over time (a key move in the target is a delete of one target item and a put
 * of another), and their records may arrive in either order. So each record is applied on its own, in order, and a
 * delete reaches the source item only while that item still belongs to the deleted target key — i.e. the forward
 * transform of the current source item still produces it. Otherwise a newer target item already owns the source item.
 *
 * "In order" holds per source item: the page's records are split into chains that touch disjoint source items
 * (reverse-chains.ts), applied up to `concurrency` at once, each chain one record after another. One record at a time,
 * each record waited for a source read and then a write: 63–67 records a second per shard at 5 ms a request
 * (BENCHMARKS.md, "Reverse replication").
 *
 * A put is passed over when the source item belongs to another target item that the target still holds, while the
 * put's own target item is gone from the target by now: a write to a key that was on its way out (an application
 * update of the old key while the drain moved the item; docs/consistency.md, "Cutover and reverse replication").
 * Applied, it would hand the source item back to that key, and the key's delete, later in the stream, would remove it.
 */
export function reverseApplier(opts: {
  inverse: ItemMapper;
  forward: ItemMapper;
  target: string;
  targetKey: KeySchema;
  source: { name: string; client: DynamoDBClient; table: string; keySchema: KeySchema };
  sink: Sink;
  failures: FailurePolicy;
  /** The target table, read (strongly consistent) to tell a put to a key on its way out. */
  targetTable: { client: DynamoDBClient; table: string };
  /** Chains of records (by source item) applied at once; default 16. */
  concurrency?: number;
  stats: ApplyStats & { ownerSkips?: number; stalePutSkips?: number };
}): (page: ChangePage) => Promise<void> {
  const concurrency = Math.max(1, opts.concurrency ?? 16);
  return async (page) => {
    const mapped = page.records.map((record) => ({ record, ...changeWrites(opts.inverse, { ...page, records: [record] }) }));
    const chains = chainsBySourceItem(mapped);
    const slots = new Semaphore(concurrency);
    // Every chain settles before a failure is reported (TaskGroup): the page is then applied again from its start, and
    // no write of this attempt may land after that replay's.
    const group = new TaskGroup();
    await group.all(
      chains.map((chain) =>
        slots.run(async () => {
          for (const i of chain) {
            if (group.signal.aborted) return; // another chain failed: the page is retried whole
            await applyRecord(mapped[i]!);
          }
        }),
      ),
    );
  };

  async function applyRecord(mapped: MappedWrites & { record: ChangeRecord }): Promise<void> {
    const { record } = mapped;
    await opts.failures.handle(mapped.failures, []);
    const ops: WriteOp[] = [];
    for (const op of mapped.ops) {
      if (op.kind === 'delete' && !(await stillOwnedBy(op, record.keys))) {
        opts.stats.ownerSkips = (opts.stats.ownerSkips ?? 0) + 1;
        opts.stats.skipped += 1; // shown as progress `skipped` and dynashift_stream_records_skipped_total{direction="reverse"}
        continue;
      }
      if (op.kind === 'put' && (await putToLeavingKey(op.key, record.keys))) {
        opts.stats.stalePutSkips = (opts.stats.stalePutSkips ?? 0) + 1;
        opts.stats.skipped += 1;
        continue;
      }
      ops.push(op);
    }
    const { rejected, written } = await writeToTargets({ [opts.source.name]: opts.sink }, ops);
    await opts.failures.handle([], rejected);
    opts.stats.records += 1;
    opts.stats.writes += written;
  }

  /**
   * True when the source item belongs to another target item that the target still holds, and the written target item
   * is gone. Both reads are of the target now, ahead of the stream: the written key's delete is then still to come in
   * the stream (after this record), and passing over the put leaves the source with the owner the target kept.
   */
  async function putToLeavingKey(sourceKey: AttributeMap, writtenTargetKey: AttributeMap): Promise<boolean> {
    const current = await sourceItem(sourceKey);
    if (!current) return false;
    let owners;
    try {
      owners = opts.forward.map(opts.source.name, current).filter((r) => r.target === opts.target);
    } catch {
      return false; // the forward transform can't judge this item: apply the put the target's stream asked for
    }
    const written = keyId(writtenTargetKey, opts.targetKey);
    if (owners.length === 0 || owners.some((r) => r.keyId === written)) return false;
    if (await targetHolds(writtenTargetKey)) return false;
    for (const owner of owners) if (await targetHolds(owner.key)) return true;
    return false;
  }

  async function targetHolds(key: AttributeMap): Promise<boolean> {
    const res = await opts.targetTable.client.send(
      new GetItemCommand({
        TableName: opts.targetTable.table,
        Key: key,
        ConsistentRead: true,
        ProjectionExpression: '#k',
        ExpressionAttributeNames: { '#k': opts.targetKey.partitionKey.name },
      }),
    );
    return res.Item !== undefined;
  }

  async function sourceItem(key: AttributeMap): Promise<AttributeMap | undefined> {
    const res = await opts.source.client.send(new GetItemCommand({ TableName: opts.source.table, Key: key, ConsistentRead: true }));
    return res.Item as AttributeMap | undefined;
  }

  async function stillOwnedBy(op: WriteOp, deletedTargetKey: AttributeMap): Promise<boolean> {
    const current = await sourceItem(op.key);
    if (!current) return false; // already gone: nothing to delete
    const wanted = keyId(deletedTargetKey, opts.targetKey);
    try {
      return opts.forward.map(opts.source.name, current).some((r) => r.target === opts.target && r.keyId === wanted);
    } catch {
      return true; // the forward transform can't judge this item: keep the delete the target's stream asked for
    }
  }
}
