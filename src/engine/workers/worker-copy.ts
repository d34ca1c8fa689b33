import type { CallStats } from '../../aws/call-stats.js';
import { keyId, type AttributeMap } from '../../core/item.js';
import { isExpired } from '../../core/ttl.js';
import { TaskGroup } from '../../core/task-group.js';
import type { BackfillPage, BackfillSource } from '../../sources/source.js';
import type { BackfillCursor } from '../../state/migration-state.js';
import { landItems, reportCollisions, type LandDeps } from '../backfill.js';
import type { Logger } from '../logger.js';
import type { MainLink } from './main-link.js';
import type { SliceAdmission } from './protocol.js';

export interface WorkerCopyDeps extends LandDeps {
  source: BackfillSource;
  link: MainLink;
  log: Logger;
  /** Pages meet the stream through the main thread's gate. */
  gated: boolean;
  skipExpired?: { ttlAttribute: string };
  /** This thread's SDK requests since the previous page report (aws/call-stats.ts callDeltas). */
  callsSince?: () => Record<string, CallStats> | undefined;
}

/**
 * One partition, in a worker thread: the loop of engine/backfill.ts `copyPartition`, with the gate, the failure policy
 * and the state in the main thread. The ticket is opened there before the page is asked for; each slice is admitted
 * there (its key ids only) once it holds one of the shared slice slots, just before its writes are sent, and unlocked
 * once they landed; the page is reported only after every slice of it landed or was dead-lettered, and the main thread
 * moves the cursor then. Unlocks and the report go over the same port, in that order.
 */
export async function copyPartitionInWorker(
  deps: WorkerCopyDeps,
  partition: string,
  cursor: BackfillCursor | undefined,
  signal: AbortSignal,
): Promise<void> {
  const { link } = deps;
  const pages = deps.source.read(partition, cursor, signal)[Symbol.asyncIterator]();
  for (;;) {
    // Taken before the page is asked for: the page's items are at least as new as this moment.
    const ticket = deps.gated ? await link.request<number>({ op: 'beginRead' }) : undefined;
    let next: IteratorResult<BackfillPage>;
    try {
      next = await pages.next();
    } catch (err) {
      if (ticket !== undefined) link.post({ type: 'endRead', ticket });
      throw err;
    }
    if (next.done) {
      if (ticket !== undefined) link.post({ type: 'endRead', ticket });
      return;
    }
    const page = next.value;
    const read = page.items.length;
    const skip = deps.skipExpired;
    const now = Date.now();
    const live = skip ? page.items.filter((item) => !isExpired(item, skip.ttlAttribute, now)) : page.items;
    if (ticket !== undefined) {
      try {
        await landSlices(deps, ticket, live);
      } finally {
        link.post({ type: 'endRead', ticket });
      }
    } else {
      reportCollisions(deps, await landItems(deps, live));
    }
    page.items.length = 0; // see engine/backfill.ts releasePage
    const calls = deps.callsSince?.();
    link.post({
      type: 'page',
      partition,
      read,
      bytes: page.bytes ?? 0,
      expired: read - live.length,
      cursor: page.cursor,
      ...(calls ? { calls } : {}),
    });
    if (signal.aborted) return;
  }
}

/** engine/backfill.ts `landThroughGate`, with the slot and the admission taken in the main thread. */
async function landSlices(deps: WorkerCopyDeps, ticket: number, items: AttributeMap[]): Promise<void> {
  const size = Math.min(...Object.values(deps.sinks).map((s) => s.capabilities.maxBatchSize));
  const written = new Set<string>();
  let collisions = 0;
  const group = new TaskGroup();
  let failed = false;
  const slices: AttributeMap[][] = [];
  for (let i = 0; i < items.length; i += size) slices.push(items.slice(i, i + size));
  await group.all(
    slices.map(async (slice) => {
      if (failed) return;
      const keys = slice.map((item) => keyId(item, deps.sourceKeySchema));
      const { admission, admitted } = await deps.link.request<SliceAdmission>({ op: 'admit', ticket, keys });
      try {
        // After a slice failed, the ones not admitted before it are not written: the page is read again on resume.
        if (failed) return;
        collisions += await landItems(
          deps,
          admitted.map((i) => slice[i]!),
          written,
        );
      } catch (err) {
        failed = true;
        throw err;
      } finally {
        deps.link.post({ type: 'release', admission });
        slice.length = 0;
      }
    }),
  );
  reportCollisions(deps, collisions);
}
