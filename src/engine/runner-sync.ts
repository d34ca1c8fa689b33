import type { RunnerStateConfig } from '../config/resolved-config.js';
import { DynashiftError } from '../errors.js';
import type { StreamProgress } from '../state/dynamodb-state-store.js';
import type { SpoolControl } from '../state/key-spool.js';
import type { MigrationState } from '../state/migration-state.js';
import { strategyFor } from './strategies/registry.js';

/** What the AWS runner has recorded about one source: its stream handler's evidence and its spool. */
export interface RunnerSourceView {
  source: string;
  progress?: StreamProgress;
  /** The spool's control item; undefined when the source does not spool (or Prepare did not open one). */
  spool?: SpoolControl;
  /** Spooled keys not replayed yet. */
  spoolKeys?: number;
}

/** Whether the runner is in sync, and if not the first reason, as the refusal `cutover` raises. */
export type RunnerSync = { inSync: true; reason: string } | { inSync: false; reason: string; error: DynashiftError };

/**
 * Judges "in sync" for a migration the AWS runner runs, from what the state table holds: every source's backfill is
 * complete, its spool (if it has one) is live, and its stream handler applied a batch within `state.evidenceSeconds`
 * whose newest record was at most `state.maxLagSeconds` old, with no batch behind that threshold and none returned for
 * redelivery within the same window. Lambda tells the handler neither the shard nor the shard's tip, so a shard that
 * lags or is halted shows only through the batches it delivers (behind, or returned); a source that takes no writes
 * gives no evidence at all, and `--force` is the way past that once the `IteratorAge` metric has been checked.
 */
export function runnerSync(state: MigrationState, views: RunnerSourceView[], settings: RunnerStateConfig, now = Date.now()): RunnerSync {
  const windowMs = settings.evidenceSeconds * 1000;
  const maxLagMs = settings.maxLagSeconds * 1000;
  const refuse = (reason: string, hint: string, side: 'source' | 'state', details: Record<string, unknown>): RunnerSync => ({
    inSync: false,
    reason,
    error: new DynashiftError('NOT_IN_SYNC', `the AWS runner is not in sync: ${reason}`, { hint, side, exitCode: 2, details }),
  });
  for (const [source, src] of Object.entries(state.sources)) {
    const view = views.find((v) => v.source === source);
    const copies = strategyFor(src.backfill.strategy).copiesSnapshot;
    if (copies && !src.backfill.completedAt) {
      const parts = Object.values(src.backfill.partitions);
      return refuse(
        `the backfill of source ${source} is not complete (${parts.filter((p) => p.done).length}/${parts.length} segments done)`,
        "wait until the state machine's Map and Complete steps have run (`dynashift status` shows the segments); a failed execution is started again and resumes from the checkpoints",
        'source',
        { source, check: 'backfill' },
      );
    }
    if (view?.spool && view.spool.mode !== 'live') {
      return refuse(
        `the spool of source ${source} is in mode ${view.spool.mode} with ${view.spoolKeys ?? '?'} key(s) left: the replay has not handed the stream to the handler yet`,
        "wait until the state machine's ReplaySpool step has run to `live` (`dynashift status` shows the spool)",
        'state',
        { source, check: 'spool', mode: view.spool.mode },
      );
    }
    const p = view?.progress;
    const applied = p?.lastAppliedAt;
    if (applied === undefined || now - applied > windowMs) {
      return refuse(
        `the stream handler has applied no batch of source ${source} in the last ${settings.evidenceSeconds} s${applied !== undefined ? ` (last at ${new Date(applied).toISOString()})` : ''}, so nothing shows it is at the stream's tip`,
        'check that the event source mapping is enabled and the StreamHandler has no errors; a source that takes no writes gives no evidence: check the IteratorAge metric is 0, then pass --force (or raise state.evidenceSeconds)',
        'source',
        { source, check: 'evidence', lastAppliedAt: applied },
      );
    }
    if (p?.lastAgeMs !== undefined && p.lastAgeMs > maxLagMs) {
      return refuse(
        `the stream handler's last batch of source ${source} was ${Math.round(p.lastAgeMs / 1000)} s behind the stream (over state.maxLagSeconds ${settings.maxLagSeconds})`,
        'wait until the handler catches up (the IteratorAge metric falls), or raise state.maxLagSeconds',
        'source',
        { source, check: 'lag', lagMs: p.lastAgeMs },
      );
    }
    if (p?.lastBehindAt !== undefined && now - p.lastBehindAt <= windowMs) {
      return refuse(
        `a batch of source ${source} ${Math.round((p.lastBehindMs ?? 0) / 1000)} s behind the stream was handled ${Math.round((now - p.lastBehindAt) / 1000)} s ago: a shard may still be catching up`,
        `wait state.evidenceSeconds (${settings.evidenceSeconds} s) with no lagging batch, or raise state.maxLagSeconds`,
        'source',
        { source, check: 'lag', lagMs: p.lastBehindMs },
      );
    }
    if (p?.lastFailedAt !== undefined && now - p.lastFailedAt <= windowMs) {
      return refuse(
        `a batch of source ${source} was returned for redelivery ${Math.round((now - p.lastFailedAt) / 1000)} s ago: a shard may be halted at a failing record`,
        'read the StreamHandler logs and `dynashift dead-letters list`; once batches apply again without failures for state.evidenceSeconds, retry',
        'source',
        { source, check: 'failed-batch' },
      );
    }
  }
  return { inSync: true, reason: 'backfill complete, spool live, and the stream handler applying at the tip of every source stream' };
}
