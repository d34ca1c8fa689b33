import { systemClock } from '../../core/clock.js';
import type { CutoverState, MigrationState } from '../../state/migration-state.js';
import type { ApplyStats } from '../catch-up.js';
import type { Logger } from '../logger.js';
import type { Phases } from './phases.js';
import type { ReplicationView } from './progress.js';
import type { StreamApplier } from './stream-applier.js';
import { runController, anySignal } from '../../core/run-signal.js';

export interface ReplicationDeps {
  state: MigrationState;
  phases: Phases;
  forward: StreamApplier;
  reverse: StreamApplier;
  stats: ApplyStats;
  untilSynced: boolean;
  /** Every source's backfill was already complete when the run began. */
  snapshotComplete: boolean;
  log: Logger;
}

/**
 * Applies one direction's stream at a time until the run stops; a drained switch moves on to the next direction.
 * It decides from what the appliers report (caught up, quiet) and what live control asked for (`cutover.draining`);
 * it writes the in-sync phase and, when a drain completes, the switch in the cutover state.
 */
export class Replication implements ReplicationView {
  private current: StreamApplier | undefined;
  private running: 'forward' | 'reverse' | 'none' = 'forward';
  private synced = false;
  private directionStop = runController();
  /** The snapshot is complete: only then can the targets be in sync. */
  private snapshotDone: boolean;
  /** When the catch-up began: every shard's tip must be reached after it. */
  private catchUpSince = 0;

  constructor(private readonly deps: ReplicationDeps) {
    this.snapshotDone = deps.snapshotComplete;
  }

  /**
   * Called when the backfill that ran alongside (or before) has completed: from now on reaching every shard's tip
   * means in sync. Until then the applier runs in phase backfilling.
   */
  snapshotComplete(): void {
    if (this.snapshotDone) return;
    this.snapshotDone = true;
    this.catchUpSince = Date.now();
    const { state, phases } = this.deps;
    if (state.phase === 'new' || state.phase === 'backfilling') phases.enter('catching-up');
    // In sync needs a shard listing started after catchUpSince; ask for it now instead of at the next interval.
    this.current?.relistNow();
  }

  get direction(): 'forward' | 'reverse' | 'none' {
    return this.running;
  }

  get caughtUp(): boolean {
    return this.synced;
  }

  lagMs(): number {
    return this.current?.lagMs() ?? 0;
  }

  shards() {
    return this.current?.shards() ?? [];
  }

  /** Runs until `stop` aborts (or, with untilSynced, aborts it once caught up). */
  async run(stop: AbortController): Promise<void> {
    const { state, phases, log } = this.deps;
    if (this.snapshotDone && (state.phase === 'new' || state.phase === 'backfilling')) phases.enter('catching-up');
    const cut = (state.cutover ??= { direction: 'forward', history: [] });
    while (!stop.signal.aborted) {
      this.running = cut.draining ? cut.draining.from : cut.direction;
      if (this.running === 'none') {
        if (cut.finishRequested) {
          phases.enter('finished');
          cut.finishedAt ??= new Date().toISOString();
          log.info({}, 'replication stopped: migration finished');
        } else {
          log.info({}, 'source drained; no reverse replication was asked for (--no-reverse), so there is nothing left to apply');
        }
        return;
      }
      await this.runDirection(this.running, cut, stop);
    }
  }

  private async runDirection(direction: 'forward' | 'reverse', cut: CutoverState, stop: AbortController): Promise<void> {
    this.directionStop = runController();
    const signal = anySignal([stop.signal, this.directionStop.signal]);
    const applier = direction === 'forward' ? this.deps.forward : this.deps.reverse;
    this.current = applier;
    const running = applier.start(signal);
    const monitor = (async () => {
      while (!signal.aborted) {
        if (this.snapshotDone && applier.caughtUpSince(this.catchUpSince) && !cut.draining) {
          if (!this.synced) {
            this.synced = true;
            if (this.deps.state.phase === 'catching-up') this.deps.phases.enter('in-sync');
            this.deps.log.info({ direction, records: this.deps.stats.records }, 'in sync: every change up to now is applied');
          }
          if (this.deps.untilSynced) {
            stop.abort();
            return;
          }
        }
        if (cut.draining && cut.draining.from === direction && applier.quiet(cut.draining.quietMs, Date.parse(cut.draining.since))) {
          this.deps.log.info({ from: direction, to: cut.draining.to }, 'drained: the old direction is quiet, switching');
          cut.history.push({ at: new Date().toISOString(), event: `switched ${direction} → ${cut.draining.to}` });
          cut.direction = cut.draining.to;
          delete cut.draining;
          this.synced = false;
          this.directionStop.abort();
          return;
        }
        await systemClock.sleep(100, signal);
      }
    })();
    try {
      await running;
    } catch (err) {
      stop.abort();
      throw err;
    } finally {
      await monitor;
    }
  }
}
