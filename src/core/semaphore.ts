/**
 * Bounds how many requests are in flight at once, shared by every caller of one sink or source. Waiters are served
 * first come, first served: a finishing task hands its permit straight to the waiter it wakes, so a caller arriving
 * while that waiter is being resumed queues behind it instead of taking the permit too (which would put one task more
 * than `limit` in flight).
 */
export class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit || this.waiting.length > 0) {
      // The permit is counted for us by release() before we resume.
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.active++;
    }
    try {
      return await task();
    } finally {
      this.release();
    }
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next(); // the permit passes on: `active` stays the same
    else this.active--;
  }
}
