import { hostname } from 'node:os';
import type { ResolvedConfig } from '../config/resolved-config.js';
import { PlanRefusedError, type DynashiftError } from '../errors.js';
import { destroyClients } from '../aws/clients.js';
import { SNAPSHOT_MARGIN_MS } from '../core/constants.js';
import { sdkStreamsApi } from '../sources/stream/streams-api.js';
import { ControlChannel } from '../state/control-channel.js';
import { FileStateStore } from '../state/file-state-store.js';
import type { MigrationState } from '../state/migration-state.js';
import type { StateStore } from '../state/state-store.js';
import { FailurePolicy } from './failure-policy.js';
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
import type { RunOptions, RunResult } from './run/run-options.js';
import { SnapshotGates } from './run/snapshot-gates.js';
import { TestRetention } from './run/test-retention.js';
import { fingerprint } from './snapshot.js';
import { runActivity } from './table-activity.js';
import { runController } from '../core/run-signal.js';

export { SNAPSHOT_MARGIN_MS, fingerprint };
export type { RunOptions, RunResult };

/**
 * The runbook, top to bottom: read the state, inspect and refuse what can't work, create the targets, start the
 * protocol (open the stream position, record the snapshot start; or check a resume is allowed), then run the
 * migration's actors: back-fill the snapshot while (or before) applying the stream, until told to stop (or, with
 * untilSynced, until caught up).
 */
