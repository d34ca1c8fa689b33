import { itemsEqual } from '../../core/equality.js';
import { itemSize, type AttributeMap } from '../../core/item.js';
import type { BucketFiles } from './bucket-files.js';
import { bucketOf } from './spill-line.js';

/** Bytes of items (by DynamoDB's size rules) held in memory while they wait for their twins. */
export const DEFAULT_PAIRING_BUDGET_BYTES = 24 * 1024 * 1024;

/**
 * How far (in item bytes) one side may run ahead per segment it scans at once before its offers park: a page (at most
 * 1 MB) per segment in flight, and half as much again for pages that arrive together. Parking sooner than the budget
 * keeps memory down: each MB of items waiting held ~4 MB of RSS (BENCHMARKS.md, "How far a side runs ahead, and
 * memory"), and a side left to run 18 MB ahead took verify from ~230 MB to over 300.
 */
export const PARK_AHEAD_BYTES_PER_SCAN = 1.5 * 1024 * 1024;

export interface TwinPairingOptions {
  /** The most item bytes that wait at once; past it the oldest are spilled. Default DEFAULT_PAIRING_BUDGET_BYTES. */
  budgetBytes?: number;
  /** How far one side runs ahead before its offers park. Default (and at most) three quarters of the budget. */
  parkAheadBytes?: number;
  /** How long a parked offer waits for a settled pair before parking is given up for a while. Default 250 ms. */
  patienceMs?: number;
}

interface Waiting {
  side: 'expected' | 'actual';
  item: AttributeMap;
  size: number;
  /** The item's spill line, built only if it is spilled. */
  line: () => string;
}

/**
 * Settles identical pairs before they reach the disk. Both sides are scanned at once, by the same segments in the same
 * order (DynamoDB, and DynamoDB Local, return a segment's items in key-hash order, whatever order they were written
 * in), so when the target's keys are the source's (no transform, one source, one target) an item and its twin arrive
 * close together. Each item waits here under its header; when its twin from the other side arrives and the two are
 * equal by the bucket comparison's own rule (core/equality.ts: numbers by value, sets unordered), both are dropped: a
 * match, as the bucket comparison would have settled it. Anything else goes to the bucket files as before: a pair
 * that differs (reported from there), a header seen twice on one side, and whatever still waits when the budget is
 * full (oldest first) or when the scans end. So the comparison's outcome is the same; only equal pairs skip the text,
 * the disk and the second pass.
 *
 * One side is often faster. When its waiting items pass the park threshold (by default 1.5 MB per segment scanned at
 * once, at most three quarters of the budget), its offers park until the other side settles a pair, so memory stays
 * bounded without spilling pairs that would have met. A parked offer waits up to eight times the patience while the
 * sides have been meeting (most offers settled as pairs); if no pair is settled within the patience and they have not
 * (another key layout, a target read in its own order), they stop parking for a while and the oldest items are
 * spilled instead. The budget must hold the pages both sides have in flight (by default 3 segments a side, pages
 * of up to 1,000 items): below that, twins in unread pages do not meet.
 */
export class TwinPairing {
  private readonly waiting = new Map<string, Waiting>();
  private bytes = 0;
  /** Bytes waiting from each side: the side with more is ahead of the other. */
  private readonly ahead = { expected: 0, actual: 0 };
  private readonly finished = { expected: false, actual: false };
  /** Offers of the side that is ahead, parked until the other side settles a pair. */
  private parked: (() => void)[] = [];
  /** Until then no offer parks: the last wait saw no pair settled (the sides do not meet in order). */
  private noWaitUntil = 0;
  /** Pairs settled in memory, and the most item bytes that waited at once. */
  matched = 0;
  peakBytes = 0;
  /** Items offered, both sides: when most were settled as pairs, the sides meet in order. */
  private offers = 0;

  private readonly budgetBytes: number;
  private readonly parkAheadBytes: number;
  private readonly patienceMs: number;

  constructor(
    private readonly files: { expected: BucketFiles; actual: BucketFiles },
    opts: TwinPairingOptions = {},
  ) {
    this.budgetBytes = opts.budgetBytes ?? DEFAULT_PAIRING_BUDGET_BYTES;
    this.parkAheadBytes = Math.min(opts.parkAheadBytes ?? Infinity, (this.budgetBytes * 3) / 4);
    this.patienceMs = opts.patienceMs ?? 250;
  }

  async offer(side: Waiting['side'], header: string, item: AttributeMap, line: () => string): Promise<void> {
    this.offers++;
    const twin = this.waiting.get(header);
    if (twin) {
      this.take(header, twin);
      if (twin.side !== side && itemsEqual(twin.item, item)) {
        this.matched++;
        this.unpark();
        return;
      }
      await this.spill(header, twin);
      await this.spill(header, { side, item, size: 0, line });
      return;
    }
    const size = itemSize(item);
    this.waiting.set(header, { side, item, size, line });
    this.bytes += size;
    this.ahead[side] += size;
    this.peakBytes = Math.max(this.peakBytes, this.bytes);
    // This side is ahead by more than parkAheadBytes: let the other side catch up, as long as it is settling pairs.
    // (Evicting instead would spill both halves of every pair from here on once one side runs ahead.)
    const other = side === 'expected' ? 'actual' : 'expected';
    while (this.ahead[side] > this.parkAheadBytes && !this.finished[other] && Date.now() >= this.noWaitUntil) {
      const since = Date.now();
      let settled = await this.park();
      // No pair within the patience, but the sides do meet (most offers so far were settled as pairs, or too few were
      // offered to tell): the other side is only slow for now (a Scan page under load can take longer than the
      // patience). Keep waiting, up to eight times the patience. Stopping at once let the side ahead run free for a
      // while, and at 1,000,000 items that let 12 MB of items wait (281 MB of RSS).
      while (!settled && this.seemToMeet() && Date.now() - since < 8 * this.patienceMs) settled = await this.park();
      if (!settled) this.noWaitUntil = Date.now() + 4 * this.patienceMs;
    }
    while (this.bytes > this.budgetBytes) {
      const [oldest, entry] = this.waiting.entries().next().value as [string, Waiting];
      this.take(oldest, entry);
      await this.spill(oldest, entry);
    }
  }

  /** Most offers so far were settled as pairs, or there were too few (under a page) to tell. */
  private seemToMeet(): boolean {
    return this.offers < 1000 || this.matched * 4 >= this.offers;
  }

  /** This side's scan is over: the other side no longer waits for it. */
  finish(side: Waiting['side']): void {
    this.finished[side] = true;
    this.unpark();
  }

  /** Spills everything still waiting; call once both scans are done. */
  async drain(): Promise<void> {
    for (const [header, entry] of this.waiting) await this.spill(header, entry);
    this.waiting.clear();
    this.bytes = 0;
    this.ahead.expected = this.ahead.actual = 0;
  }

  private take(header: string, w: Waiting): void {
    this.waiting.delete(header);
    this.bytes -= w.size;
    this.ahead[w.side] -= w.size;
  }

  /** Waits for the next settled pair; false when none came within the patience. */
  private park(): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.parked = this.parked.filter((p) => p !== wake);
        resolve(false);
      }, this.patienceMs);
      const wake = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      this.parked.push(wake);
    });
  }

  private unpark(): void {
    const parked = this.parked;
    this.parked = [];
    for (const wake of parked) wake();
  }

  private async spill(header: string, w: Waiting): Promise<void> {
    const files = this.files[w.side];
    await files.append(bucketOf(header, files.count), w.line());
  }
}
