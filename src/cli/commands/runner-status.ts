import type { ResolvedConfig } from '../../config/resolved-config.js';
import { runnerSync } from '../../engine/runner-sync.js';
import type { DynamoDbStateStore } from '../../state/dynamodb-state-store.js';
import type { StatusReport } from './status.js';
import { runnerViews } from './runner-state.js';

/**
 * `status` of a migration the AWS runner runs: the state, segment, stream and spool items of its state table. The
 * per-shard view of the CLI has no counterpart (Lambda does not tell the handler the shard), so the stream part is per
 * source: records applied and spooled, the newest batch's lag, and the in-sync evidence `cutover` checks.
 */
export async function runnerStatusReport(store: DynamoDbStateStore, config: ResolvedConfig): Promise<StatusReport> {
  const state = await store.load();
  if (!state) {
    return {
      next: 'start an execution of the state machine (dynashift deploy, then aws stepfunctions start-execution)',
      phase: 'not-started',
      running: false,
      backfill: [],
      stream: [],
      caughtUp: false,
      deadLetters: 0,
      deadLetterFile: store.deadLetterLocation(),
      safeToCutOver: false,
      reason: `the AWS runner has not prepared this migration in ${store.location}`,
    };
  }
  const views = await runnerViews(store, state, config);
  const sync = runnerSync(state, views, config.state!);
  const now = Date.now();
  const cut = state.cutover;
  const forwardPaused = cut !== undefined && (cut.draining ? cut.draining.from : cut.direction) !== 'forward';
  const safe = sync.inSync && state.deadLetters === 0 && !forwardPaused;
  const reason = !sync.inSync
    ? sync.reason
    : state.deadLetters > 0
      ? `${state.deadLetters} unresolved dead letter(s): see \`dynashift dead-letters list\``
      : sync.reason;
  return {
    next: nextRunnerStep(state.phase, safe, cut?.draining !== undefined, cut?.direction),
    ...(cut
      ? {
          direction: cut.direction,
          cutover: {
            ...(cut.readsAt ? { readsAt: cut.readsAt } : {}),
            ...(cut.writesAt ? { writesAt: cut.writesAt } : {}),
            ...(cut.finishedAt ? { finishedAt: cut.finishedAt } : {}),
          },
        }
      : {}),
    ...(cut?.draining ? { draining: { from: cut.draining.from, to: cut.draining.to, since: cut.draining.since } } : {}),
    migration: state.migration,
    phase: state.phase,
    running: views.some(
      (v) => v.progress?.lastBatchAt !== undefined && now - Date.parse(v.progress.lastBatchAt) <= config.state!.evidenceSeconds * 1000,
    ),
    backfill: Object.entries(state.sources).map(([source, s]) => ({
      source,
      table: s.table,
      strategy: s.backfill.strategy,
      segmentsDone: Object.values(s.backfill.partitions).filter((p) => p.done).length,
      segments: Object.keys(s.backfill.partitions).length,
      items: s.backfill.itemsWritten,
      complete: s.backfill.completedAt !== undefined,
    })),
    stream: [],
    aws: {
      stateTable: store.location,
      sources: views.map((v) => {
        const p = v.progress;
        return {
          source: v.source,
          ...(v.spool ? { spool: { mode: v.spool.mode, keys: v.spoolKeys ?? 0, transactions: v.spool.spooled } } : {}),
          recordsApplied: p?.records ?? 0,
          recordsSpooled: p?.spooledRecords ?? 0,
          failedBatches: p?.failedBatches ?? 0,
          ...(p?.lastAgeMs !== undefined ? { lagMs: p.lastAgeMs } : {}),
          ...(p?.lastBatchAt ? { lastBatchAt: p.lastBatchAt } : {}),
          ...(p?.lastSequenceNumber ? { lastSequenceNumber: p.lastSequenceNumber } : {}),
          ...(p?.lastAppliedAt !== undefined ? { lastAppliedAt: new Date(p.lastAppliedAt).toISOString() } : {}),
          ...(p?.lastFailedAt !== undefined ? { lastFailedAt: new Date(p.lastFailedAt).toISOString() } : {}),
        };
      }),
    },
    ...(views.some((v) => v.progress?.lastAgeMs !== undefined) ? { lagMs: Math.max(...views.map((v) => v.progress?.lastAgeMs ?? 0)) } : {}),
    caughtUp: sync.inSync,
    deadLetters: state.deadLetters,
    deadLetterFile: store.deadLetterLocation(),
    safeToCutOver: safe,
    reason,
    updatedAt: state.updatedAt,
  };
}

function nextRunnerStep(phase: string, safe: boolean, draining: boolean, direction?: string): string {
  switch (phase) {
    case 'new':
    case 'backfilling':
      return 'wait: the state machine copies the segments while the stream handler spools';
    case 'catching-up':
    case 'in-sync':
      return safe ? 'move reads: `dynashift cutover reads`' : 'wait until the reason above clears';
    case 'reads-cutover':
      return 'move writes: `dynashift cutover writes` (or `dynashift rollback` to move reads back)';
    case 'writes-cutover':
      return draining
        ? 'run the command that began the drain again (`dynashift cutover writes`, `rollback` or `finish`): it resumes it'
        : direction === 'reverse'
          ? '`dynashift finish` to end, or `dynashift rollback` (it applies the target writes made since to the source, then forward replication resumes)'
          : '`dynashift finish` to end';
    case 'finished':
      return '`dynashift finish --delete-source` once nothing uses the old table; disable the event source mapping or delete the stack';
    default:
      return '';
  }
}
