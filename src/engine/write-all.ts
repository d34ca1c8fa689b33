import type { WriteOp } from '../core/write-op.js';
import { TaskGroup } from '../core/task-group.js';
import type { RejectedWrite, Sink } from '../sinks/sink.js';

/** Hands each target its share of the ops, all targets at once; resolves when every write has landed or been rejected. */
export async function writeToTargets(sinks: Record<string, Sink>, ops: WriteOp[]): Promise<{ rejected: RejectedWrite[]; written: number }> {
  if (ops.length === 0) return { rejected: [], written: 0 };
  const byTarget = new Map<string, WriteOp[]>();
  for (const op of ops) {
    let list = byTarget.get(op.target);
    if (!list) byTarget.set(op.target, (list = []));
    list.push(op);
  }
  // Every target settles before a failure is reported: the caller may then redeliver and go on (core/task-group.ts).
  const group = new TaskGroup();
  const results = await group.all([...byTarget].map(([target, list]) => sinks[target]!.write(list, group.signal)));
  return {
    rejected: results.flatMap((r) => r.rejected),
    written: results.reduce((n, r) => n + r.stats.written, 0),
  };
}
