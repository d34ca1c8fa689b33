import type { ProgressSnapshot } from '../../state/migration-state.js';

/** One second of a run, as the charts draw it. */
export interface HistoryPoint {
  /** Epoch ms. */
  at: number;
  itemsPerSecond: number;
  recordsPerSecond: number;
  lagMs: number;
}

/**
 * The run's recent history, in memory only: a ring buffer of the last `capacity` progress snapshots (one a second, so
 * the default is the last hour). A days-long run keeps the same few hundred kilobytes.
 */
export class History {
  private readonly points: (HistoryPoint | undefined)[];
  private next = 0;
  private size = 0;

  constructor(readonly capacity = 3600) {
    this.points = new Array<HistoryPoint | undefined>(capacity);
  }

  add(p: ProgressSnapshot): void {
    this.points[this.next] = {
      at: Date.parse(p.at),
      itemsPerSecond: p.backfill.itemsPerSecond,
      recordsPerSecond: p.stream.recordsPerSecond,
      lagMs: p.stream.lagMs,
    };
    this.next = (this.next + 1) % this.capacity;
    this.size = Math.min(this.capacity, this.size + 1);
  }

  /** Oldest first. */
  list(): HistoryPoint[] {
    const out: HistoryPoint[] = [];
    for (let i = 0; i < this.size; i++) out.push(this.points[(this.next - this.size + i + this.capacity) % this.capacity]!);
    return out;
  }
}
