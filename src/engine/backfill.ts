import { extractKey, type AttributeMap, type KeySchema } from '../core/item.js';
import type { WriteOp } from '../core/write-op.js';
import { backfillWrites } from '../core/protocol.js';
import { isExpired } from '../core/ttl.js';
import type { ItemMapper } from '../core/transform.js';
import type { Sink } from '../sinks/sink.js';
import type { BackfillPage, BackfillSource } from '../sources/source.js';
import type { BackfillState } from '../state/migration-state.js';
import type { FailurePolicy } from './failure-policy.js';
import type { Logger } from './logger.js';
import { writeToTargets } from './write-all.js';
import { keyId } from '../core/item.js';
import type { ReadTicket, SnapshotGate } from '../core/snapshot-gate.js';
import { Semaphore } from '../core/semaphore.js';
import { TaskGroup } from '../core/task-group.js';

export interface BackfillOptions {
  source: BackfillSource;
  sourceName: string;
  sourceKeySchema: KeySchema;
  mapper: ItemMapper;
  sinks: Record<string, Sink>;
  state: BackfillState;
  /** Partitions read at once. */
  concurrency: number;
  failures: FailurePolicy;
  onProgress: (items: number, bytes: number) => void;
  /** Leave out items whose TTL has passed (backfill.skipExpired). */
  skipExpired?: { ttlAttribute: string; now: () => number };
  onCheckpoint: () => void;
  log: Logger;
  /**
   * Set when the stream is applied while the backfill runs: each page is admitted through it slice by slice, which
   * leaves to the stream the items it has already overtaken and holds back the stream's writes to the rest until
   * their slice landed.
   */
  gate?: SnapshotGate;
  /**
   * With a gate: slices admitted and not landed yet, across every partition. About twice the targets' write
   * concurrency keeps every write slot busy while a slice's writes still go out soon after it is admitted.
   */
  gateSlices?: number;
}

const DEFAULT_GATE_SLICES = 32;

/**
 * Copies the snapshot partition by partition. A partition's cursor moves only after every write of the page it ends
 * has landed (or been dead-lettered), so a restart resumes without losing a page — and re-copying a page is harmless:
 * with the stream applied during the backfill, the snapshot gate admits the page again and leaves to the stream every
 * key it has written since the page's read began; with the stream applied after it (stream.duringBackfill: false),
 * the catch-up overwrites anything older (docs/consistency.md).
 *
 * @returns true when every partition is done, false when stopped by the signal.
 */
export async function runBackfill(opts: BackfillOptions, signal: AbortSignal): Promise<boolean> {
  const { state } = opts;
  const partitions = await opts.source.partitions();
  for (const p of partitions) state.partitions[p] ??= { done: false, items: 0 };
  const queue = partitions.filter((p) => !state.partitions[p]!.done);
  opts.log.info({ source: opts.sourceName, partitions: partitions.length, remaining: queue.length }, 'backfill started');

  // Shared by every partition: the slices admitted through the gate and not landed yet.
  const slices = opts.gate ? new Semaphore(opts.gateSlices ?? DEFAULT_GATE_SLICES) : undefined;
  const worker = async (): Promise<void> => {
    for (let p = queue.shift(); p !== undefined && !signal.aborted; p = queue.shift()) {
      await copyPartition(opts, p, slices, signal);
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency, queue.length) }, worker));
  return partitions.every((p) => state.partitions[p]!.done);
}

async function copyPartition(opts: BackfillOptions, partition: string, slices: Semaphore | undefined, signal: AbortSignal): Promise<void> {
  const ps = opts.state.partitions[partition]!;
  const pages = opts.source.read(partition, ps.cursor, signal)[Symbol.asyncIterator]();
  const { gate } = opts;
  for (;;) {
    // Taken before the page is asked for: the page's items are at least as new as this moment.
    const ticket = gate?.beginRead();
    let next: IteratorResult<BackfillPage>;
    try {
      next = await pages.next();
    } catch (err) {
      if (ticket) gate!.endRead(ticket);
      throw err;
    }
    if (next.done) {
      if (ticket) gate!.endRead(ticket);
      return;
    }
    const page = next.value;
    const read = page.items.length;
    const skip = opts.skipExpired;
    const live = skip ? page.items.filter((item) => !isExpired(item, skip.ttlAttribute, skip.now())) : page.items;
    if (live.length < read) opts.state.expiredSkipped = (opts.state.expiredSkipped ?? 0) + read - live.length;
    if (ticket) {
      try {
        await landThroughGate(opts, gate!, ticket, live, slices!);
      } finally {
        gate!.endRead(ticket);
      }
    } else {
      reportCollisions(opts, await landItems(opts, live));
    }
    page.items.length = 0; // see releasePage
    // Only now, with the page's writes landed, may the cursor move past it.
    ps.items += read;
    opts.state.itemsWritten += read;
    opts.state.bytesRead += page.bytes ?? 0;
    if (page.cursor) ps.cursor = page.cursor;
    else {
      ps.done = true;
      delete ps.cursor;
    }
    opts.onProgress(read, page.bytes ?? 0);
    opts.onCheckpoint();
    if (signal.aborted) return;
  }
}

