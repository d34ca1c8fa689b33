import type { ResolvedConfig } from '../../config/resolved-config.js';
import type { Logger } from '../../engine/logger.js';
import { BACKFILL_BUDGET_MS } from '../../engine/plan.js';
import { enterPhase } from '../../engine/phase-machine.js';
import { strategyFor } from '../../engine/strategies/registry.js';
import { exportSource } from '../../engine/export-backfill.js';
import { DynashiftError, StreamGapError } from '../../errors.js';
import type { DynamoDbStateStore } from '../../state/dynamodb-state-store.js';
import { spoolsDuringBackfill } from '../lambda/runtime.js';
import type { CompleteOutput } from './types.js';

/**
 * The state machine's last dynashift step: marks the backfill complete once every segment of every source is done, and
 * says whether the stream's event source mapping may be enabled. Without a spool (stream.duringBackfill false) it
 * refuses (STREAM_GAP) when the stream position was opened so long ago that the mapping, which starts at TRIM_HORIZON,
 * might no longer find the oldest needed records; with one, the mapping has been consuming since Prepare and the
 * Replay task follows (`replay: true`).
 */
export async function completeBackfill(config: ResolvedConfig, store: DynamoDbStateStore, log: Logger, now = Date.now()): Promise<CompleteOutput> {
  const lock = await store.lock();
  try {
    const state = await store.load();
    if (!state) {
      throw new DynashiftError('NOT_RUNNING', `migration ${config.name} has no state in ${store.location}`, {
        hint: 'start the state machine from the beginning: its Prepare step writes the state',
      });
    }
    const pending: CompleteOutput['pending'] = [];
    for (const [name, src] of Object.entries(state.sources)) {
      const map = strategyFor(src.backfill.strategy).awsRunner?.map;
      if (src.backfill.completedAt) continue;
      if (map === 'segments') {
        for (let i = 0; i < config.backfill.segments; i++) {
          if (!src.backfill.partitions[String(i)]?.done) pending.push({ source: name, segment: i });
        }
      } else if (map === 'files') {
        // Every data file the export's manifest lists must have landed (its item in the state table says done):
        // checked against the manifest itself, not against what the Map happened to run.
        for (const file of await exportSource(config, name, src.backfill.export!.uri).partitions()) {
          if (!src.backfill.partitions[file]?.done) pending.push({ source: name, file });
        }
      }
    }
    const backfilledItems = Object.values(state.sources).reduce((n, s) => n + s.backfill.itemsWritten, 0);
    const base = { migration: config.name, backfilledItems, pendingCount: pending.length, pending: pending.slice(0, 50) };
    if (pending.length > 0) {
      log.warn({ pending: pending.length }, 'backfill not complete: segments or export files remain');
      return { ...base, complete: false, enableStreamMapping: false };
    }
    let spooling = false;
    for (const [name, src] of Object.entries(state.sources)) {
      if (src.backfill.completedAt) continue;
      const spools = spoolsDuringBackfill(config, src.backfill.strategy);
      spooling ||= spools;
      // The oldest record the catch-up needs: the stream position, or the snapshot's start if earlier (an export taken
      // before Prepare's last attempt opened the position).
      const age = now - Math.min(Date.parse(src.stream.openedAt), src.stream.skipBefore ?? Infinity);
      // A spooling source's mapping has consumed the stream since Prepare: nothing it needs can have aged out.
      if (!spools && age > BACKFILL_BUDGET_MS) {
        throw new StreamGapError(
          `The stream position of source ${name} was opened ${Math.round(age / 3600_000)} h ago; stream records live 24 h, so the mapping (starting at TRIM_HORIZON) may miss changes made right after it.`,
        );
      }
      src.backfill.completedAt = new Date(now).toISOString();
      log.info({ source: name, items: src.backfill.itemsWritten }, 'backfill complete');
    }
    // With a spool the catch-up starts when the Replay task goes live; it moves the phase then.
    if (!spooling && (state.phase === 'new' || state.phase === 'backfilling')) enterPhase(state, 'catching-up');
    state.updatedAt = new Date(now).toISOString();
    // Still the lock's holder: a Complete that stalled past its lease must not save the state it read over what the
    // holder since (a retried Complete, then the Replay moving the phase) saved.
    await lock.confirm();
    await store.save(state);
    return { ...base, complete: true, enableStreamMapping: true, replay: spooling };
  } finally {
    await lock.release();
  }
}