export async function runMigration(config: ResolvedConfig, opts: RunOptions): Promise<RunResult> {
  const { log } = opts;
  const store = opts.store ?? new FileStateStore(config.stateDir);
  const lock = await store.lock();
  try {
    // Read the state first: a state file that can't be used stops the run before a target is created.
    const existing = await store.load();
    const plan = await buildPlan(config);
    if (plan.refusals.length > 0) throw new PlanRefusedError(plan.refusals);
    const ctx = await openRunContext(config, plan, log);
    try {
      const { state } = await startProtocol(existing, {
        config,
        plan,
        log,
        rebackfill: opts.rebackfill === true,
        acceptTransform: opts.acceptTransform === true,
        segments: plan.strategy.segments,
        withStreams: (name, use) => use(sdkStreamsApi(ctx.sourceClients[name]!.streams)),
        stateWhere: config.stateDir,
        startOverHint: 'restore the original config, or give this migration another "name" (or remove its state folder) to start over',
      });
      const failures = new FailurePolicy(store, config.onError, log);
      await failures.load(); // open dead letters: the count, no second entry on resume, resolution when re-applied
      return await new Migration(ctx, state, store, failures, opts).run();
    } finally {
      await Promise.all(Object.values(ctx.sinks).map((s) => s.close?.()));
      for (const clients of Object.values(ctx.sourceClients)) destroyClients(clients);
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
  private readonly stop = runController();
  private readonly phases: Phases;
  private readonly progress: Progress;
  private readonly gates: SnapshotGates;
  private readonly backfill: Backfill;
  private readonly replication: Replication;
  private readonly control: LiveControl;
  private readonly checkpointer: Checkpointer;
  /** The stream is applied while the backfill runs (the plan says so, and the targets take more than a snapshot). */
  private readonly duringBackfill: boolean;
  private readonly testRetention: TestRetention | undefined;

  constructor(
    ctx: RunContext,
    private readonly state: MigrationState,
    private readonly store: StateStore,
    private readonly failures: FailurePolicy,
    private readonly opts: RunOptions,
  ) {
    const { config } = ctx;
    const { log } = opts;
    const deadLetters = () => failures.count;
    this.phases = new Phases(state, log);
    this.progress = new Progress(state, deadLetters, () => runActivity(ctx, state));
    const { applyStats: stats, backfillMeter, streamMeter } = this.progress;
    this.checkpointer = new Checkpointer({
      store,
      state,
      deadLetters,
      control: () => this.control.poll(),
      snapshot: () => this.progress.snapshot(this.replication),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    });
    this.gates = new SnapshotGates(state.sources);
    this.backfill = new Backfill({
      ctx,
      sources: state.sources,
      failures,
      meter: backfillMeter,
      phases: this.phases,
      flush: () => this.checkpointer.flush(),
      gates: this.gates,
      log,
    });
    const ms = opts.testStreamRetentionMs;
    this.testRetention = ms === undefined ? undefined : new TestRetention(ms, state.sources, ctx.sourceClients);
    const forward = new ForwardReplication({
      config,
      sources: state.sources,
      sourceClients: ctx.sourceClients,
      sourceKeys: ctx.sourceKeys,
      gates: this.gates,
      ...(this.testRetention ? { testStreams: this.testRetention } : {}),
      mapper: ctx.mapper,
      sinks: ctx.sinks,
      ttlAttributes: Object.fromEntries(Object.entries(ctx.plan.sources).map(([n, s]) => [n, s.ttlAttribute])),
      failures,
      stats,
      meter: streamMeter,
      log,
    });
    const reverse = new ReverseReplication({
      config,
      positions: () => state.cutover?.reverse ?? {},
      sourceClients: ctx.sourceClients,
      sourceKeys: ctx.sourceKeys,
      mapper: ctx.mapper,
      failures,
      stats,
      meter: streamMeter,
      log,
    });
    this.replication = new Replication({
      state,
      phases: this.phases,
      forward,
      reverse,
      stats,
      untilSynced: opts.untilSynced ?? false,
      log,
      snapshotComplete: !this.backfill.pending(),
    });
    const [sourceName, sourceRef] = Object.entries(config.sources)[0]!;
    this.control = new LiveControl({
      channel: new ControlChannel(config.stateDir),
      state,
      phases: this.phases,
      replication: this.replication,
      deadLetters,
      openReverse: (samples) => prepareReverse(config, samples, ctx.mapper),
      source: { client: ctx.sourceClients[sourceName]!.dynamodb, table: sourceRef.table },
      log,
    });
    // The stream is applied from the first second, while the backfill runs (stream.duringBackfill, the default), unless
    // the targets take a snapshot only; pages and stream writes meet in the gates (docs/consistency.md, "The gate's claim").
    this.duringBackfill = ctx.plan.stream.duringBackfill && !ctx.plan.writeOnceOnly;
  }

  async run(): Promise<RunResult> {
    const onAbort = () => this.stop.abort();
    this.opts.signal.addEventListener('abort', onAbort, { once: true });
    if (this.opts.signal.aborted) this.stop.abort();
    this.checkpointer.start();
    this.testRetention?.start();
    try {
      this.state.runner = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), heartbeatAt: new Date().toISOString() };
      await this.checkpointer.flush();
      if (this.duringBackfill && this.backfill.pending()) await this.backfillWhileApplying();
      else if ((await this.backfill.run(this.stop.signal)) && !this.stop.signal.aborted) {
        this.replication.snapshotComplete();
        await this.replication.run(this.stop);
      }
      return this.result();
    } catch (err) {
      this.stop.abort();
      if (this.state.runner) this.state.runner.halt = { code: (err as DynashiftError).code ?? 'ERROR', message: (err as Error).message };
      this.opts.log.error({ code: (err as DynashiftError).code }, 'migration halted');
      throw err;
    } finally {
      this.testRetention?.stop();
      this.checkpointer.stop();
      this.opts.signal.removeEventListener('abort', onAbort);
      await this.checkpointer.final();
    }
  }

  /** The backfill and forward replication at once; in sync only once the snapshot is complete. */
  private async backfillWhileApplying(): Promise<void> {
    this.gates.open();
    this.phases.enter('backfilling');
    const replication = this.replication.run(this.stop);
    // Its failure (a stream gap) stops the backfill through the run's signal; it is rethrown below, once awaited.
    replication.catch(() => {});
    let backfilled = false;
    try {
      backfilled = await this.backfill.run(this.stop.signal);
    } catch (err) {
      this.stop.abort();
      await replication.catch(() => {});
      throw err;
    } finally {
      this.gates.close();
    }
    if (backfilled && !this.stop.signal.aborted) this.replication.snapshotComplete();
    else this.stop.abort();
    await replication;
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
