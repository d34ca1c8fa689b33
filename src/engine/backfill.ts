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
}

/**
 * Copies the snapshot partition by partition. A partition's cursor moves only after every write of the page it ends
 * has landed (or been dead-lettered), so a restart resumes without losing a page — and re-copying a page is harmless:
 * the stream catch-up, which starts only after the backfill, overwrites anything older.
 *
 * @returns true when every partition is done, false when stopped by the signal.
 */
export async function runBackfill(opts: BackfillOptions, signal: AbortSignal): Promise<boolean> {
  const { state } = opts;
  const partitions = await opts.source.partitions();
  for (const p of partitions) state.partitions[p] ??= { done: false, items: 0 };
  const queue = partitions.filter((p) => !state.partitions[p]!.done);
  opts.log.info({ source: opts.sourceName, partitions: partitions.length, remaining: queue.length }, 'backfill started');

  const worker = async (): Promise<void> => {
    for (let p = queue.shift(); p !== undefined && !signal.aborted; p = queue.shift()) {
      await copyPartition(opts, p, signal);
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency, queue.length) }, worker));
  return partitions.every((p) => state.partitions[p]!.done);
}

async function copyPartition(opts: BackfillOptions, partition: string, signal: AbortSignal): Promise<void> {
  const ps = opts.state.partitions[partition]!;
  for await (const page of opts.source.read(partition, ps.cursor, signal)) {
    const skip = opts.skipExpired;
    const items = skip ? page.items.filter((item) => !isExpired(item, skip.ttlAttribute, skip.now())) : page.items;
    if (items.length < page.items.length) opts.state.expiredSkipped = (opts.state.expiredSkipped ?? 0) + page.items.length - items.length;
    const mapped = backfillWrites(opts.mapper, opts.sourceName, opts.sourceKeySchema, items);
    if (mapped.collisions > 0) {
      opts.log.warn({ source: opts.sourceName, collisions: mapped.collisions }, 'several source items map to one target key; the last one read wins');
    }
    await opts.failures.handle(mapped.failures, []);
    const { rejected } = await writeToTargets(opts.sinks, mapped.ops);
    await opts.failures.handle([], rejected);
    await opts.failures.landed('backfill', opts.sourceName, () => items.map((item) => ({ sourceKey: extractKey(item, opts.sourceKeySchema) ?? {} })), mapped.failures, rejected);
    // Only now, with the page's writes landed, may the cursor move past it.
    ps.items += page.items.length;
    opts.state.itemsWritten += page.items.length;
    opts.state.bytesRead += page.bytes ?? 0;
    if (page.cursor) ps.cursor = page.cursor;
    else {
      ps.done = true;
      delete ps.cursor;
    }
    opts.onProgress(page.items.length, page.bytes ?? 0);
    opts.onCheckpoint();
    releasePage(page, items, mapped.ops);
    if (signal.aborted) return;
  }
}

/**
 * Empties a page whose writes have landed. A suspended async frame (this loop's, the source generator's) can keep
 * stale references to earlier pages until they are overwritten, and optimized code keeps more of them: a 1M-item
 * backfill held three pages per partition instead of one from about 90 s in, 60 MB more heap. Emptied arrays make
 * such leftovers cost nothing, however many there are.
 */
function releasePage(page: BackfillPage, items: AttributeMap[], ops: WriteOp[]): void {
  page.items.length = 0;
  items.length = 0;
  ops.length = 0;
}