/**
 * Lands a page through the gate slice by slice, a slice being one write batch of source items. A slice is admitted
 * only once it has one of the shared slots, just before its writes are sent, and its keys are unlocked as soon as its
 * writes have landed or been dead-lettered. So a stream record on one of the page's keys waits at most for the one
 * slice holding that key, not for the whole page to drain through the targets' write queue; and a change the stream
 * marked while the slice waited for its slot drops that item instead (docs/consistency.md, "Applying the stream during
 * the backfill"). Every slice is admitted under the page's ticket, so against the page's read time.
 */
async function landThroughGate(
  opts: BackfillOptions,
  gate: SnapshotGate,
  ticket: ReadTicket,
  items: AttributeMap[],
  slots: Semaphore,
): Promise<void> {
  const size = Math.min(...Object.values(opts.sinks).map((s) => s.capabilities.maxBatchSize));
  const sourceKey = (item: AttributeMap): string => keyId(item, opts.sourceKeySchema);
  // Target keys the page's earlier slices wrote: two source items of one page on one target key are still reported.
  const written = new Set<string>();
  let collisions = 0;
  const group = new TaskGroup(); // a failed slice is reported once every other slice has settled (core/task-group.ts)
  // Set before the failed slice hands its slot on, so the next one sees it at once.
  let failed = false;
  const slices: AttributeMap[][] = [];
  for (let i = 0; i < items.length; i += size) slices.push(items.slice(i, i + size));
  await group.all(
    slices.map((slice) =>
      slots.run(async () => {
        // After a slice failed, the ones not started yet are not written: the page is read again on resume.
        if (failed) return;
        const admission = gate.admitSlice(ticket, slice, sourceKey);
        try {
          if (admission.dropped > 0) opts.state.overtaken = (opts.state.overtaken ?? 0) + admission.dropped;
          collisions += await landItems(opts, admission.admitted, written);
        } catch (err) {
          failed = true;
          throw err;
        } finally {
          admission.release();
          slice.length = 0;
        }
      }),
    ),
  );
  reportCollisions(opts, collisions);
}

/** What landing items needs; a backfill worker thread (engine/workers/) passes a failure policy that lives in the main thread. */
export type LandDeps = Pick<BackfillOptions, 'mapper' | 'sourceName' | 'sourceKeySchema' | 'sinks'> & {
  failures: Pick<FailurePolicy, 'handle' | 'landed'>;
};

/**
 * Maps items and lands their writes on every target (failures dead-lettered or halting, as the policy says), then
 * empties the arrays (see releasePage). `written` collects the target keys across calls for one page.
 * @returns how many writes shared a target key with another item of the page
 */
export async function landItems(opts: LandDeps, items: AttributeMap[], written?: Set<string>): Promise<number> {
  const mapped = backfillWrites(opts.mapper, opts.sourceName, opts.sourceKeySchema, items);
  let collisions = mapped.collisions;
  if (written) {
    for (const op of mapped.ops) {
      const key = `${op.target}\u0000${op.keyId}`;
      if (written.has(key)) collisions++;
      else written.add(key);
    }
  }
  await opts.failures.handle(mapped.failures, []);
  const { rejected } = await writeToTargets(opts.sinks, mapped.ops);
  await opts.failures.handle([], rejected);
  await opts.failures.landed(
    'backfill',
    opts.sourceName,
    () => items.map((item) => ({ sourceKey: extractKey(item, opts.sourceKeySchema) ?? {} })),
    mapped.failures,
    rejected,
  );
  releasePage(items, mapped.ops);
  return collisions;
}

export function reportCollisions(opts: Pick<BackfillOptions, 'log' | 'sourceName'>, collisions: number): void {
  if (collisions === 0) return;
  opts.log.warn(
    { source: opts.sourceName, collisions },
    'several source items map to one target key (each target key must have one owner); only one of them is kept',
  );
}

/**
 * Empties a page whose writes have landed. A suspended async frame (this loop's, the source generator's) can keep
 * stale references to earlier pages until they are overwritten, and optimized code keeps more of them: a 1M-item
 * backfill held three pages per partition instead of one from about 90 s in, 60 MB more heap. Emptied arrays make
 * such leftovers cost nothing, however many there are.
 */
function releasePage(items: AttributeMap[], ops: WriteOp[]): void {
  items.length = 0;
  ops.length = 0;
}
