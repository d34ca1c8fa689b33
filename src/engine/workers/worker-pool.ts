import { Semaphore } from '../../core/semaphore.js';
import type { WorkerInit } from './protocol.js';
import { WorkerThread, type SharedBackfill } from './worker-thread.js';

export interface WorkerBackfillOptions extends Omit<SharedBackfill, 'slices' | 'signal'> {
  /** Worker threads (≥ 2; one is the in-thread path, engine/backfill.ts). */
  workers: number;
  /** Partitions copied at once, across every worker (backfill.concurrency). */
  concurrency: number;
  partitions: string[];
  /** What each worker is started with, but its share of the write concurrency. */
  init: Omit<WorkerInit, 'writeConcurrency'>;
  /** write.concurrency: split between the workers, so together they keep as many writes in flight as one thread. */
  writeConcurrency: number;
  /** With a gate: slices admitted and not landed yet, across every worker. */
  gateSlices?: number;
}

/**
 * engine/backfill.ts `runBackfill` with the partitions copied in worker threads: the same queue of partitions, the
 * same number copied at once (lane i on worker i mod N), the same state moved in this thread as pages land. A failed
 * partition stops the others (they finish the page they are writing), and its error is raised once every worker has
 * stopped; a stop (the signal) ends each worker after its current page. Every worker thread is ended before this returns.
 *
 * @returns true when every partition is done, false when stopped by the signal.
 */
export async function runBackfillInWorkers(opts: WorkerBackfillOptions, signal: AbortSignal): Promise<boolean> {
  const { state, log } = opts;
  for (const p of opts.partitions) state.partitions[p] ??= { done: false, items: 0 };
  const queue = opts.partitions.filter((p) => !state.partitions[p]!.done);
  const count = Math.max(1, Math.min(opts.workers, queue.length));
  log.info({ source: opts.sourceName, partitions: opts.partitions.length, remaining: queue.length, workers: count }, 'backfill started');
  const shared: SharedBackfill = {
    ...opts,
    signal,
    ...(opts.gate ? { slices: new Semaphore(opts.gateSlices ?? 32) } : {}),
  };
  const threads = Array.from(
    { length: count },
    (_, i) => new WorkerThread({ ...opts.init, writeConcurrency: shareOf(opts.writeConcurrency, count, i) }, shared),
  );
  const stopAll = (): void => threads.forEach((t) => t.stop());
  signal.addEventListener('abort', stopAll, { once: true });
  let failure: unknown;
  try {
    await Promise.all(threads.map((t) => t.whenReady()));
    const lane = async (i: number): Promise<void> => {
      const thread = threads[i % count]!;
      for (let p = queue.shift(); p !== undefined && !signal.aborted && failure === undefined; p = queue.shift()) {
        await thread.copy(p, state.partitions[p]!.cursor);
      }
    };
    const lanes = Array.from({ length: Math.min(opts.concurrency, queue.length) }, (_, i) =>
      lane(i).catch((err: unknown) => {
        failure ??= err;
        stopAll();
      }),
    );
    await Promise.all(lanes);
  } catch (err) {
    failure ??= err; // a worker that could not start (its transform, its clients)
  } finally {
    signal.removeEventListener('abort', stopAll);
    await Promise.all(threads.map((t) => t.close()));
  }
  if (failure !== undefined) throw failure;
  return opts.partitions.every((p) => state.partitions[p]!.done);
}

/** Worker i's share of `total` slots among `n` workers: the shares differ by at most one and add up to `total`. */
export function shareOf(total: number, n: number, i: number): number {
  return Math.max(1, Math.floor(total / n) + (i < total % n ? 1 : 0));
}
