import { loadConfig } from '../../config/load-config.js';
import type { ResolvedConfig } from '../../config/resolved-config.js';
import { retryDeadLetters, type RetryOutcome } from '../../engine/dead-letter-retry.js';
import { retryWithTransform } from '../../engine/resume-check.js';
import { transformFingerprint } from '../../engine/snapshot.js';
import { DynashiftError } from '../../errors.js';
import { isUnresolved, type DeadLetter } from '../../state/dead-letters.js';
import { FileStateStore } from '../../state/file-state-store.js';

export interface DeadLetterFlags {
  config: string;
  all?: boolean;
  json?: boolean;
  reason?: string;
  acceptTransform?: boolean;
}

/** `dead-letters list`: one line per source item; unresolved ones only unless --all. Read-only, works during a run. */
export async function deadLettersListCommand(flags: DeadLetterFlags): Promise<number> {
  const config = await loadConfig(flags.config);
  const store = new FileStateStore(config.stateDir);
  const letters = store.deadLettersSync();
  const shown = flags.all ? letters : letters.filter(isUnresolved);
  const unresolved = letters.filter(isUnresolved).length;
  if (flags.json) {
    process.stdout.write(
      `${JSON.stringify({ file: store.deadLetterLocation(), unresolved, total: letters.length, deadLetters: shown.map(view) }, null, 2)}\n`,
    );
    return 0;
  }
  const out = [`${unresolved} unresolved of ${letters.length} dead-lettered item(s) in ${store.deadLetterLocation()}`];
  for (const l of shown) {
    const open = l.failures.filter((f) => !f.resolved);
    const state =
      open.length === 0
        ? `resolved by ${l.failures.at(-1)!.resolved!.by} at ${l.failures.at(-1)!.resolved!.at}${l.failures.at(-1)!.resolved!.reason ? ` (${l.failures.at(-1)!.resolved!.reason})` : ''}`
        : 'unresolved';
    out.push(`  ${l.id}  ${l.source} ${JSON.stringify(l.sourceKey)}  ${state}`);
    for (const f of open.length > 0 ? open : l.failures) {
      out.push(
        `      ${f.stage}${f.target ? ` → ${f.target}` : ''}${f.sequenceNumber ? ` record ${f.sequenceNumber}` : ''} at ${f.at}: [${f.error.code}] ${f.error.message}`,
      );
    }
  }
  if (unresolved > 0)
    out.push(
      'next: fix the cause, then `dynashift dead-letters retry` (with no run active; add --accept-transform when the fix is a change of the transform), or `dynashift dead-letters discard --reason TEXT ID…`',
    );
  process.stdout.write(`${out.join('\n')}\n`);
  return 0;
}

/** `dead-letters retry [ID…]`: re-read and apply each unresolved item (all of them when no id is given). */
export async function deadLettersRetryCommand(ids: string[], flags: DeadLetterFlags): Promise<number> {
  const config = await loadConfig(flags.config);
  const store = new FileStateStore(config.stateDir);
  if (!store.deadLettersSync().some(isUnresolved)) {
    process.stdout.write('✔ no unresolved dead letters to retry\n');
    return 0;
  }
  const lock = await lockForChange(store, 'retry', flags.config);
  try {
    await checkTransform(store, config, flags.acceptTransform === true);
    const letters = select(store.deadLettersSync(), ids, true);
    const outcomes = await retryDeadLetters(config, store, letters, (o) => printOutcome(o, flags.json === true));
    const failed = outcomes.filter((o) => !o.ok).length;
    if (flags.json)
      process.stdout.write(`${JSON.stringify({ retried: outcomes.length, resolved: outcomes.length - failed, failed, outcomes }, null, 2)}\n`);
    else
      process.stdout.write(
        `${failed === 0 ? '✔' : '✘'} ${outcomes.length - failed} of ${outcomes.length} resolved${failed ? '; the others stay in the dead-letter file (see above)' : ''}. Start \`dynashift run\` again to keep following the stream.\n`,
      );
    return failed === 0 ? 0 : 1;
  } finally {
    await lock.release();
  }
}

/**
 * A retry writes what the current transform makes of each item: refused with TRANSFORM_CHANGED when the transform is
 * not the one the migration recorded, unless --accept-transform records it (saved before anything is written, so a
 * later `run` resumes under it without another flag).
 */
