import { randomUUID } from 'node:crypto';
import type { ResolvedConfig } from '../../config/resolved-config.js';
import { withClients } from '../../aws/clients.js';
import { sampleItems } from '../../aws/sample-items.js';
import { roleFor } from '../../aws/errors.js';
import type { AttributeMap } from '../../core/item.js';
import { ItemMapper } from '../../core/transform.js';
import { DynashiftError, type ErrorCode } from '../../errors.js';
import { applyControl, controlFailure, type ControlOutcome } from '../../engine/cutover.js';
import { enterPhase, finishNow } from '../../engine/phase-machine.js';
import { prepareReverse } from '../../engine/reverse.js';
import { completeDrain, drainReverse, waitForwardQuiet } from '../../engine/runner-drain.js';
import { runnerSync } from '../../engine/runner-sync.js';
import type { ControlRequest, ControlRequestKind } from '../../state/control-channel.js';
import type { DynamoDbStateStore, RunnerRuntime } from '../../state/dynamodb-state-store.js';
import type { MigrationState } from '../../state/migration-state.js';
import type { StateLock } from '../../state/state-store.js';
import { createLogger } from '../logger.js';
import { loadRunnerState, openRunnerStore, runnerViews } from './runner-state.js';

export interface RunnerControlFlags {
  force?: boolean;
  reverse?: boolean;
  quietSeconds?: number;
  timeoutSeconds?: number;
}

const say = (line: string) => process.stdout.write(`${line}\n`);

/**
 * `cutover reads|writes` and `rollback` on a migration the AWS runner runs (config `state.table`): no `dynashift run`
 * carries them out, so the command itself checks the runner's in-sync evidence, applies the same cutover state
 * machine (engine/cutover.ts) to the state in the state table under the migration lock, and carries out the drain a
 * switch of direction needs — waiting for the stream handler to go quiet (forward), or running reverse replication
 * itself until the target is quiet (rollback).
 */
export async function runnerControlCommand(kind: ControlRequestKind, flags: RunnerControlFlags, config: ResolvedConfig): Promise<number> {
  const store = openRunnerStore(config);
  const deadline = Date.now() + (flags.timeoutSeconds ?? 300) * 1000;
  let state = await loadRunnerState(store, config);
  const cut0 = state.cutover;
  // A drain an earlier command left unfinished (it timed out or was interrupted) is resumed, not asked for again.
  const resume =
    (kind === 'cutover-writes' && state.phase === 'writes-cutover' && cut0?.draining?.from === 'forward') ||
    ((kind === 'rollback' || kind === 'finish') && cut0?.draining?.from === 'reverse');
  if (!resume) {
    const outcome = await decide(kind, flags, config, store);
    say(`${outcome.ok ? '✔' : '✘'} ${kind.replace('-', ' ')}: ${outcome.message}`);
    if (!outcome.ok) throw refused(kind, outcome);
    state = (await store.load())!;
  } else {
    say(`… ${kind.replace('-', ' ')}: resuming the drain ${cut0!.draining!.from} → ${cut0!.draining!.to} begun at ${cut0!.draining!.since}`);
  }
  await carryOutDrain(config, store, deadline);
  return 0;
}

/** `finish` on the AWS runner's migration: stops replication for good (after any drain); returns the finished state. */
export async function runnerFinish(config: ResolvedConfig, flags: RunnerControlFlags): Promise<MigrationState> {
  const store = openRunnerStore(config);
  const state = await loadRunnerState(store, config);
  if (state.phase === 'finished') return state;
  if (!state.cutover?.draining) {
    const outcome = await decide('finish', flags, config, store);
    if (!outcome.ok) {
      say(`✘ finish: ${outcome.message}`);
      throw refused('finish', outcome);
    }
    say(`… ${outcome.message}`);
  }
  await carryOutDrain(config, store, Date.now() + (flags.timeoutSeconds ?? 300) * 1000);
  const lock = await lockSoon(store);
  try {
    const fresh = (await store.load())!;
    const cut = (fresh.cutover ??= { direction: 'forward', history: [] });
    if (fresh.phase !== 'finished') {
      cut.direction = 'none';
      cut.finishRequested = true;
      cut.finishedAt ??= new Date().toISOString();
      cut.history.push({ at: cut.finishedAt, event: 'finished: the stream handler stops applying' });
      if (fresh.phase === 'writes-cutover' || fresh.phase === 'reads-cutover' || fresh.phase === 'in-sync' || fresh.phase === 'catching-up')
        enterPhase(fresh, 'finished');
      else finishNow(fresh);
      fresh.updatedAt = new Date().toISOString();
      await store.save(fresh);
    }
    say('✔ replication stopped: the migration is finished (the stream handler acknowledges batches without applying them).');
    return fresh;
  } finally {
    await lock.release();
  }
}

