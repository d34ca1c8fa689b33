import { createInterface } from 'node:readline/promises';
import { loadConfig } from '../../config/load-config.js';
import { DynashiftError, type ErrorCode } from '../../errors.js';
import { cloudWatchMetrics } from '../../aws/table-traffic.js';
import { deleteSources } from '../../engine/delete-source.js';
import { ControlChannel, type ControlRequest, type ControlRequestKind } from '../../state/control-channel.js';
import { FileStateStore } from '../../state/file-state-store.js';
import type { MigrationState } from '../../state/migration-state.js';
import { finishNow } from '../../engine/phase-machine.js';
import type { ResolvedConfig } from '../../config/resolved-config.js';
import { runnerControlCommand, runnerFinish } from './runner-control.js';

export interface ControlFlags {
  config: string;
  force?: boolean;
  reverse?: boolean;
  quietSeconds?: number;
  timeoutSeconds?: number;
}

/** `cutover reads`, `cutover writes`, `rollback`: a live command the running migration carries out. */
export async function controlCommand(kind: ControlRequestKind, flags: ControlFlags): Promise<number> {
  const config = await loadConfig(flags.config);
  // The AWS runner's migration (config `state.table`): the command carries out the request itself.
  if (config.state) return runnerControlCommand(kind, flags, config);
  const store = new FileStateStore(config.stateDir);
  const state = await store.load();
  if (!state) throw notStarted();
  if (!store.holder()) {
    throw new DynashiftError('NOT_RUNNING', `no \`dynashift run\` is active for migration ${config.name}`, {
      hint: `start it in another terminal (dynashift run -c ${flags.config}) and try again: it carries out the ${kind.replace('-', ' ')} and keeps replicating afterwards`,
    });
  }
  const request = new ControlChannel(config.stateDir).send(kind, {
    ...(flags.force ? { force: true } : {}),
    ...(flags.reverse === false ? { noReverse: true } : {}),
    ...(flags.quietSeconds !== undefined ? { quietMs: flags.quietSeconds * 1000 } : {}),
  });
  const outcome = await waitForOutcome(store, request, (flags.timeoutSeconds ?? 60) * 1000);
  process.stdout.write(`${outcome.ok ? '✔' : '✘'} ${kind.replace('-', ' ')}: ${outcome.message}\n`);
  if (!outcome.ok) throw refused(kind, outcome);
  return 0;
}

export interface FinishFlags {
  config: string;
  deleteSource?: boolean;
  yes?: boolean;
  force?: boolean;
  quietSeconds?: number;
  windowMinutes?: number;
  timeoutSeconds?: number;
}

/** `finish`: stop replication for good, then (with --delete-source) delete the old table after a traffic check. */
export async function finishCommand(flags: FinishFlags): Promise<number> {
  const config = await loadConfig(flags.config);
  const say = (line: string) => process.stdout.write(`${line}\n`);
  const state = config.state ? await runnerFinish(config, flags) : await finishLocal(config, flags, say);
  if (!flags.deleteSource) return 0;
  const deleted = await deleteSources(config, state, {
    windowMinutes: flags.windowMinutes ?? 60,
    force: flags.force === true,
    metrics: (name) => cloudWatchMetrics(config.sources[name]!),
    confirm: (question) =>
      confirm(
        question,
        flags.yes === true,
        Object.values(config.sources).map((s) => s.table),
      ),
    say,
  });
  return deleted.length === Object.keys(config.sources).length ? 0 : 1;
}

