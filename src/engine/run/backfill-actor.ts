import type { RateMeter } from '../../core/rate-limiter.js';
import { finalizableSink } from '../../sinks/sink.js';
import type { SourceState } from '../../state/migration-state.js';
import type { FailurePolicy } from '../failure-policy.js';
import type { Logger } from '../logger.js';
import type { BackfillStrategy, StrategyRun } from '../strategies/backfill-strategy.js';
import { strategyFor } from '../strategies/registry.js';
import type { Phases } from './phases.js';
import type { RunContext } from './run-context.js';
import type { SnapshotGates } from './snapshot-gates.js';

export interface BackfillDeps {
  ctx: RunContext;
  /** Per source: its backfill record (checkpoints moved by the strategy after writes land) and its stream's skipBefore. */
  sources: Record<string, SourceState>;
  failures: FailurePolicy;
  meter: RateMeter;
  phases: Phases;
  /** Asks the checkpointer to save now (at a step boundary). */
  flush: () => Promise<void>;
  /** Where pages meet the stream applied during the backfill (open only then). */
  gates: SnapshotGates;
  log: Logger;
}

/** Copies each source's snapshot into the targets with its strategy, resumably, until done or stopped. */
export class Backfill {
  constructor(private readonly deps: BackfillDeps) {}

  /** Whether any source still has a snapshot to copy. */
  pending(): boolean {
    return Object.keys(this.deps.sources).some((name) => this.isPending(name));
  }

  /** @returns true when the snapshot is complete and the stream should follow; false when stopped or export-only. */
  async run(signal: AbortSignal): Promise<boolean> {
    const { sources, phases, log } = this.deps;
    const pending = Object.keys(sources).filter((name) => this.isPending(name));
    if (pending.length > 0) {
      phases.enter('backfilling');
      const results = await Promise.all(
        pending.map(async (name) => {
          const backfill = sources[name]!.backfill;
          const done = await this.strategy(name).run(this.input(name), signal);
          if (done) {
            backfill.completedAt = new Date().toISOString();
            log.info({ source: name, items: backfill.itemsWritten, strategy: backfill.strategy }, 'backfill complete');
          }
          return done;
        }),
      );
      await this.deps.flush();
      if (!results.every(Boolean)) return false;
    }
    for (const name of Object.keys(sources)) {
      if (signal.aborted) break;
      await this.strategy(name).afterSnapshot?.(this.input(name), signal);
    }
    if (signal.aborted) return false;
    if (Object.values(this.deps.ctx.sinks).every((s) => s.capabilities.writeOnce)) {
      // An export-format target takes the snapshot only: close its files and stop (the stream is for the table it
      // gets imported into, in a migration of its own).
      for (const sink of Object.values(this.deps.ctx.sinks)) await finalizableSink(sink)?.finalize();
      phases.enter('exported');
      log.info({}, 'export written: load it with ImportTable, then catch up with a migration to the imported table (backfill.export.imported: true)');
      return false;
    }
    return true;
  }

  private isPending(name: string): boolean {
    const backfill = this.deps.sources[name]!.backfill;
    return !backfill.completedAt && this.strategy(name).copiesSnapshot;
  }

  private strategy(source: string): BackfillStrategy {
    return strategyFor(this.deps.sources[source]!.backfill.strategy);
  }

  private input(source: string): StrategyRun {
    const { ctx, failures, meter, flush, log, gates } = this.deps;
    const gate = gates.get(source);
    return { ctx, source, state: this.deps.sources[source]!, failures, meter, flush, log, ...(gate ? { gate } : {}) };
  }
}
