import { hostname } from 'node:os';
import type { ResolvedConfig } from '../config/resolved-config.js';
import { PlanRefusedError, type DynashiftError } from '../errors.js';
import { sdkStreamsApi } from '../sources/stream/streams-api.js';
import { ControlChannel } from '../state/control-channel.js';
import { FileStateStore } from '../state/file-state-store.js';
import type { MigrationState, Phase, ProgressSnapshot } from '../state/migration-state.js';
import type { StateStore } from '../state/state-store.js';
import { FailurePolicy } from './failure-policy.js';
import type { Logger } from './logger.js';
import { buildPlan } from './plan.js';
import { startProtocol } from './protocol-start.js';
import { prepareReverse } from './reverse.js';
import { Backfill } from './run/backfill-actor.js';
import { Checkpointer } from './run/checkpointer.js';
import { ForwardReplication } from './run/forward-replication.js';
import { LiveControl } from './run/live-control.js';
import { Phases } from './run/phases.js';
import { Progress } from './run/progress.js';
import { Replication } from './run/replication.js';
import { ReverseReplication } from './run/reverse-replication.js';
import { openRunContext, type RunContext } from './run/run-context.js';
import { fingerprint } from './fingerprint.js';
import { SNAPSHOT_MARGIN_MS } from './snapshot.js';

export { SNAPSHOT_MARGIN_MS, fingerprint };

export interface RunOptions {
  untilSynced?: boolean;
  signal: AbortSignal;
  log: Logger;
  onProgress?: (progress: ProgressSnapshot) => void;
  /** Where the state lives. Default: the local state folder (`stateDir`). */
  store?: StateStore;
}

export interface RunResult {
  phase: Phase;
  synced: boolean;
  deadLetters: number;
  deadLetterFile: string;
  backfilledItems: number;
  appliedRecords: number;
}

/**
 * The runbook, top to bottom: inspect and refuse what can't work, create the targets, open the stream position,
 * back-fill the snapshot, then apply the stream until told to stop (or, with untilSynced, until caught up).
 */
export async function runMigration(config: ResolvedConfig, opts: RunOptions): Promise<RunResult> {
  const store = opts.store ?? new FileStateStore(config.stateDir);
  const lock = await store.lock();
  try {
    const plan = await buildPlan(config);
    if (plan.refusals.length > 0) throw new PlanRefusedError(plan.refusals);
    const ctx = await openRunContext(config, plan, opts.log);
    try {
      const { state } = await startProtocol(store, {
        config, plan, streams: (name) => sdkStreamsApi(ctx.sourceClients[name]!.streams), log: opts.log,
        stateWhere: `in ${store.location}`,
        startOverHint: 'restore the original config, or give this migration another "name" (or remove its state folder) to start over',
      });
      return await new Migration(ctx, state, store, opts).run();
    } finally {
      await Promise.all(Object.values(ctx.sinks).map((s) => s.close?.()));
    }
  } finally {
    await lock.release();
  }
}

/**
 * One run of a started migration. Its fields are its actors; `run()` is the order they act in. Who writes what
 * (docs/design.md, "The runtime"): the backfill its cursors, the appliers their shard checkpoints, replication and live
 * control the phase and cutover state, the failure policy the dead-letter file, and only the checkpointer the store.
 */
class Migration {
  private readonly stop = new AbortController();
  private readonly failures: FailurePolicy;
  private readonly phases: Phases;
  private readonly progress: Progress;
  private readonly backfill: Backfill;
  private readonly replication: Replication;
  private readonly control: LiveControl;
  private readonly checkpointer: Checkpointer;

  constructor(ctx: RunContext, private readonly state: MigrationState, private readonly store: StateStore, private readonly opts: RunOptions) {
    const { config } = ctx;
    const { log } = opts;
    this.failures = new FailurePolicy(store, config.onError, log);
    this.failures.count = state.deadLetters;
    const deadLetters = () => this.failures.count;
    this.phases = new Phases(state, log);
    this.progress = new Progress(state, deadLetters);
    const { applyStats: stats, backfillMeter, streamMeter } = this.progress;
    this.checkpointer = new Checkpointer({
      store, state, deadLetters, control: () => this.control.poll(), snapshot: () => this.progress.snapshot(this.replication),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    });
    this.backfill = new Backfill({
      ctx, sources: state.sources, failures: this.failures, meter: backfillMeter, phases: this.phases,
      flush: () => this.checkpointer.flush(), log,
    });
    const forward = new ForwardReplication({
      config, sources: state.sources, sourceClients: ctx.sourceClients, mapper: ctx.mapper, sinks: ctx.sinks,
      ttlAttributes: Object.fromEntries(Object.entries(ctx.plan.sources).map(([n, s]) => [n, s.ttlAttribute])),
      failures: this.failures, stats, meter: streamMeter, log,
    });
    const reverse = new ReverseReplication({
      config, positions: () => state.cutover?.reverse ?? {}, sourceClients: ctx.sourceClients, sourceKeys: ctx.sourceKeys,
      mapper: ctx.mapper, failures: this.failures, stats, meter: streamMeter, log,
    });
    this.replication = new Replication({ state, phases: this.phases, forward, reverse, stats, untilSynced: opts.untilSynced ?? false, log });
    const [sourceName, sourceRef] = Object.entries(config.sources)[0]!;
    this.control = new LiveControl({
      channel: new ControlChannel(config.stateDir), state, phases: this.phases, replication: this.replication, deadLetters,
      openReverse: (samples) => prepareReverse(config, samples, ctx.mapper),
      source: { client: ctx.sourceClients[sourceName]!.dynamodb, table: sourceRef.table }, log,
    });
  }

  async run(): Promise<RunResult> {
    const onAbort = () => this.stop.abort();
    this.opts.signal.addEventListener('abort', onAbort, { once: true });
    if (this.opts.signal.aborted) this.stop.abort();
    this.checkpointer.start();
    try {
      this.state.runner = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), heartbeatAt: new Date().toISOString() };
      await this.checkpointer.flush();
      const backfilled = await this.backfill.run(this.stop.signal);
      if (backfilled && !this.stop.signal.aborted) await this.replication.run(this.stop);
      return this.result();
    } catch (err) {
      this.stop.abort();
      if (this.state.runner) this.state.runner.halt = { code: (err as DynashiftError).code ?? 'ERROR', message: (err as Error).message };
      this.opts.log.error({ code: (err as DynashiftError).code }, 'migration halted');
      throw err;
    } finally {
      this.checkpointer.stop();
      this.opts.signal.removeEventListener('abort', onAbort);
      await this.checkpointer.final();
    }
  }

  private result(): RunResult {
    return {
      phase: this.state.phase,
      synced: this.replication.caughtUp,
      deadLetters: this.failures.count,
      deadLetterFile: this.store.deadLetterLocation(),
      backfilledItems: this.progress.backfilledItems(),
      appliedRecords: this.progress.applyStats.records,
    };
  }
}
