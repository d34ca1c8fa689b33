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
 * - A changed transform: refused with TRANSFORM_CHANGED, unless `rebackfill` was asked for. Then every source's
 *   backfill starts over under the new transform, from a new consistent snapshot, while the stream position and its
 *   checkpoints are kept: the replay resumes where it stopped once the re-copy is done (docs/consistency.md,
 *   "Re-copying under a new transform"). Target items only the old transform produced (leftovers) are not
 *   overwritten by the re-copy; `verify` reports them as extra and `verify --repair` deletes them.
 */
export function resumeWithTransform(state: MigrationState, current: TransformFingerprint,
  opts: { rebackfill: boolean; now: number; stateDir: string; warn?: (message: string) => void }): string | undefined {
  const note = decide(state, current, opts);
  if (note) opts.warn?.(note);
  return note;
}

function decide(state: MigrationState, current: TransformFingerprint, opts: { rebackfill: boolean; now: number; stateDir: string }): string | undefined {
  const stored = state.transformFingerprint;
  const changed = stored !== undefined && (stored.code !== current.code || stored.output !== current.output);
  if (!opts.rebackfill) {
    if (stored === undefined) {
      state.transformFingerprint = current;
      return state.phase === 'new' ? undefined
        : 'this migration\'s state predates transform fingerprints: the current transform is recorded now, and only later changes to it are detected';
    }
    if (!changed) return undefined;
    throw new DynashiftError('TRANSFORM_CHANGED',
      `the transform (or the target keys, split or skipExpired setting that shape its output) changed since this migration started: the ${describeChange(stored, current)} differs from the one recorded in ${opts.stateDir}. Items already copied follow the old transform; going on would leave the target holding both`, {
        hint: 'restore the original transform; or re-copy every item under the new one while keeping the stream position: `dynashift run --rebackfill -c FILE` (then `dynashift verify --repair` removes target items only the old transform produced); or start over: remove the state folder and empty the target',
        exitCode: 2,
      });
  }
  if (!REBACKFILL_PHASES.includes(state.phase)) {
    throw new DynashiftError('TRANSFORM_CHANGED', `--rebackfill re-copies the target from the source, but this migration is in phase ${state.phase}: the target is already the system of record (or read from)`, {
      hint: 'roll back to phase in-sync first (`dynashift rollback`), or start a new migration with another "name"',
      exitCode: 2,
    });
  }
  for (const [name, src] of Object.entries(state.sources)) {
    const strategy = src.backfill.strategy;
    if (!strategyFor(strategy).readsTable) {
      throw new DynashiftError('TRANSFORM_CHANGED', `--rebackfill needs a backfill that reads the source now (scan or touch); source ${name} uses ${strategy}, whose snapshot is older than the stream checkpoints`, {
        hint: 'start over with the new transform: remove the state folder and empty the target, then run again',
        exitCode: 2,
      });
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
