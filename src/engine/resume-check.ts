import { DynashiftError } from '../errors.js';
import type { MigrationState, Phase } from '../state/migration-state.js';
import type { TransformFingerprint } from './snapshot.js';
import { enterPhase } from './phase-machine.js';
import { strategyFor } from './strategies/registry.js';

/** Phases in which the target is still only a copy, so it may be re-copied; after a cutover it is not. */
const REBACKFILL_PHASES: readonly Phase[] = ['new', 'backfilling', 'catching-up', 'in-sync'];

/**
 * Decides whether a stored migration may go on with the transform the config has now, and applies the decision to the
 * state (pure: no I/O). Returns a line to log, if any.
 *
 * - Same transform: nothing to do.
 * - A state written before transform fingerprints existed: the current one is recorded (a change made before this
 *   upgrade can't be detected any more, which the returned warning says).
 * - A changed transform: refused with TRANSFORM_CHANGED, unless one of two explicit choices was made:
 *   - `rebackfill`: every source's backfill starts over under the new transform, from a new consistent snapshot, while
 *     the stream position and its checkpoints are kept: the replay resumes where it stopped once the re-copy is done
 *     (docs/consistency.md, "Re-copying under a new transform"). Target items only the old transform produced
 *     (leftovers) are not overwritten by the re-copy; `verify` reports them as extra and `verify --repair` deletes them.
 *   - `acceptTransform`: the new fingerprint is recorded and nothing is re-copied. The operator asserts that the change
 *     only alters what the transform makes of items it failed on (the usual fix of a dead-lettered item), so every
 *     item already written is what the new transform makes of it too; `verify` checks that claim.
 */
export function resumeWithTransform(state: MigrationState, current: TransformFingerprint, opts: TransformChoice): string | undefined {
  const note = decide(state, current, opts);
  if (note) opts.warn?.(note);
  return note;
}

export interface TransformChoice {
  /** `run --rebackfill`: re-copy every item under the current transform. */
  rebackfill: boolean;
  /** `--accept-transform`: record the current transform, keeping every item already written as it is. */
  acceptTransform?: boolean;
  now: number;
  stateDir: string;
  warn?: (message: string) => void;
}

/**
 * `dead-letters retry` writes what the current transform makes of each item, so it too must either use the recorded
 * transform or be told to accept the current one (`--accept-transform`, recorded here exactly as `run` records it):
 * otherwise the retried items would follow a transform no later run would accept. Mutates the state like
 * resumeWithTransform; returns a line to log, if any.
 */
export function retryWithTransform(
  state: MigrationState,
  current: TransformFingerprint,
  opts: Omit<TransformChoice, 'rebackfill'>,
): string | undefined {
  const stored = state.transformFingerprint;
  if (stored === undefined || !isChanged(stored, current) || opts.acceptTransform)
    return resumeWithTransform(state, current, { ...opts, rebackfill: false });
  throw new DynashiftError(
    'TRANSFORM_CHANGED',
    `the transform (or the target keys, split or skipExpired setting that shape its output) changed since this migration started: the ${describeChange(stored, current)} differs from the one recorded in ${opts.stateDir}. A retry writes what the new transform makes of each item, which the migration has not accepted yet`,
    {
      hint: 'if the change only alters what the transform makes of the items that failed, accept it and retry: `dynashift dead-letters retry --accept-transform -c FILE` (items already written stay as they are; `dynashift verify` then checks them against the new transform); if it alters items already copied, re-copy them first: `dynashift run --rebackfill -c FILE`, then retry; or restore the original transform',
      exitCode: 2,
      side: 'config',
    },
  );
}

function isChanged(stored: TransformFingerprint, current: TransformFingerprint): boolean {
  return stored.code !== current.code || stored.output !== current.output;
}