/** Applies the request to the stored state under the lock, after the in-sync check the cutover steps need. */
async function decide(
  kind: ControlRequestKind,
  flags: RunnerControlFlags,
  config: ResolvedConfig,
  store: DynamoDbStateStore,
): Promise<ControlOutcome> {
  const request: ControlRequest = {
    id: randomUUID(),
    kind,
    at: new Date().toISOString(),
    options: {
      ...(flags.force ? { force: true } : {}),
      ...(flags.reverse === false ? { noReverse: true } : {}),
      ...(flags.quietSeconds !== undefined ? { quietMs: flags.quietSeconds * 1000 } : {}),
    },
  };
  const moving = kind === 'cutover-reads' || kind === 'cutover-writes';
  // The in-sync check reads only: a refusal needs no lock (the runner's Replay task may hold it meanwhile).
  const checked = moving ? await checkSync(kind, flags, config, store) : undefined;
  const lock = await lockSoon(store);
  try {
    const state = (await store.load())!;
    const sync = moving ? runnerSync(state, await runnerViews(store, state, config), config.state!) : undefined;
    if (checked && sync && !sync.inSync && !flags.force) {
      say(`✘ ${kind.replace('-', ' ')}: ${sync.reason}`);
      throw sync.error;
    }
    const lagMs = Math.max(0, ...(await store.streamProgress()).map((p) => p.lastAgeMs ?? 0));
    // The runner's tasks move the phase up to catching-up; in-sync is what this evidence shows.
    if (sync?.inSync && state.phase === 'catching-up') enterPhase(state, 'in-sync');
    const cut = (state.cutover ??= { direction: 'forward', history: [] });
    let runtime: RunnerRuntime | undefined;
    let outcome: ControlOutcome;
    try {
      outcome = await applyControl(request, {
        state,
        cut,
        caughtUp: sync?.inSync === true,
        direction: cut.draining ? cut.draining.from : cut.direction,
        deadLetters: state.deadLetters,
        lagMs,
        openReverse: async () => {
          runtime ??= await requireRuntime(store);
          const mapper = new ItemMapper({ transform: config.transform, targets: runtime.targetKeys, singleTarget: config.singleTarget });
          return prepareReverse(config, await sampleSource(config), mapper);
        },
      });
    } catch (err) {
      outcome = controlFailure(err, 'see `dynashift status`');
    }
    if (outcome.ok) {
      cut.history.push({ at: new Date().toISOString(), event: kind });
      // A drain towards the direction already running needs no switch.
      if (cut.draining && cut.draining.from === cut.draining.to) completeDrain(cut);
    }
    state.lastControl = { id: request.id, request: kind, ...outcome, at: new Date().toISOString() };
    state.updatedAt = new Date().toISOString();
    await store.save(state);
    return outcome;
  } finally {
    await lock.release();
  }
}

/**
 * Refuses a move while the runner is not in sync (unless --force). Only a move out of the phases before the cutover
 * (and `cutover writes` after reads) needs the evidence; true when the check applied.
 */
