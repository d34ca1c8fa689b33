import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import type { ResolvedConfig } from '../config/resolved-config.js';
import { DynashiftError, PlanRefusedError, StreamGapError } from '../errors.js';
import { clientsFor, type TableClients } from '../aws/clients.js';
import { systemClock } from '../core/clock.js';
import { RateLimiter, RateMeter } from '../core/rate-limiter.js';
import { ItemMapper } from '../core/transform.js';
import type { KeySchema } from '../core/item.js';
import { driverFor } from '../sinks/drivers.js';
import type { TargetReader } from '../sinks/driver.js';
import type { Sink } from '../sinks/sink.js';
import { ScanSource } from '../sources/scan/scan-source.js';
import { openStreamPosition } from '../sources/stream/open-position.js';
import { StreamReader } from '../sources/stream/stream-reader.js';
import { sdkStreamsApi } from '../sources/stream/streams-api.js';
import { FileStateStore } from '../state/file-state-store.js';
import type { MigrationState, Phase, ProgressSnapshot } from '../state/migration-state.js';
import { runBackfill } from './backfill.js';
import { changeApplier, type ApplyStats } from './catch-up.js';
import { FailurePolicy } from './failure-policy.js';
import type { Logger } from './logger.js';
import { buildPlan, type Plan } from './plan.js';

/**
 * Changes older than the snapshot start by more than this are already in what a consistent Scan reads. The margin
 * covers ApproximateCreationDateTime's rounding (a second on AWS, a minute on DynamoDB Local) and clock skew.
 */
export const SNAPSHOT_MARGIN_MS = 5 * 60_000;

export interface RunOptions {
  untilSynced?: boolean;
  signal: AbortSignal;
  log: Logger;
  onProgress?: (progress: ProgressSnapshot) => void;
}

export interface RunResult {
  phase: Phase;
  synced: boolean;
  deadLetters: number;
  deadLetterFile: string;
  backfilledItems: number;
  appliedRecords: number;
}

interface Context {
  config: ResolvedConfig;
  plan: Plan;
  sourceClients: Record<string, TableClients>;
  sourceKeys: Record<string, KeySchema>;
  sinks: Record<string, Sink & TargetReader>;
  mapper: ItemMapper;
}

/**
 * The runbook, top to bottom: inspect and refuse what can't work, create the targets, open the stream position,
 * back-fill the snapshot, then apply the stream until told to stop (or, with untilSynced, until caught up).
 */
export async function runMigration(config: ResolvedConfig, opts: RunOptions): Promise<RunResult> {
  const { log } = opts;
  const store = new FileStateStore(config.stateDir);
  const lock = await store.lock();
  try {
    const plan = await buildPlan(config);
    if (plan.refusals.length > 0) throw new PlanRefusedError(plan.refusals);
    const ctx = await prepareTargets(config, plan, log);
    const state = (await store.load()) ?? (await initState(ctx, log));
    checkResumable(ctx, state);
    const failures = new FailurePolicy(store, config.onError, log);
    failures.count = state.deadLetters;

    const run = new RunLoop(ctx, state, store, failures, opts);
    return await run.execute();
  } finally {
    await lock.release();
  }
}

async function prepareTargets(config: ResolvedConfig, plan: Plan, log: Logger): Promise<Context> {
  const sinks: Record<string, Sink & TargetReader> = {};
  const targetKeys: Record<string, KeySchema> = {};
  for (const [name, target] of Object.entries(config.targets)) {
    const t = plan.targets[name]!;
    const driver = driverFor(target);
    if (t.willCreate) log.info({ target: name, table: target.table, kind: driver.kind }, 'creating target');
    await driver.prepare(name, target, t.inspection);
    targetKeys[name] = t.keySchema!;
    sinks[name] = driver.open(name, target, {
      keySchema: t.keySchema!, concurrency: config.write.concurrency,
      ...(config.write.maxWriteUnitsPerSecond ? { maxWriteUnitsPerSecond: config.write.maxWriteUnitsPerSecond } : {}),
    });
  }
  const sourceClients: Record<string, TableClients> = {};
  const sourceKeys: Record<string, KeySchema> = {};
  for (const [name, ref] of Object.entries(config.sources)) {
    sourceClients[name] = clientsFor(ref);
    sourceKeys[name] = plan.sources[name]!.keySchema!;
  }
  const mapper = new ItemMapper({ transform: config.transform, targets: targetKeys, singleTarget: config.singleTarget });
  return { config, plan, sourceClients, sourceKeys, sinks, mapper };
}

