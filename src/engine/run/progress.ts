import { systemClock } from '../../core/clock.js';
import { RateMeter } from '../../core/rate-limiter.js';
import type { MigrationState, ProgressSnapshot, TableActivity } from '../../state/migration-state.js';
import type { ApplyStats } from '../catch-up.js';

/** What progress reads from replication (never writes). */
export interface ReplicationView {
  readonly direction: 'forward' | 'reverse' | 'none';
  readonly caughtUp: boolean;
  lagMs(): number;
  shards(): ProgressSnapshot['stream']['shards'];
}

/**
 * The run's meters and the progress snapshot built from them. The backfill and the appliers are the collectors (they
 * add to the meters and the stats); the snapshot only reads.
 */
export class Progress {
  readonly backfillMeter = new RateMeter(systemClock);
  readonly streamMeter = new RateMeter(systemClock);
  readonly applyStats: ApplyStats = { records: 0, skipped: 0, writes: 0 };

  /** `activity` reads the tables' request counters and rate limits (engine/table-activity.ts) for monitoring. */
  constructor(
    private readonly state: MigrationState,
    private readonly deadLetters: () => number,
    private readonly activity?: () => TableActivity[],
  ) {}

  backfilledItems(): number {
    return Object.values(this.state.sources).reduce((n, s) => n + s.backfill.itemsWritten, 0);
  }

  snapshot(replication: ReplicationView): ProgressSnapshot {
    const sources = Object.values(this.state.sources);
    const items = this.backfilledItems();
    const estimatedItems = sources.reduce((n, s) => n + (s.backfill.estimatedItems ?? 0), 0);
    const itemsPerSecond = this.backfillMeter.perSecond();
    const partitions = sources.reduce((n, s) => n + Object.keys(s.backfill.partitions).length, 0);
    const partitionsDone = sources.reduce((n, s) => n + Object.values(s.backfill.partitions).filter((p) => p.done).length, 0);
    // The overall lag is the worst shard's in this same snapshot: asking the readers again would read the clock again,
    // and a scrape could then show an overall lag a millisecond off the per-shard ones it is the maximum of.
    const shards = replication.shards();
    const lagMs = shards.reduce((m, s) => Math.max(m, s.lagMs ?? 0), 0);
    return {
      at: new Date().toISOString(),
      phase: this.state.phase,
      backfill: {
        items,
        estimatedItems: Math.max(estimatedItems, items),
        itemsPerSecond,
        partitions,
        partitionsDone,
        ...(itemsPerSecond > 0 && estimatedItems > items ? { etaSeconds: Math.round((estimatedItems - items) / itemsPerSecond) } : {}),
      },
      stream: {
        direction: replication.direction,
        records: this.applyStats.records,
        writes: this.applyStats.writes,
        skipped: this.applyStats.skipped,
        recordsPerSecond: this.streamMeter.perSecond(),
        lagMs,
        caughtUp: replication.caughtUp,
        shards,
      },
      deadLetters: this.deadLetters(),
      ...(this.activity ? { io: this.activity() } : {}),
    };
  }
}