/** `finish` on the state folder: asks the running `dynashift run`, or records the end itself when none runs. */
async function finishLocal(config: ResolvedConfig, flags: FinishFlags, say: (line: string) => void): Promise<MigrationState> {
  const store = new FileStateStore(config.stateDir);
  let state = await store.load();
  if (!state) throw notStarted();
  if (state.phase !== 'finished') {
    if (store.holder()) {
      const request = new ControlChannel(config.stateDir).send('finish', {
        ...(flags.force ? { force: true } : {}),
        ...(flags.quietSeconds !== undefined ? { quietMs: flags.quietSeconds * 1000 } : {}),
      });
      const outcome = await waitForOutcome(store, request, 60_000);
      if (!outcome.ok) {
        say(`✘ finish: ${outcome.message}`);
        throw refused('finish', outcome);
      }
      say(`… ${outcome.message}`);
      state = await waitForPhase(store, 'finished', (flags.timeoutSeconds ?? 300) * 1000);
    } else {
      state = await finishOffline(store, state, flags.force === true);
    }
    say('✔ replication stopped: the migration is finished.');
  }
  return state;
}

/** No runner: record the end directly (holding the lock so no run starts meanwhile). */
async function finishOffline(store: FileStateStore, state: MigrationState, force: boolean): Promise<MigrationState> {
  if (state.phase !== 'writes-cutover' && !force) {
    throw new DynashiftError('CUTOVER_REFUSED', `finish comes after \`cutover writes\` (now ${state.phase})`, {
      hint: 'run `dynashift cutover writes` first (with `dynashift run` going), or pass --force to end the migration anyway',
      exitCode: 2,
    });
  }
  const lock = await store.lock();
  try {
    const fresh = (await store.load())!;
    const cut = (fresh.cutover ??= { direction: 'forward', history: [] });
    const now = new Date().toISOString();
    cut.finishRequested = true;
    cut.direction = 'none';
    delete cut.draining;
    cut.finishedAt = now;
    cut.history.push({ at: now, event: 'finish (no run active)' });
    finishNow(fresh);
    fresh.updatedAt = now;
    await store.save(fresh);
    return fresh;
  } finally {
    await lock.release();
  }
}

async function confirm(question: string, yes: boolean, tables: string[]): Promise<boolean> {
  if (yes) return true;
  if (!process.stdin.isTTY) {
    throw new DynashiftError('CONFIRMATION_REQUIRED', 'deleting a table needs confirmation and there is no terminal to ask on', {
      hint: 'pass --yes to confirm',
      exitCode: 2,
      side: 'source',
    });
  }
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    const answer = (await rl.question(question)).trim();
    return tables.includes(answer) && question.includes(answer);
  } finally {
    rl.close();
  }
}

/** A refusal of the running migration, as an error with its code and fix (exit 2); the ✘ line went to stdout already. */
function refused(kind: string, outcome: { message: string; code?: string; hint?: string }): DynashiftError {
  return new DynashiftError((outcome.code as ErrorCode | undefined) ?? 'CUTOVER_REFUSED', `${kind.replace('-', ' ')} refused: ${outcome.message}`, {
    hint: outcome.hint ?? 'see `dynashift status` for the phase and the next step',
    exitCode: 2,
  });
}

async function waitForOutcome(
  store: FileStateStore,
  request: ControlRequest,
  timeoutMs: number,
): Promise<{ ok: boolean; message: string; code?: string; hint?: string }> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const state = await store.load();
    if (state?.lastControl?.id === request.id) return state.lastControl;
    if (!store.holder())
      throw new DynashiftError('NOT_RUNNING', 'the running migration stopped before handling the request', {
        hint: 'start `dynashift run` again and retry',
      });
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new DynashiftError('NOT_RUNNING', `the running migration did not answer within ${Math.round(timeoutMs / 1000)} s`, {
    hint: 'check its log; retry with --timeout-seconds',
  });
}

async function waitForPhase(store: FileStateStore, phase: string, timeoutMs: number): Promise<MigrationState> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = (await store.load())!;
    if (state.phase === phase) return state;
    if (Date.now() > deadline)
      throw new DynashiftError('NOT_RUNNING', `phase ${phase} not reached within ${Math.round(timeoutMs / 1000)} s (now ${state.phase})`, {
        hint: "check the run's log",
      });
    await new Promise((r) => setTimeout(r, 250));
  }
}

function notStarted(): DynashiftError {
  return new DynashiftError('NOT_RUNNING', 'this migration has not started', { hint: 'run `dynashift run -c FILE` first' });
}