/** A fresh migration: the stream position is opened before the snapshot starts, and both are recorded. */
async function initState(ctx: Context, log: Logger): Promise<MigrationState> {
  const now = new Date().toISOString();
  const state: MigrationState = {
    version: 1, migration: ctx.config.name, configFingerprint: fingerprint(ctx.config), createdAt: now, updatedAt: now,
    phase: 'new', sources: {}, deadLetters: 0,
  };
  for (const [name, ref] of Object.entries(ctx.config.sources)) {
    const info = ctx.plan.sources[name]!;
    const stream = await openStreamPosition(sdkStreamsApi(ctx.sourceClients[name]!.streams), info.stream.arn!, info.stream.viewType!, Date.now());
    const startedAt = Date.now();
    if (ctx.config.backfill.strategy === 'scan') stream.skipBefore = startedAt - SNAPSHOT_MARGIN_MS;
    state.sources[name] = {
      table: ref.table,
      stream,
      backfill: {
        strategy: ctx.config.backfill.strategy, startedAt: new Date(startedAt).toISOString(), partitions: {}, itemsWritten: 0, bytesRead: 0,
        estimatedItems: info.itemCount,
        ...(ctx.config.backfill.strategy === 'none' ? { completedAt: new Date(startedAt).toISOString() } : {}),
      },
    };
    log.info({ source: name, stream: info.stream.arn, shards: Object.keys(stream.shards).length }, 'stream position opened');
  }
  return state;
}

function checkResumable(ctx: Context, state: MigrationState): void {
  if (state.configFingerprint !== fingerprint(ctx.config)) {
    throw new DynashiftError('STATE_CONFIG_MISMATCH',
      `the state in ${ctx.config.stateDir} belongs to a migration with other tables or backfill segments`, {
        hint: 'restore the original config, or give this migration another "name" (or remove its state folder) to start over',
      });
  }
  for (const [name, src] of Object.entries(state.sources)) {
    const current = ctx.plan.sources[name]?.stream.arn;
    if (current !== src.stream.streamArn) {
      throw new StreamGapError(`The stream of source ${src.table} changed since the migration started (${src.stream.streamArn} → ${current ?? 'none'}): writes made while it was disabled were never captured.`);
    }
  }
}

export function fingerprint(config: ResolvedConfig): string {
  const shape = {
    sources: Object.fromEntries(Object.entries(config.sources).map(([n, s]) => [n, [s.table, s.region ?? '', s.endpoint ?? '']])),
    targets: Object.fromEntries(Object.entries(config.targets).map(([n, t]) => [n, [t.table, t.region ?? '', t.endpoint ?? '']])),
    backfill: [config.backfill.strategy, config.backfill.segments],
  };
  return createHash('sha256').update(JSON.stringify(shape)).digest('hex').slice(0, 16);
}

/** Owns the live part of a run: the phases, the periodic state flush, progress and shutdown. */
class RunLoop {
  private dirty = true;
  private readonly backfillMeter = new RateMeter(systemClock);
  private readonly streamMeter = new RateMeter(systemClock);
  private readonly applyStats: ApplyStats = { records: 0, skipped: 0, writes: 0 };
  private readers: { source: string; reader: StreamReader }[] = [];
  private caughtUp = false;
  private readonly stop = new AbortController();

  constructor(
    private readonly ctx: Context,
    private readonly state: MigrationState,
    private readonly store: FileStateStore,
    private readonly failures: FailurePolicy,
    private readonly opts: RunOptions,
  ) {}

