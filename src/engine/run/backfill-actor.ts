import { systemClock } from '../../core/clock.js';
import { RateLimiter, RateMeter } from '../../core/rate-limiter.js';
import { finalizableSink, isWriteOnceSink } from '../../sinks/files/index.js';
import { ScanSource } from '../../sources/scan/scan-source.js';
import { removeMarkers, touchAll, type TouchState } from '../../sources/touch/index.js';
import type { BackfillState, SourceState } from '../../state/migration-state.js';
import { runBackfill } from '../backfill.js';
import { applyIncrementalExports, exportSource } from '../export-backfill.js';
import type { FailurePolicy } from '../failure-policy.js';
import type { Logger } from '../logger.js';
import { SNAPSHOT_MARGIN_MS } from '../snapshot.js';
import type { Phases } from './phases.js';
import { readCeiling, type RunContext } from './run-context.js';
import type { SnapshotGates } from './snapshot-gates.js';

export interface BackfillDeps {
  ctx: RunContext;
  /** Per source: its backfill record (cursors moved here after writes land) and its stream's skipBefore. */
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

  /** @returns true when the snapshot is complete and the stream should follow; false when stopped or export-only. */
  async run(signal: AbortSignal): Promise<boolean> {
    const { sources, phases, log } = this.deps;
    const pending = Object.entries(sources).filter(([, s]) => s.backfill.strategy !== 'none' && !s.backfill.completedAt);
    if (pending.length > 0) {
      phases.enter('backfilling');
      const results = await Promise.all(pending.map(async ([name, src]) => {
        const done = src.backfill.strategy === 'touch' ? await this.touch(name, src, signal) : await this.copy(name, src, signal);
        if (done) {
          src.backfill.completedAt = new Date().toISOString();
          log.info({ source: name, items: src.backfill.itemsWritten, strategy: src.backfill.strategy }, 'backfill complete');
        }
        return done;
      }));
      await this.deps.flush();
      if (!results.every(Boolean)) return false;
    }
    for (const [name, src] of Object.entries(sources)) {
      if (src.backfill.strategy !== 'export' || signal.aborted) continue;
      const { config, mapper, sinks } = this.deps.ctx;
      const coveredUntil = await applyIncrementalExports({
        config, source: name, state: src.backfill, mapper, sinks, failures: this.deps.failures, marginMs: SNAPSHOT_MARGIN_MS,
        onCheckpoint: () => {}, signal, log,
      });
      if (coveredUntil !== undefined) src.stream.skipBefore = Math.max(src.stream.skipBefore ?? 0, coveredUntil - SNAPSHOT_MARGIN_MS);
    }
    if (signal.aborted) return false;
    if (Object.values(this.deps.ctx.sinks).every(isWriteOnceSink)) {
      // An export-format target takes the snapshot only: close its files and stop (the stream is for the table it
      // gets imported into, in a migration of its own).
      for (const sink of Object.values(this.deps.ctx.sinks)) await finalizableSink(sink)?.finalize();
      phases.enter('exported');
      log.info({}, 'export written: load it with ImportTable, then catch up with a migration to the imported table (backfill.export.imported: true)');
      return false;
    }
    return true;
  }

  /** Scan or export-file backfill: partitions copied in parallel, each resumable from its cursor. */
  private async copy(name: string, src: SourceState, signal: AbortSignal): Promise<boolean> {
    const { ctx } = this.deps;
    const { config } = ctx;
    const backfill = src.backfill;
    const info = ctx.plan.sources[name]!;
    const source = backfill.strategy === 'export'
      ? exportSource(config, name, backfill.export!.uri)
      : new ScanSource({
        name, client: ctx.sourceClients[name]!.dynamodb, table: src.table, totalSegments: config.backfill.segments,
        pageSize: config.backfill.pageSize, consistentRead: config.backfill.consistentRead,
        limiter: new RateLimiter(readCeiling(ctx, name), systemClock), meter: new RateMeter(systemClock),
      });
    return runBackfill({
      source, sourceName: name, sourceKeySchema: ctx.sourceKeys[name]!, mapper: ctx.mapper, sinks: ctx.sinks,
      state: backfill, concurrency: config.backfill.concurrency, failures: this.deps.failures,
      onProgress: (items) => this.deps.meter.add(items), onCheckpoint: () => {}, log: this.deps.log,
      ...(this.deps.gates.get(name) ? { gate: this.deps.gates.get(name)! } : {}),
      ...(config.backfill.skipExpired && info.ttlAttribute ? { skipExpired: { ttlAttribute: info.ttlAttribute, now: () => Date.now() } } : {}),
    }, signal);
  }

  /**
   * Touch: every item is updated (conditionally on existing, so a concurrent delete is never undone) so that it flows
   * through the stream; then the marker is removed again. The stream, applied afterwards, does the copying.
   */
  private async touch(name: string, src: SourceState, signal: AbortSignal): Promise<boolean> {
    const { ctx } = this.deps;
    const { config } = ctx;
    const backfill: BackfillState = src.backfill;
    const touchCfg = config.backfill.touch ?? {};
    const t = (backfill.touch ??= {});
    const common = {
      client: ctx.sourceClients[name]!.dynamodb, table: src.table, keySchema: ctx.sourceKeys[name]!,
      segments: config.backfill.segments, concurrency: config.backfill.concurrency, signal,
      ...(touchCfg.marker ? { marker: touchCfg.marker } : {}),
      limiter: new RateLimiter(touchCfg.maxWriteUnitsPerSecond ?? Infinity, systemClock),
      readLimiter: new RateLimiter(readCeiling(ctx, name), systemClock),
    };
    if (!t.touchedDone) {
      const r = await touchAll({ ...common, state: (t.touched ??= { segments: {} }) as TouchState, onCheckpoint: () => {} });
      backfill.itemsWritten = r.state.segments ? Object.values(r.state.segments).reduce((n, seg) => n + seg.written, 0) : backfill.itemsWritten;
      if (!r.complete) return false;
      t.touchedDone = true;
      await this.deps.flush();
    }
    if (!t.removedDone) {
      const r = await removeMarkers({ ...common, state: (t.removal ??= { segments: {} }) as TouchState, onCheckpoint: () => {} });
      if (!r.complete) return false;
      t.removedDone = true;
    }
    return true;
  }
}
