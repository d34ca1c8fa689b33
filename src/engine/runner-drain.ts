import type { ResolvedConfig } from '../config/resolved-config.js';
import { clientsFor, destroyClients, type TableClients } from '../aws/clients.js';
import { roleFor } from '../aws/errors.js';
import { systemClock } from '../core/clock.js';
import { RateMeter } from '../core/rate-limiter.js';
import { DynashiftError } from '../errors.js';
import type { DynamoDbStateStore, RunnerRuntime } from '../state/dynamodb-state-store.js';
import type { CutoverState, MigrationState } from '../state/migration-state.js';
import { ItemMapper } from '../core/transform.js';
import type { ApplyStats } from './catch-up.js';
import { FailurePolicy } from './failure-policy.js';
import type { Logger } from './logger.js';
import { ReverseReplication } from './run/reverse-replication.js';

/**
 * The drains of the cutover state machine (engine/cutover.ts) for a migration the AWS runner runs. Forward replication
 * is the stream handler's, so its drain is observed: the source is quiet once the handler has handled no batch for
 * `quietMs`. Reverse replication has no Lambda of its own: the command that drains it (`rollback`, `finish`) runs it in
 * its own process, from the target stream positions `cutover writes` opened, until the target is quiet.
 */

/** Waits until the stream handler has handled no batch for `quietMs` since the drain began; true when it has. */
export async function waitForwardQuiet(
  store: DynamoDbStateStore,
  draining: NonNullable<CutoverState['draining']>,
  deadline: number,
  pollMs = 250,
): Promise<boolean> {
  const since = Date.parse(draining.since);
  for (;;) {
    const progress = await store.streamProgress();
    const last = Math.max(since, ...progress.map((p) => (p.lastBatchAt ? Date.parse(p.lastBatchAt) : 0)));
    if (Date.now() - last >= draining.quietMs) return true;
    if (Date.now() > deadline) return false;
    await systemClock.sleep(pollMs);
  }
}

/** Records the switch a finished drain makes (the CLI runner's Replication does the same). */
export function completeDrain(cut: CutoverState): void {
  const d = cut.draining!;
  cut.history.push({ at: new Date().toISOString(), event: `switched ${d.from} → ${d.to}` });
  cut.direction = d.to;
  delete cut.draining;
}

/**
 * The stream handler reuses the state it read for `state.cacheSeconds` until reads are cut over and reads it for every
 * batch from then on: once that much time has passed since `cutover reads`, no handler still applies the source stream
 * on a stale state. Reverse replication writes the source only after that, or the handler could bounce its writes
 * back to the target.
 */
export async function waitForHandlerState(cut: CutoverState, config: ResolvedConfig): Promise<void> {
  const from = Date.parse(cut.readsAt ?? cut.writesAt ?? new Date(0).toISOString());
  const wait = from + (config.state?.cacheSeconds ?? 30) * 1000 + 1000 - Date.now();
  if (wait > 0) await systemClock.sleep(wait);
}

export interface ReverseDrainDeps {
  config: ResolvedConfig;
  store: DynamoDbStateStore;
  runtime: RunnerRuntime;
  /** The state as loaded under the lock: its `cutover.reverse` positions move as pages land and are saved. */
  state: MigrationState;
  log: Logger;
  deadline: number;
}

/**
 * Applies the targets' streams to the source (through the inverse transform, as `dynashift run` does after `cutover
 * writes`) from the recorded positions until the targets have been quiet for the drain's `quietMs`; saves the positions
 * as it goes (a crash resumes there: re-applying a suffix is safe) and the switch at the end. The caller holds the lock.
 */
export async function drainReverse(deps: ReverseDrainDeps): Promise<void> {
  const { config, store, runtime, state, log } = deps;
  const cut = state.cutover!;
  const draining = cut.draining!;
  if (!cut.reverse || Object.keys(cut.reverse).length === 0) {
    throw new DynashiftError('CUTOVER_REFUSED', 'no reverse stream positions were recorded at `cutover writes`', {
      hint: 'roll back with --force (then copy the target writes made since `cutover writes` to the source yourself)',
      side: 'state',
      exitCode: 2,
    });
  }
  await waitForHandlerState(cut, config);
  const sourceName = Object.keys(config.sources)[0]!;
  const sourceRef = config.sources[sourceName]!;
  const clients: TableClients = clientsFor(sourceRef, roleFor('source', sourceName, sourceRef));
  const stats: ApplyStats = { records: 0, skipped: 0, writes: 0 };
  const mapper = new ItemMapper({ transform: config.transform, targets: runtime.targetKeys, singleTarget: config.singleTarget });
  const reverse = new ReverseReplication({
    config,
    positions: () => cut.reverse!,
    sourceClients: { [sourceName]: clients },
    sourceKeys: runtime.sourceKeys,
    mapper,
    failures: new FailurePolicy(store, config.onError, log),
    stats,
    meter: new RateMeter(systemClock),
    log,
  });
  const stop = new AbortController();
  const since = Date.parse(draining.since);
  const running = reverse.start(stop.signal);
  let failure: unknown;
  running.catch((err: unknown) => {
    failure = err;
  });
  try {
    let savedAt = Date.now();
    for (;;) {
      if (failure) throw failure;
      if (reverse.quiet(draining.quietMs, since)) break;
      if (Date.now() > deps.deadline) {
        throw new DynashiftError('NOT_RUNNING', `the target streams were not quiet for ${Math.round(draining.quietMs / 1000)} s before the timeout`, {
          hint: 'stop the application writes to the target, then run the command again: it resumes from the saved positions (or raise --timeout-seconds)',
          side: 'target',
        });
      }
      if (Date.now() - savedAt > 2000) {
        await store.save(state);
        savedAt = Date.now();
      }
      await systemClock.sleep(100);
    }
    stop.abort();
    await running;
    log.info({ records: stats.records, writes: stats.writes }, 'reverse replication drained: the source has every write made to the target');
    completeDrain(cut);
  } finally {
    stop.abort();
    await running.catch(() => {});
    destroyClients(clients);
    state.updatedAt = new Date().toISOString();
    await store.save(state);
  }
}