function decide(state: MigrationState, current: TransformFingerprint, opts: TransformChoice): string | undefined {
  const stored = state.transformFingerprint;
  const changed = stored !== undefined && isChanged(stored, current);
  if (opts.rebackfill && opts.acceptTransform) {
    throw new DynashiftError(
      'CONFIG_INVALID',
      '--rebackfill and --accept-transform are two different answers to a changed transform: re-copy every item, or keep the items already written',
      {
        hint: 'pass one of them: `dynashift run --rebackfill -c FILE` re-copies every item under the new transform; `dynashift run --accept-transform -c FILE` keeps what is written and goes on under it',
        exitCode: 2,
        side: 'config',
      },
    );
  }
  if (!opts.rebackfill) {
    if (stored === undefined) {
      state.transformFingerprint = current;
      return state.phase === 'new'
        ? undefined
        : "this migration's state predates transform fingerprints: the current transform is recorded now, and only later changes to it are detected";
    }
    if (!changed) {
      return opts.acceptTransform
        ? `--accept-transform: the transform is the one recorded in ${opts.stateDir}, so there is nothing to accept`
        : undefined;
    }
    if (opts.acceptTransform) {
      const at = new Date(opts.now).toISOString();
      state.transformAccepted = { at, from: stored };
      state.transformFingerprint = current;
      return `the new transform is accepted (--accept-transform; the ${describeChange(stored, current)} changed): items already written keep what the old transform made of them, and every write from now on follows the new one. Once in sync, run \`dynashift verify\`: it compares every target item with what the new transform makes of its source item, and \`dynashift verify --repair\` rewrites any item the change did alter`;
    }
    throw new DynashiftError(
      'TRANSFORM_CHANGED',
      `the transform (or the target keys, split or skipExpired setting that shape its output) changed since this migration started: the ${describeChange(stored, current)} differs from the one recorded in ${opts.stateDir}. Items already copied follow the old transform; going on would leave the target holding both`,
      {
        hint: 'restore the original transform; or, if the change only alters what the transform makes of items that failed (dead letters), keep the items already written and go on under the new one: `dynashift run --accept-transform -c FILE` (then `dynashift verify` checks that no written item changed, and `dynashift verify --repair` rewrites any that did); or re-copy every item under the new one while keeping the stream position: `dynashift run --rebackfill -c FILE` (then `dynashift verify --repair` removes target items only the old transform produced); or start over: remove the state folder and empty the target',
        exitCode: 2,
        side: 'config',
      },
    );
  }
  if (!REBACKFILL_PHASES.includes(state.phase)) {
    throw new DynashiftError(
      'TRANSFORM_CHANGED',
      `--rebackfill re-copies the target from the source, but this migration is in phase ${state.phase}: the target is already the system of record (or read from)`,
      {
        hint: 'roll back to phase in-sync first (`dynashift rollback`), or start a new migration with another "name"',
        exitCode: 2,
      },
    );
  }
  for (const [name, src] of Object.entries(state.sources)) {
    const strategy = src.backfill.strategy;
    if (!strategyFor(strategy).readsTable) {
      throw new DynashiftError(
        'TRANSFORM_CHANGED',
        `--rebackfill needs a backfill that reads the source now (scan or touch); source ${name} uses ${strategy}, whose snapshot is older than the stream checkpoints`,
        {
          hint: 'start over with the new transform: remove the state folder and empty the target, then run again',
          exitCode: 2,
        },
      );
    }
  }
  const at = new Date(opts.now).toISOString();
  for (const src of Object.values(state.sources)) {
    const b = src.backfill;
    b.partitions = {};
    b.itemsWritten = 0;
    b.bytesRead = 0;
    b.startedAt = at;
    delete b.completedAt;
    strategyFor(b.strategy).restart?.(b);
    // The stream keeps its checkpoints: records after them are replayed once the re-copy is done. skipBefore stays
    // as it was (it only ever saves writes), so nothing after the checkpoints is passed over.
  }
  state.rebackfill = { at, ...(stored ? { from: stored } : {}) };
  state.transformFingerprint = current;
  if (state.phase !== 'new') enterPhase(state, 'backfilling');
  return `re-copying every item under the ${changed ? 'new ' : ''}transform (--rebackfill); the stream position is kept and replay resumes after the re-copy. Afterwards run \`dynashift verify --repair\`: it finds target items that only the old transform produced and deletes them`;
}

function describeChange(stored: TransformFingerprint, current: TransformFingerprint): string {
  if (stored.code !== current.code && stored.output !== current.output) return 'transform code and the output settings';
  return stored.code !== current.code ? 'transform code' : 'target keys / split / skipExpired setting';
}