async function checkSync(kind: ControlRequestKind, flags: RunnerControlFlags, config: ResolvedConfig, store: DynamoDbStateStore): Promise<boolean> {
  const state = await loadRunnerState(store, config);
  const applies =
    ['new', 'backfilling', 'catching-up', 'in-sync'].includes(state.phase) || (kind === 'cutover-writes' && state.phase === 'reads-cutover');
  if (!applies || flags.force) return false;
  const sync = runnerSync(state, await runnerViews(store, state, config), config.state!);
  if (!sync.inSync) {
    say(`✘ ${kind.replace('-', ' ')}: ${sync.reason}`);
    throw sync.error;
  }
  return true;
}

/** Carries out a pending drain: waits for the stream handler to go quiet, or runs reverse replication until the target is. */
async function carryOutDrain(config: ResolvedConfig, store: DynamoDbStateStore, deadline: number): Promise<void> {
  const state = (await store.load())!;
  const draining = state.cutover?.draining;
  if (!draining) return;
  if (draining.from === 'forward') {
    say(`… waiting until the stream handler has applied no source change for ${Math.round(draining.quietMs / 1000)} s (the source drains)`);
    if (!(await waitForwardQuiet(store, draining, deadline))) {
      throw new DynashiftError('NOT_RUNNING', 'the stream handler still applies source changes: the source is not quiet yet', {
        hint: 'stop the application writes to the source, then run the same command again (it resumes the drain), or raise --timeout-seconds',
        side: 'source',
      });
    }
    const lock = await lockSoon(store);
    try {
      const fresh = (await store.load())!;
      const cut = fresh.cutover!;
      if (cut.draining?.since === draining.since && cut.draining.from === 'forward') {
        completeDrain(cut);
        fresh.updatedAt = new Date().toISOString();
        await store.save(fresh);
      }
      say(
        `✔ the source is drained: forward replication stopped (${cut.direction === 'reverse' ? 'reverse replication runs at `dynashift rollback`, from the positions recorded now' : 'no reverse replication'})`,
      );
    } finally {
      await lock.release();
    }
    return;
  }
  say(`… applying the target's writes to the source until the target has been quiet for ${Math.round(draining.quietMs / 1000)} s`);
  const lock = await lockSoon(store);
  try {
    const fresh = (await store.load())!;
    if (fresh.cutover?.draining?.from !== 'reverse') return;
    const log = createLogger();
    await drainReverse({ config, store, runtime: await requireRuntime(store), state: fresh, log, deadline });
    say(
      `✔ the source has every write made to the target: ${fresh.cutover.direction === 'forward' ? 'the stream handler applies the source stream again' : 'replication stopped'}`,
    );
  } finally {
    await lock.release();
  }
}

/**
 * Takes the migration lock, waiting while a Step Functions task holds it (Prepare, Complete and each ReplaySpool
 * invocation hold it for at most one Lambda invocation).
 */
async function lockSoon(store: DynamoDbStateStore, waitMs = 60_000): Promise<StateLock> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      return await store.lock();
    } catch (err) {
      if (!(err instanceof DynashiftError) || err.code !== 'STATE_LOCKED' || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

async function requireRuntime(store: DynamoDbStateStore): Promise<RunnerRuntime> {
  const runtime = await store.loadRuntime();
  if (!runtime) {
    throw new DynashiftError('NOT_RUNNING', 'the AWS runner has not recorded its runtime facts (key schemas) for this migration', {
      hint: 'start an execution of the state machine: its Prepare step records them',
      side: 'state',
    });
  }
  return runtime;
}

/** Source items for prepareReverse's check that the inverse transform rebuilds them. */
async function sampleSource(config: ResolvedConfig): Promise<AttributeMap[]> {
  const [name, ref] = Object.entries(config.sources)[0]!;
  return withClients(ref, roleFor('source', name, ref), (c) => sampleItems(c.dynamodb, ref.table));
}

function refused(kind: string, outcome: { message: string; code?: string; hint?: string }): DynashiftError {
  return new DynashiftError((outcome.code as ErrorCode | undefined) ?? 'CUTOVER_REFUSED', `${kind.replace('-', ' ')} refused: ${outcome.message}`, {
    hint: outcome.hint ?? 'see `dynashift status` for the phase and the next step',
    exitCode: 2,
    side: 'state',
  });
}
