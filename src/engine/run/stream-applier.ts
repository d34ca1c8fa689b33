import type { ChangePage } from '../../core/change.js';
import type { RateMeter } from '../../core/rate-limiter.js';
import type { StreamReader } from '../../sources/stream/stream-reader.js';
import type { ProgressSnapshot } from '../../state/migration-state.js';

/** One stream and how its pages are applied. */
export interface StreamFeed {
  source: string;
  reader: StreamReader;
  apply: (page: ChangePage) => Promise<void>;
}

/**
 * Applies a set of streams until its signal stops it: the shape shared by forward and reverse replication. Each reader
 * moves its shard checkpoints in memory once a page has landed; the checkpointer persists them. The queries
 * (`caughtUpSince`, `quiet`, `lagMs`, `shards`) only read, so deciders may call them at any time, also before `start`.
 */
export abstract class StreamApplier {
  private feeds: StreamFeed[] = [];
  private started = false;
  private startedAt = 0;
  private lastAppliedAt = 0;

  constructor(private readonly meter: RateMeter) {}

  /** Opens a reader per stream, from the positions in the state (read now, so they include every earlier step). */
  protected abstract open(): StreamFeed[];
  protected abstract announce(streams: number): void;
  /** Releases what `open` created for this start (clients, sinks); called once every stream has stopped. */
  protected async release(): Promise<void> {}

  /** Runs every stream until `signal` aborts; rejects with the first reader's failure. */
  start(signal: AbortSignal): Promise<void> {
    this.startedAt = Date.now();
    this.lastAppliedAt = 0;
    this.feeds = this.open();
    this.started = true;
    this.announce(this.feeds.length);
    return Promise.all(
      this.feeds.map(({ reader, apply }) =>
        reader.run(async (page) => {
          await apply(page);
          this.lastAppliedAt = Date.now();
          this.meter.add(page.records.length);
        }, signal),
      ),
    )
      .then(() => undefined)
      .finally(() => this.release());
  }

  /** Every reader lists its shards now (StreamReader.relistNow): caughtUpSince of a fresh `since` can hold sooner. */
  relistNow(): void {
    for (const { reader } of this.feeds) reader.relistNow();
  }

  /** Every shard has been read up to its tip at some point after `since` and after this start. */
  caughtUpSince(since = 0): boolean {
    const from = Math.max(since, this.startedAt);
    return this.started && this.feeds.every(({ reader }) => reader.caughtUpSince(from));
  }

  /** Quiet: every shard polled empty for `quietMs`, and nothing applied in that window (nor since `since`). */
  quiet(quietMs: number, since: number): boolean {
    const now = Date.now();
    if (now - since < quietMs || now - this.startedAt < quietMs) return false;
    if (this.lastAppliedAt > now - quietMs) return false;
    return this.feeds.every(({ reader }) => reader.atTipSince(now - quietMs));
  }

  lagMs(): number {
    return this.feeds.reduce((m, { reader }) => Math.max(m, reader.lagMs()), 0);
  }

  shards(): ProgressSnapshot['stream']['shards'] {
    return this.feeds.flatMap(({ source, reader }) => reader.status().map((s) => ({ source, ...s })));
  }
}
