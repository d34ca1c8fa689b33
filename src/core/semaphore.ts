/**
 * Bounds how many tasks run at once. A freed slot passes straight to the next waiter, so a caller arriving at that
 * moment can't slip in ahead of it (or past the limit). Urgent waiters go first: a sink shared by the backfill and the
 * stream applier marks change records' writes urgent, so the stream's lag during a backfill is the time to apply a
 * page, not the time to drain the backfill's queue of pages.
 */
export class Semaphore {
  private active = 0;
  private readonly urgent: (() => void)[] = [];
  private readonly normal: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  /** Tasks running now (not counting those waiting for a slot). */
  get inFlight(): number {
    return this.active;
  }

  async run<T>(task: () => Promise<T>, opts: { urgent?: boolean } = {}): Promise<T> {
    if (this.active < this.limit) this.active++;
    else await new Promise<void>((resolve) => (opts.urgent ? this.urgent : this.normal).push(resolve));
    try {
      return await task();
    } finally {
      const next = this.urgent.shift() ?? this.normal.shift();
      if (next) next();
      else this.active--;
    }
  }
}