async function checkTransform(store: FileStateStore, config: ResolvedConfig, acceptTransform: boolean): Promise<void> {
  const state = await store.load();
  if (!state) return;
  const before = JSON.stringify(state.transformFingerprint);
  const note = retryWithTransform(state, transformFingerprint(config), { acceptTransform, now: Date.now(), stateDir: config.stateDir });
  if (note) process.stderr.write(`! ${note}\n`);
  if (JSON.stringify(state.transformFingerprint) !== before) {
    state.updatedAt = new Date().toISOString();
    await store.save(state);
  }
}

/** `dead-letters discard --reason TEXT (ID… | --all)`: mark entries resolved without writing anything. */
export async function deadLettersDiscardCommand(ids: string[], flags: DeadLetterFlags): Promise<number> {
  if (!flags.reason?.trim()) {
    throw new DynashiftError('CONFIG_INVALID', 'discarding dead letters needs a reason', {
      hint: 'pass --reason "why these items need not reach the target"',
      exitCode: 2,
    });
  }
  if (ids.length === 0 && !flags.all) {
    throw new DynashiftError('CONFIG_INVALID', 'name the dead letters to discard', {
      hint: 'pass their ids (from `dynashift dead-letters list`), or --all',
      exitCode: 2,
    });
  }
  const config = await loadConfig(flags.config);
  const store = new FileStateStore(config.stateDir);
  const lock = await lockForChange(store, 'discard', flags.config);
  try {
    const letters = select(store.deadLettersSync(), ids, flags.all === true);
    const at = new Date().toISOString();
    await store.resolveDeadLetters(letters.map((l) => ({ id: l.id, at, by: 'discard' as const, reason: flags.reason!.trim() })));
    process.stdout.write(`✔ ${letters.length} dead letter(s) discarded: ${flags.reason!.trim()}\n`);
    return 0;
  } finally {
    await lock.release();
  }
}

/**
 * Retry and discard change what a running migration counts and may race its stream apply (a retried write landing
 * after a newer stream write of the same item). So they run only while no `dynashift run` holds the migration, and
 * hold its lock themselves so none starts meanwhile.
 */
async function lockForChange(store: FileStateStore, what: string, configPath: string) {
  const holder = store.holder();
  if (holder) {
    throw new DynashiftError(
      'STATE_LOCKED',
      `state: \`dynashift run\` is applying this migration (pid ${holder.pid} on ${holder.host}); a ${what} now could race its stream writes`,
      {
        hint: `stop it (kill -TERM ${holder.pid}), run \`dynashift dead-letters ${what} -c ${configPath}\`, then start \`dynashift run\` again — failures the run meets again and applies are resolved by the run itself`,
        details: { side: 'state' },
      },
    );
  }
  return store.lock();
}

function select(letters: DeadLetter[], ids: string[], allWhenNone: boolean): DeadLetter[] {
  const open = letters.filter(isUnresolved);
  if (ids.length === 0) return allWhenNone ? open : [];
  return ids.map((id) => {
    const matches = id.length >= 4 ? open.filter((l) => l.id.startsWith(id)) : [];
    if (matches.length !== 1) {
      throw new DynashiftError(
        'CONFIG_INVALID',
        matches.length === 0
          ? `no unresolved dead letter has id ${id}${id.length < 4 ? ' (give at least 4 characters)' : ''}`
          : `id ${id} matches ${matches.length} dead letters`,
        {
          hint: 'copy the id from `dynashift dead-letters list` (a unique prefix of 4 or more characters is enough)',
          exitCode: 2,
        },
      );
    }
    return matches[0]!;
  });
}

function printOutcome(o: RetryOutcome, json: boolean): void {
  if (json) return;
  process.stdout.write(`${o.ok ? '✔' : '✘'} ${o.id} ${o.source} ${JSON.stringify(o.sourceKey)}: ${o.message}\n`);
  if (o.warning) process.stdout.write(`  ! ${o.warning}\n`);
}

function view(l: DeadLetter) {
  return {
    id: l.id,
    source: l.source,
    sourceKey: l.sourceKey,
    resolved: !isUnresolved(l),
    failures: l.failures.map(({ ref: _ref, ...f }) => f),
  };
}