  async execute(): Promise<RunResult> {
    const { log } = this.opts;
    const onAbort = () => this.stop.abort();
    this.opts.signal.addEventListener('abort', onAbort, { once: true });
    if (this.opts.signal.aborted) this.stop.abort();
    const ticker = setInterval(() => void this.tick(), 1000);
    try {
      this.state.runner = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), heartbeatAt: new Date().toISOString() };
      await this.flush();
      const backfilled = await this.backfill();
      if (backfilled && !this.stop.signal.aborted) await this.catchUp();
      return this.result();
    } catch (err) {
      this.stop.abort();
      if (this.state.runner) this.state.runner.halt = { code: (err as DynashiftError).code ?? 'ERROR', message: (err as Error).message };
      log.error({ code: (err as DynashiftError).code }, 'migration halted');
      throw err;
    } finally {
      clearInterval(ticker);
      this.opts.signal.removeEventListener('abort', onAbort);
      this.state.deadLetters = this.failures.count;
      this.state.progress = this.snapshot();
      if (this.state.runner) this.state.runner.heartbeatAt = new Date().toISOString();
      await this.store.save({ ...this.state, updatedAt: new Date().toISOString() });
    }
  }

  private async backfill(): Promise<boolean> {
    const pending = Object.entries(this.state.sources).filter(([, s]) => s.backfill.strategy === 'scan' && !s.backfill.completedAt);
    if (pending.length === 0) return true;
    this.setPhase('backfilling');
    const { config } = this.ctx;
    const results = await Promise.all(pending.map(async ([name, src]) => {
      const info = this.ctx.plan.sources[name]!;
      const ceiling = config.backfill.maxReadUnitsPerSecond
        ?? (info.billingMode === 'PROVISIONED' && info.readCapacityUnits ? info.readCapacityUnits * config.backfill.readShare : Infinity);
      const source = new ScanSource({
        name, client: this.ctx.sourceClients[name]!.dynamodb, table: src.table, totalSegments: config.backfill.segments,
        pageSize: config.backfill.pageSize, consistentRead: config.backfill.consistentRead,
        limiter: new RateLimiter(ceiling, systemClock), meter: new RateMeter(systemClock),
      });
      const done = await runBackfill({
        source, sourceName: name, sourceKeySchema: this.ctx.sourceKeys[name]!, mapper: this.ctx.mapper, sinks: this.ctx.sinks,
        state: src.backfill, concurrency: config.backfill.concurrency, failures: this.failures,
        onProgress: (items) => this.backfillMeter.add(items), onCheckpoint: () => { this.dirty = true; }, log: this.opts.log,
      }, this.stop.signal);
      if (done) {
        src.backfill.completedAt = new Date().toISOString();
        this.opts.log.info({ source: name, items: src.backfill.itemsWritten }, 'backfill complete');
      }
      return done;
    }));
    await this.flush();
    return results.every(Boolean);
  }

  private async catchUp(): Promise<void> {
    this.setPhase('catching-up');
    const { config } = this.ctx;
    const startedAt = Date.now();
    this.readers = Object.entries(this.state.sources).map(([name, src]) => ({
      source: name,
      reader: new StreamReader({
        api: sdkStreamsApi(this.ctx.sourceClients[name]!.streams), source: name, state: src.stream,
        onCheckpoint: () => { this.dirty = true; },
        pollIntervalMs: config.stream.pollIntervalMs, discoveryIntervalMs: config.stream.discoveryIntervalMs,
        log: this.opts.log,
      }),
    }));
    const running = this.readers.map(({ source, reader }) => {
      const skipBefore = this.state.sources[source]!.stream.skipBefore;
      const apply = changeApplier({ mapper: this.ctx.mapper, sinks: this.ctx.sinks, failures: this.failures, stats: this.applyStats,
        ...(skipBefore !== undefined ? { skipBefore } : {}) });
      return reader.run(async (page) => {
        await apply(page);
        this.streamMeter.add(page.records.length);
      }, this.stop.signal);
    });
    const monitor = (async () => {
      while (!this.stop.signal.aborted) {
        if (this.readers.every(({ reader }) => reader.caughtUpSince(startedAt))) {
          if (!this.caughtUp) {
            this.caughtUp = true;
            this.setPhase('in-sync');
            this.opts.log.info({ records: this.applyStats.records }, 'target is in sync with the source stream');
          }
          if (this.opts.untilSynced) {
            this.stop.abort();
            return;
          }
        }
        await systemClock.sleep(100, this.stop.signal);
      }
    })();
    try {
      await Promise.all(running);
    } catch (err) {
      this.stop.abort();
      throw err;
    } finally {
      await monitor;
    }
  }

  private setPhase(phase: Phase): void {
    if (this.state.phase === phase) return;
    this.state.phase = phase;
    this.dirty = true;
    this.opts.log.info({ phase }, `phase: ${phase}`);
  }

  private async tick(): Promise<void> {
    const snap = this.snapshot();
    this.opts.onProgress?.(snap);
    this.state.progress = snap;
    await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.state.runner) this.state.runner.heartbeatAt = new Date().toISOString();
    this.state.deadLetters = this.failures.count;
    this.state.updatedAt = new Date().toISOString();
    this.dirty = false;
    await this.store.save(this.state);
  }

  private snapshot(): ProgressSnapshot {
    const sources = Object.values(this.state.sources);
    const items = sources.reduce((n, s) => n + s.backfill.itemsWritten, 0);
    const estimatedItems = sources.reduce((n, s) => n + (s.backfill.estimatedItems ?? 0), 0);
    const itemsPerSecond = this.backfillMeter.perSecond();
    const partitions = sources.reduce((n, s) => n + Object.keys(s.backfill.partitions).length, 0);
    const partitionsDone = sources.reduce((n, s) => n + Object.values(s.backfill.partitions).filter((p) => p.done).length, 0);
    const shards = this.readers.flatMap(({ source, reader }) => reader.status().map((s) => ({ source, ...s })));
    return {
      at: new Date().toISOString(),
      phase: this.state.phase,
      backfill: {
        items, estimatedItems: Math.max(estimatedItems, items), itemsPerSecond, partitions, partitionsDone,
        ...(itemsPerSecond > 0 && estimatedItems > items ? { etaSeconds: Math.round((estimatedItems - items) / itemsPerSecond) } : {}),
      },
      stream: {
        records: this.applyStats.records, writes: this.applyStats.writes, skipped: this.applyStats.skipped,
        recordsPerSecond: this.streamMeter.perSecond(),
        lagMs: this.readers.reduce((m, { reader }) => Math.max(m, reader.lagMs()), 0),
        caughtUp: this.caughtUp, shards,
      },
      deadLetters: this.failures.count,
    };
  }

  private result(): RunResult {
    return {
      phase: this.state.phase,
      synced: this.caughtUp,
      deadLetters: this.failures.count,
      deadLetterFile: this.store.deadLetterLocation(),
      backfilledItems: Object.values(this.state.sources).reduce((n, s) => n + s.backfill.itemsWritten, 0),
      appliedRecords: this.applyStats.records,
    };
  }
}
