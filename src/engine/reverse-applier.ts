import { GetItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { ChangePage } from '../core/change.js';
import type { AttributeMap, KeySchema } from '../core/item.js';
import { keyId } from '../core/item.js';
import { changeWrites } from '../core/protocol.js';
import type { ItemMapper } from '../core/transform.js';
import type { WriteOp } from '../core/write-op.js';
import type { Sink } from '../sinks/sink.js';
import type { ApplyStats } from './catch-up.js';
import type { FailurePolicy } from './failure-policy.js';
import { writeToTargets } from './write-all.js';

/**
 * Applies the targets' stream to the source through the inverse transform. Unlike the forward direction, several
 * target items can map to one source item over time (a key move in the target is a delete of one target item and a put
 * of another), and their records may arrive in either order. So each record is applied on its own, in order, and a
 * delete reaches the source item only while that item still belongs to the deleted target key — i.e. the forward
 * transform of the current source item still produces it. Otherwise a newer target item already owns the source item.
 */
export function reverseApplier(opts: {
  inverse: ItemMapper;
  forward: ItemMapper;
  target: string;
  targetKey: KeySchema;
  source: { name: string; client: DynamoDBClient; table: string; keySchema: KeySchema };
  sink: Sink;
  failures: FailurePolicy;
  stats: ApplyStats & { ownerSkips?: number };
}): (page: ChangePage) => Promise<void> {
  return async (page) => {
    for (const record of page.records) {
      const mapped = changeWrites(opts.inverse, { ...page, records: [record] });
      await opts.failures.handle(mapped.failures, []);
      const ops: WriteOp[] = [];
      for (const op of mapped.ops) {
        if (op.kind === 'delete' && !(await stillOwnedBy(op, record.keys))) {
          opts.stats.ownerSkips = (opts.stats.ownerSkips ?? 0) + 1;
          continue;
        }
        ops.push(op);
      }
      const { rejected, written } = await writeToTargets({ [opts.source.name]: opts.sink }, ops);
      await opts.failures.handle([], rejected);
      opts.stats.records += 1;
      opts.stats.writes += written;
    }
  };

  async function stillOwnedBy(op: WriteOp, deletedTargetKey: AttributeMap): Promise<boolean> {
    const res = await opts.source.client.send(new GetItemCommand({ TableName: opts.source.table, Key: op.key, ConsistentRead: true }));
    if (!res.Item) return false; // already gone: nothing to delete
    const wanted = keyId(deletedTargetKey, opts.targetKey);
    try {
      return opts.forward.map(opts.source.name, res.Item as AttributeMap).some((r) => r.target === opts.target && r.keyId === wanted);
    } catch {
      return true; // the forward transform can't judge this item: keep the delete the target's stream asked for
    }
  }
}
