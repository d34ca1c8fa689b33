import type { BucketFiles } from './bucket-files.js';
import { bucketOf } from './spill-line.js';

/** Text held in memory while waiting for twins (UTF-16 in the heap, so about twice this in bytes). */
export const DEFAULT_PAIRING_BUDGET_CHARS = 16 * 1024 * 1024;

interface Waiting {
  side: 'expected' | 'actual';
  text: string;
  /** The expected side's `{"n":…,"s":…}` (the spill line's third part). */
  meta?: string;
}

/**
 * Settles identical pairs before they reach the disk. Both sides are scanned at once, by the same segments in the same
 * order, so when the target's keys are the source's (no transform, one source, one target) an item and its twin arrive
 * close together. Each item waits here under its header; when its twin from the other side arrives with the same
 * canonical text, both are dropped (a match, exactly as the bucket comparison would settle it). Anything else goes to
 * the bucket files as before: an unequal pair (compared by value there, 1.50 = 1.5), a header seen twice on one side,
 * and whatever is still waiting when the budget is full (oldest first) or when the scans end. So the comparison's
 * outcome is the same; only the identical pairs skip the disk, which makes verify of an identity copy a scan and a
 * string comparison, with memory bounded by the budget.
 */
export class TwinPairing {
  private readonly waiting = new Map<string, Waiting>();
  private chars = 0;
  /** Pairs settled in memory. */
  matched = 0;

  constructor(
    private readonly files: { expected: BucketFiles; actual: BucketFiles },
    private readonly budgetChars = DEFAULT_PAIRING_BUDGET_CHARS,
  ) {}

  async offer(side: Waiting['side'], header: string, text: string, meta?: string): Promise<void> {
    const twin = this.waiting.get(header);
    if (twin) {
      this.waiting.delete(header);
      this.chars -= twin.text.length;
      if (twin.side !== side && twin.text === text) {
        this.matched++;
        return;
      }
      await this.spill(header, twin);
      await this.spill(header, { side, text, ...(meta !== undefined ? { meta } : {}) });
      return;
    }
    this.waiting.set(header, { side, text, ...(meta !== undefined ? { meta } : {}) });
    this.chars += text.length;
    while (this.chars > this.budgetChars) {
      const [oldest, entry] = this.waiting.entries().next().value as [string, Waiting];
      this.waiting.delete(oldest);
      this.chars -= entry.text.length;
      await this.spill(oldest, entry);
    }
  }

  /** Spills everything still waiting; call once both scans are done. */
  async drain(): Promise<void> {
    for (const [header, entry] of this.waiting) await this.spill(header, entry);
    this.waiting.clear();
    this.chars = 0;
  }

  private async spill(header: string, w: Waiting): Promise<void> {
    const files = this.files[w.side];
    await files.append(bucketOf(header, files.count), w.meta !== undefined ? `${header}\t${w.text}\t${w.meta}` : `${header}\t${w.text}`);
  }
}
