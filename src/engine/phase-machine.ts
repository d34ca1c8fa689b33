import type { MigrationState, Phase } from '../state/migration-state.js';
import { strategyFor } from './strategies/registry.js';

/**
 * The migration's phases and the moves between them, for every runner:
 *
 *   new ─▶ backfilling ─▶ catching-up ─▶ in-sync ─▶ reads-cutover ─▶ writes-cutover ─▶ finished
 *    │          │              ▲  (new ─▶ catching-up            ◀─rollback─┘    ◀─rollback─┘
 *    │          └─▶ exported   │   without a snapshot to copy)
 *    └─────────────────────────┘
 *
 * `--force` adds shortcuts: reads may move from catching-up, writes from in-sync, and finish stops replication from
 * any phase after the backfill; `finish --force` with no run going ends the migration from any phase (`finishNow`).
 * `run --rebackfill` re-copies the snapshot under a new transform: catching-up and in-sync go back to backfilling
 * (engine/resume-check.ts). `exported` (a write-once target took the snapshot) and `finished` are final.
 * Who moves the phase: the runbook's actors (backfill, replication) in the CLI run, the Step Functions tasks in the AWS
 * runner, and the cutover state machine (engine/cutover.ts) for live commands — all through `enterPhase`.
 */
export const PHASE_MOVES: Readonly<Record<Phase, readonly Phase[]>> = {
  new: ['backfilling', 'catching-up', 'exported'],
  backfilling: ['catching-up', 'exported'],
  'catching-up': ['in-sync', 'reads-cutover', 'finished', 'backfilling'],
  'in-sync': ['reads-cutover', 'writes-cutover', 'finished', 'backfilling'],
  'reads-cutover': ['writes-cutover', 'in-sync', 'finished'],
  'writes-cutover': ['reads-cutover', 'finished'],
  finished: [],
  exported: [],
};

/**
 * Moves the state to `phase`. Returns false when it is there already. A move the machine does not have is a bug in the
 * caller, never a user error: it throws rather than record a phase no runner expects.
 */
export function enterPhase(state: Pick<MigrationState, 'phase'>, phase: Phase): boolean {
  if (state.phase === phase) return false;
  if (!PHASE_MOVES[state.phase].includes(phase)) throw new Error(`internal: no phase move ${state.phase} → ${phase}`);
  state.phase = phase;
  return true;
}

/** `finish --force` with no run going (cli/commands/cutover.ts): the migration ends from whatever phase it is in. */
export function finishNow(state: Pick<MigrationState, 'phase'>): void {
  state.phase = 'finished';
}

/** Where a freshly started migration goes first: copying its snapshot, or straight to the stream when none is pending. */
export function firstPhase(state: Pick<MigrationState, 'sources'>): Phase {
  const pending = Object.values(state.sources).some((s) => !s.backfill.completedAt && strategyFor(s.backfill.strategy).copiesSnapshot);
  return pending ? 'backfilling' : 'catching-up';
}
