import { runController } from './run-signal.js';

/**
 * Promise.all for writes that must all have settled before a failure is reported. `all` resolves with every result in
 * order, or rejects with the first failure — but only once every promise has settled. At the first failure `signal`
 * aborts (it also follows the caller's signal), so a task that hasn't started yet gives up at once and a running one
 * stops retrying rather than keeping the failure waiting.
 *
 * Why not Promise.all: it rejects at the first failure while the other writes are still in flight. A caller that then
 * reports the batch failed lets it be redelivered and later batches be applied, and the abandoned writes land after
 * them — a stale put after a newer put or after a delete. On Lambda they are frozen with the container and resume,
 * retries included, whenever it is next thawed.
 *
 * @example
 * const group = new TaskGroup(signal);
 * await group.all(batches.map((b) => writeBatch(b, group.signal)));
 */
export class TaskGroup {
  private readonly stop = runController();
  private failure: { error: unknown } | undefined;

  constructor(private readonly parent?: AbortSignal) {
    if (parent?.aborted) this.stop.abort(parent.reason);
    else parent?.addEventListener('abort', this.follow, { once: true });
  }

  /** Aborts at the group's first failure, or when the caller's signal does. */
  get signal(): AbortSignal {
    return this.stop.signal;
  }

  async all<T>(promises: Promise<T>[]): Promise<T[]> {
    try {
      const settled = await Promise.allSettled(promises.map((p) => p.catch((error: unknown) => this.fail(error))));
      if (this.failure) throw this.failure.error;
      return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
    } finally {
      this.parent?.removeEventListener('abort', this.follow);
    }
  }

  private fail(error: unknown): never {
    if (!this.failure) {
      this.failure = { error };
      this.stop.abort();
    }
    throw error;
  }

  private readonly follow = (): void => this.stop.abort(this.parent?.reason);
}
