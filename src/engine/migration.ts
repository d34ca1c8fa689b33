import { hostname } from 'node:os';
import type { ResolvedConfig } from '../config/resolved-config.js';
import { DynashiftError, PlanRefusedError, StreamGapError } from '../errors.js';
import { clientsFor, type TableClients } from '../aws/clients.js';
import { roleFor } from '../aws/errors.js';
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
import { ControlChannel, type ControlRequest } from '../state/control-channel.js';
import { applyControl, type ControlOutcome } from './cutover.js';
import { prepareReverse, reverseMapper } from './reverse.js';
import { reverseApplier } from './reverse-applier.js';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import type { AttributeMap } from '../core/item.js';
import type { ChangePage, ChangeRecord } from '../core/change.js';
import { isExpired } from '../core/ttl.js';
import type { BackfillState, MigrationState, Phase, ProgressSnapshot } from '../state/migration-state.js';
import { applyIncrementalExports, exportSource, locateBackfillExport } from './export-backfill.js';
import { SNAPSHOT_MARGIN_MS } from '../core/constants.js';
import { fingerprint, transformFingerprint } from './snapshot.js';
import { resumeWithTransform } from './resume-check.js';
import { finalizableSink } from '../sinks/files/index.js';
import { removeMarkers, stripTouchMarker, touchAll, type TouchState } from '../sources/touch/index.js';
import { runBackfill } from './backfill.js';
import { changeApplier, type ApplyStats } from './catch-up.js';
import { FailurePolicy } from './failure-policy.js';
import type { Logger } from './logger.js';
import { buildPlan, type Plan } from './plan.js';
import { SnapshotGate } from '../core/snapshot-gate.js';
import { ShortRetentionStreams } from '../sources/stream/short-retention.js';
import type { StreamsApi } from '../sources/stream/streams-api.js';

export { SNAPSHOT_MARGIN_MS, fingerprint };

export interface RunOptions {
  untilSynced?: boolean;
  /** Re-copy every item under the current transform, keeping the stream position (engine/resume-check.ts). */
  rebackfill?: boolean;
  /** Record the current transform, keeping the items already written as they are (engine/resume-check.ts). */
  acceptTransform?: boolean;
  signal: AbortSignal;
  log: Logger;
  onProgress?: (progress: ProgressSnapshot) => void;
  /**
   * TEST ONLY: source stream records live this long instead of 24 h (sources/stream/short-retention.ts), so a test can
   * outlast the retention in seconds. The CLI sets it from DYNASHIFT_TEST_STREAM_RETENTION_SECONDS.
   */
  testStreamRetentionMs?: number;
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
    // Read the state first: a state file that can't be used stops the run before a target is created.
    const existing = await store.load();
    const plan = await buildPlan(config);
    if (plan.refusals.length > 0) throw new PlanRefusedError(plan.refusals);
    const ctx = await prepareTargets(config, plan, log);
    const state = existing ?? (await initState(ctx, log));
    checkResumable(ctx, state);
    resumeWithTransform(state, transformFingerprint(config), { rebackfill: opts.rebackfill === true, acceptTransform: opts.acceptTransform === true, now: Date.now(), stateDir: config.stateDir, warn: (m) => log.warn({}, m) });
    const failures = new FailurePolicy(store, config.onError, log);
    await failures.load(); // open dead letters: the count, no second entry on resume, resolution when re-applied

    const run = new RunLoop(ctx, state, store, failures, opts);
    try {
      return await run.execute();
    } finally {
      await Promise.all(Object.values(ctx.sinks).map((s) => s.close?.()));
    }
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
      ...(config.guard ? { guard: config.guard } : {}),
      ...(config.write.maxWriteUnitsPerSecond ? { maxWriteUnitsPerSecond: config.write.maxWriteUnitsPerSecond } : {}),
    });
  }
  const sourceClients: Record<string, TableClients> = {};
  const sourceKeys: Record<string, KeySchema> = {};
  for (const [name, ref] of Object.entries(config.sources)) {
    sourceClients[name] = clientsFor(ref, roleFor('source', name, ref));
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
  const strategy = ctx.config.backfill.strategy;
  for (const [name, ref] of Object.entries(ctx.config.sources)) {
    const info = ctx.plan.sources[name]!;
    const stream = ctx.plan.writeOnceOnly
      ? { streamArn: '', viewType: '', openedAt: new Date().toISOString(), shards: {} } // files target: snapshot only
      : await openStreamPosition(sdkStreamsApi(ctx.sourceClients[name]!.streams), info.stream.arn!, info.stream.viewType!, Date.now());
    const startedAt = Date.now();
    const backfill: BackfillState = {
      strategy, startedAt: new Date(startedAt).toISOString(), partitions: {}, itemsWritten: 0, bytesRead: 0,
      estimatedItems: info.itemCount,
      ...(strategy === 'scan' || strategy === 'touch' ? { segments: ctx.plan.strategy.segments } : {}),
      ...(ctx.plan.ttlHorizons[name]?.horizon !== undefined ? { ttlHorizon: new Date(ctx.plan.ttlHorizons[name]!.horizon!).toISOString() } : {}),
    };
    // What the snapshot already holds: nothing older than its start (scan, touch) or the export's time needs applying.
    if (strategy === 'scan' || strategy === 'touch') stream.skipBefore = startedAt - SNAPSHOT_MARGIN_MS;
    if (strategy === 'none') backfill.completedAt = backfill.startedAt;
    if (strategy === 'export') {
      const exp = ctx.plan.exports[name] && ctx.config.backfill.export?.uri
        ? { uri: ctx.config.backfill.export.uri, exportTime: ctx.plan.exports[name]!.exportTime }
        : await locateBackfillExport(ctx, name, log);
      backfill.export = exp;
      backfill.estimatedItems = ctx.plan.exports[name]?.itemCount ?? info.itemCount;
      stream.skipBefore = exp.exportTime - SNAPSHOT_MARGIN_MS;
      if (ctx.config.backfill.export?.imported) backfill.completedAt = backfill.startedAt; // loaded by ImportTable
    }
    if (strategy === 'touch') backfill.touch = {};
    state.sources[name] = { table: ref.table, stream, backfill };
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
    if (src.stream.streamArn !== '' && current !== src.stream.streamArn) {
      throw new StreamGapError(`The stream of source ${src.table} changed since the migration started (${src.stream.streamArn} → ${current ?? 'none'}): writes made while it was disabled were never captured.`);
    }
  }
}


/** Owns the live part of a run: the phases, the replication direction, live commands, state flushes and shutdown. */
class RunLoop {
  private readonly backfillMeter = new RateMeter(systemClock);
  private readonly streamMeter = new RateMeter(systemClock);
  private readonly applyStats: ApplyStats = { records: 0, skipped: 0, writes: 0 };
  private readers: { source: string; reader: StreamReader; apply: (page: ChangePage) => Promise<void> }[] = [];
  private direction: 'forward' | 'reverse' | 'none' = 'forward';
  private directionStartedAt = 0;
  private lastAppliedAt = 0;
  private caughtUp = false;
  private readonly stop = new AbortController();
  private directionStop = new AbortController();
  private readonly control: ControlChannel;
  private ticking = false;
  /** Per source, while the stream is applied during its backfill (stream.duringBackfill). */
  private gates: Record<string, SnapshotGate> = {};
  /** Every backfill is complete: only then can the run be in sync. */
  private backfillComplete = false;
  /** When the catch-up began: the stream's tip must be reached after this moment. */
  private catchUpSince = 0;

  constructor(
    private readonly ctx: Context,
    private readonly state: MigrationState,
    private readonly store: FileStateStore,
    private readonly failures: FailurePolicy,
    private readonly opts: RunOptions,
  ) {
    this.control = new ControlChannel(ctx.config.stateDir);
  }

  async execute(): Promise<RunResult> {
    const { log } = this.opts;
    const onAbort = () => this.stop.abort();
    this.opts.signal.addEventListener('abort', onAbort, { once: true });
    if (this.opts.signal.aborted) this.stop.abort();
    const ticker = setInterval(() => void this.tick(), 1000);
    const shortened = this.shortenRetention();
    try {
      this.state.runner = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), heartbeatAt: new Date().toISOString() };
      await this.flush();
      if (this.applyDuringBackfill()) await this.backfillWhileApplying();
      else {
        const backfilled = await this.backfill();
        if (backfilled && !this.stop.signal.aborted) await this.replicate();
      }
      return this.result();
    } catch (err) {
      this.stop.abort();
      this.directionStop.abort();
      if (this.state.runner) this.state.runner.halt = { code: (err as DynashiftError).code ?? 'ERROR', message: (err as Error).message };
      log.error({ code: (err as DynashiftError).code }, 'migration halted');
      throw err;
    } finally {
      clearInterval(ticker);
      for (const api of shortened) api.stop();
      this.opts.signal.removeEventListener('abort', onAbort);
      this.state.progress = this.snapshot();
      await this.flush();
    }
  }

  /** Per source, the streams API the forward readers use: the SDK's, or the test-only short-retention stand-in. */
  private readonly sourceStreams: Record<string, StreamsApi> = {};

  private shortenRetention(): ShortRetentionStreams[] {
    const ms = this.opts.testStreamRetentionMs;
    if (ms === undefined) return [];
    return Object.entries(this.state.sources).filter(([, src]) => src.stream.streamArn !== '').map(([name, src]) => {
      const api = new ShortRetentionStreams(sdkStreamsApi(this.ctx.sourceClients[name]!.streams), src.stream.streamArn, ms).start();
      this.sourceStreams[name] = api;
      return api;
    });
  }

  /**
   * The stream is applied from the first second, while the backfill runs, unless asked otherwise or there is nothing
   * left to back-fill; pages and stream writes meet in each source's gate (docs/consistency.md, "The gate's claim").
   */
  private applyDuringBackfill(): boolean {
    if (!this.ctx.plan.stream.duringBackfill || this.ctx.plan.writeOnceOnly) return false;
    return Object.values(this.state.sources).some((s) => s.backfill.strategy !== 'none' && !s.backfill.completedAt);
  }

  private async backfillWhileApplying(): Promise<void> {
    for (const [name, src] of Object.entries(this.state.sources)) {
      const exportTime = src.backfill.export?.exportTime;
      this.gates[name] = new SnapshotGate({ marginMs: SNAPSHOT_MARGIN_MS, now: () => Date.now(), ...(exportTime !== undefined ? { snapshotAt: exportTime } : {}) });
    }
    this.setPhase('backfilling');
    const replication = this.replicate();
    // Its failure (a stream gap) stops the backfill through the run's signal; it is rethrown below, once awaited.
    replication.catch(() => {});
    let backfilled = false;
    try {
      backfilled = await this.backfill();
    } catch (err) {
      this.stop.abort();
      await replication.catch(() => {});
      throw err;
    } finally {
      for (const gate of Object.values(this.gates)) gate.close();
      this.gates = {};
    }
    if (!backfilled) this.stop.abort();
    await replication;
  }

  private async backfill(): Promise<boolean> {
    const pending = Object.entries(this.state.sources).filter(([, s]) => s.backfill.strategy !== 'none' && !s.backfill.completedAt);
    if (pending.length > 0) {
      this.setPhase('backfilling');
      const results = await Promise.all(pending.map(async ([name, src]) => {
        const done = src.backfill.strategy === 'touch' ? await this.touch(name, src.backfill) : await this.copy(name, src.backfill);
        if (done) {
          src.backfill.completedAt = new Date().toISOString();
          this.opts.log.info({ source: name, items: src.backfill.itemsWritten, strategy: src.backfill.strategy }, 'backfill complete');
        }
        return done;
      }));
      await this.flush();
      if (!results.every(Boolean)) return false;
    }
    for (const [name, src] of Object.entries(this.state.sources)) {
      if (src.backfill.strategy !== 'export' || this.stop.signal.aborted) continue;
      const coveredUntil = await applyIncrementalExports({
        config: this.ctx.config, source: name, state: src.backfill, mapper: this.ctx.mapper, sinks: this.ctx.sinks,
        failures: this.failures, marginMs: SNAPSHOT_MARGIN_MS, onCheckpoint: () => {}, signal: this.stop.signal, log: this.opts.log,
      });
      if (coveredUntil !== undefined) src.stream.skipBefore = Math.max(src.stream.skipBefore ?? 0, coveredUntil - SNAPSHOT_MARGIN_MS);
    }
    if (this.stop.signal.aborted) return false;
    if (Object.values(this.ctx.sinks).every((s) => s.capabilities.writeOnce)) {
      // An export-format target takes the snapshot only: close its files and stop (the stream is for the table it
      // gets imported into, in a migration of its own).
      for (const sink of Object.values(this.ctx.sinks)) await finalizableSink(sink)?.finalize();
      this.setPhase('exported');
      this.opts.log.info({}, 'export written: load it with ImportTable, then catch up with a migration to the imported table (backfill.export.imported: true)');
      return false;
    }
    this.markBackfillComplete();
    return true;
  }

  private markBackfillComplete(): void {
    if (this.backfillComplete) return;
    this.backfillComplete = true;
    this.catchUpSince = Date.now();
    if (this.state.phase === 'new' || this.state.phase === 'backfilling') this.setPhase('catching-up');
  }

  /** Scan or export-file backfill: partitions copied in parallel, each resumable from its cursor. */
  private async copy(name: string, backfill: BackfillState): Promise<boolean> {
    const { config } = this.ctx;
    const info = this.ctx.plan.sources[name]!;
    const src = this.state.sources[name]!;
    const source = backfill.strategy === 'export'
      ? exportSource(config, name, backfill.export!.uri)
      : new ScanSource({
        name, client: this.ctx.sourceClients[name]!.dynamodb, table: src.table, totalSegments: backfill.segments ?? config.backfill.segments,
        pageSize: config.backfill.pageSize, consistentRead: config.backfill.consistentRead,
        limiter: new RateLimiter(this.readCeiling(name), systemClock), meter: new RateMeter(systemClock),
      });
    return runBackfill({
      source, sourceName: name, sourceKeySchema: this.ctx.sourceKeys[name]!, mapper: this.ctx.mapper, sinks: this.ctx.sinks,
      state: backfill, concurrency: config.backfill.concurrency, failures: this.failures,
      onProgress: (items) => this.backfillMeter.add(items), onCheckpoint: () => {}, log: this.opts.log,
      ...(this.gates[name] ? { gate: this.gates[name] } : {}),
      ...(config.backfill.skipExpired && info.ttlAttribute ? { skipExpired: { ttlAttribute: info.ttlAttribute, now: () => Date.now() } } : {}),
    }, this.stop.signal);
  }

  /**
   * Touch: every item is updated (conditionally on existing, so a concurrent delete is never undone) so that it flows
   * through the stream; then the marker is removed again. The stream, applied afterwards, does the copying.
   */
  private async touch(name: string, backfill: BackfillState): Promise<boolean> {
    const { config } = this.ctx;
    const touchCfg = config.backfill.touch ?? {};
    const t = (backfill.touch ??= {});
    const common = {
      client: this.ctx.sourceClients[name]!.dynamodb, table: this.state.sources[name]!.table, keySchema: this.ctx.sourceKeys[name]!,
      segments: backfill.segments ?? config.backfill.segments, concurrency: config.backfill.concurrency, signal: this.stop.signal,
      ...(touchCfg.marker ? { marker: touchCfg.marker } : {}),
      limiter: new RateLimiter(touchCfg.maxWriteUnitsPerSecond ?? Infinity, systemClock),
      readLimiter: new RateLimiter(this.readCeiling(name), systemClock),
    };
    if (!t.touchedDone) {
      const r = await touchAll({ ...common, state: (t.touched ??= { segments: {} }) as TouchState, onCheckpoint: () => {} });
      backfill.itemsWritten = r.state.segments ? Object.values(r.state.segments).reduce((n, seg) => n + seg.written, 0) : backfill.itemsWritten;
      if (!r.complete) return false;
      t.touchedDone = true;
      await this.flush();
    }
    if (!t.removedDone) {
      const r = await removeMarkers({ ...common, state: (t.removal ??= { segments: {} }) as TouchState, onCheckpoint: () => {} });
      if (!r.complete) return false;
      t.removedDone = true;
    }
    return true;
  }

  private readCeiling(name: string): number {
    const { config } = this.ctx;
    const info = this.ctx.plan.sources[name]!;
    return config.backfill.maxReadUnitsPerSecond
      ?? (info.billingMode === 'PROVISIONED' && info.readCapacityUnits ? info.readCapacityUnits * config.backfill.readShare : Infinity);
  }

  /** Applies one direction's stream at a time until stopped; a drained switch moves on to the next direction. */
  private async replicate(): Promise<void> {
    if (Object.values(this.state.sources).every((s) => s.backfill.completedAt)) this.markBackfillComplete();
    const cut = (this.state.cutover ??= { direction: 'forward', history: [] });
    while (!this.stop.signal.aborted) {
      this.direction = cut.draining ? cut.draining.from : cut.direction;
      if (this.direction === 'none') {
        if (cut.finishRequested) {
          this.setPhase('finished');
          cut.finishedAt ??= new Date().toISOString();
          this.opts.log.info({}, 'replication stopped: migration finished');
        } else {
          this.opts.log.info({}, 'source drained; no reverse replication was asked for (--no-reverse), so there is nothing left to apply');
        }
        return;
      }
      await this.runDirection(this.direction);
    }
  }

  private async runDirection(direction: 'forward' | 'reverse'): Promise<void> {
    const { config } = this.ctx;
    this.directionStop = new AbortController();
    const signal = AbortSignal.any([this.stop.signal, this.directionStop.signal]);
    const startedAt = Date.now();
    this.directionStartedAt = startedAt;
    this.lastAppliedAt = 0;
    this.readers = direction === 'forward' ? this.forwardReaders() : this.reverseReaders();
    this.opts.log.info({ direction, streams: this.readers.length }, direction === 'forward' ? 'applying the source stream to the targets' : 'reverse replication: applying the target stream to the source');
    const running = this.readers.map(({ reader, apply }) => reader.run(async (page) => {
      await apply(page);
      this.lastAppliedAt = Date.now();
      this.streamMeter.add(page.records.length);
    }, signal));

    const monitor = (async () => {
      while (!signal.aborted) {
        const caught = this.backfillComplete && this.readers.every(({ reader }) => reader.caughtUpSince(Math.max(startedAt, this.catchUpSince)));
        const cut = this.state.cutover!;
        if (caught && !cut.draining) {
          if (!this.caughtUp) {
            this.caughtUp = true;
            if (this.state.phase === 'catching-up') this.setPhase('in-sync');
            this.opts.log.info({ direction, records: this.applyStats.records }, 'in sync: every change up to now is applied');
          }
          if (this.opts.untilSynced) {
            this.stop.abort();
            return;
          }
        }
        if (cut.draining && cut.draining.from === direction && this.quiet(cut.draining.quietMs, Date.parse(cut.draining.since))) {
          this.opts.log.info({ from: direction, to: cut.draining.to }, 'drained: the old direction is quiet, switching');
          cut.history.push({ at: new Date().toISOString(), event: `switched ${direction} → ${cut.draining.to}` });
          cut.direction = cut.draining.to;
          delete cut.draining;
          this.caughtUp = false;
          this.directionStop.abort();
          return;
        }
        await systemClock.sleep(100, signal);
      }
    })();
    try {
      await Promise.all(running);
    } catch (err) {
      this.stop.abort();
      throw err;
    } finally {
      await monitor;
      void config;
    }
  }

  /** Quiet: every shard polled empty for `quietMs`, and nothing applied in that window (nor since the drain began). */
  private quiet(quietMs: number, since: number): boolean {
    const now = Date.now();
    if (now - since < quietMs || now - this.directionStartedAt < quietMs) return false;
    if (this.lastAppliedAt > now - quietMs) return false;
    return this.readers.every(({ reader }) => reader.atTipSince(now - quietMs));
  }

  private forwardReaders(): { source: string; reader: StreamReader; apply: (page: ChangePage) => Promise<void> }[] {
    const { config } = this.ctx;
    return Object.entries(this.state.sources).map(([name, src]) => ({
      source: name,
      reader: new StreamReader({
        api: this.sourceStreams[name] ?? sdkStreamsApi(this.ctx.sourceClients[name]!.streams), source: name, state: src.stream,
        onCheckpoint: () => {}, pollIntervalMs: config.stream.pollIntervalMs, discoveryIntervalMs: config.stream.discoveryIntervalMs,
        log: this.opts.log,
        ...(this.opts.testStreamRetentionMs !== undefined ? { retentionMs: this.opts.testStreamRetentionMs } : {}),
      }),
      apply: changeApplier({ mapper: this.ctx.mapper, sinks: this.ctx.sinks, failures: this.failures, stats: this.applyStats,
        ...(this.gates[name] ? { gate: { gate: this.gates[name], sourceKeySchema: this.ctx.sourceKeys[name]! } } : {}),
        ...(src.stream.skipBefore !== undefined ? { skipBefore: src.stream.skipBefore } : {}),
        ...(src.backfill.strategy === 'touch' ? { prepare: (r: ChangeRecord) => stripTouchMarker(r, config.backfill.touch?.marker) } : {}),
        ...this.expiredFilter(name) }),
    }));
  }

  private expiredFilter(source: string): { isExpired?: (item: AttributeMap) => boolean } {
    const ttlAttribute = this.ctx.plan.sources[source]?.ttlAttribute;
    if (!this.ctx.config.backfill.skipExpired || !ttlAttribute) return {};
    return { isExpired: (item) => isExpired(item, ttlAttribute, Date.now()) };
  }

  private reverseReaders(): { source: string; reader: StreamReader; apply: (page: ChangePage) => Promise<void> }[] {
    const { config } = this.ctx;
    const sourceName = Object.keys(config.sources)[0]!;
    const sourceRef = config.sources[sourceName]!;
    const mapper = reverseMapper(config, this.ctx.mapper.keySchemaOf(Object.keys(config.targets)[0]!)!, this.ctx.sourceKeys[sourceName]!);
    const sink = driverFor({ ...sourceRef, kind: 'dynamodb' }).open(sourceName, { ...sourceRef, kind: 'dynamodb' }, {
      keySchema: this.ctx.sourceKeys[sourceName]!, concurrency: config.write.concurrency, side: 'source',
    });
    return Object.entries(this.state.cutover!.reverse ?? {}).map(([target, stream]) => ({
      source: target,
      reader: new StreamReader({
        api: sdkStreamsApi(clientsFor(config.targets[target]!, roleFor('target', target, config.targets[target]!)).streams), source: target, state: stream,
        onCheckpoint: () => {}, pollIntervalMs: config.stream.pollIntervalMs, discoveryIntervalMs: config.stream.discoveryIntervalMs,
        log: this.opts.log,
      }),
      apply: reverseApplier({
        inverse: mapper, forward: this.ctx.mapper, target, targetKey: this.ctx.mapper.keySchemaOf(target)!,
        source: { name: sourceName, client: this.ctx.sourceClients[sourceName]!.dynamodb, table: sourceRef.table, keySchema: this.ctx.sourceKeys[sourceName]! },
        sink, failures: this.failures, stats: this.applyStats,
      }),
    }));
  }

  /** Handles a live command (cutover, rollback, finish) and records the outcome for the waiting command. */
  private async handleControl(request: ControlRequest): Promise<void> {
    const cut = (this.state.cutover ??= { direction: 'forward', history: [] });
    let outcome: ControlOutcome;
    try {
      outcome = await applyControl(request, {
        state: this.state, cut, caughtUp: this.caughtUp, direction: this.direction, deadLetters: this.failures.count,
        lagMs: this.readers.reduce((m, { reader }) => Math.max(m, reader.lagMs()), 0),
        openReverse: async () => prepareReverse(this.ctx.config, await sampleSource(this.ctx), this.ctx.mapper),
      });
    } catch (err) {
      const e = err as DynashiftError;
      outcome = { ok: false, message: e.message, code: e instanceof DynashiftError ? e.code : 'CUTOVER_REFUSED', hint: e.hint ?? 'see the run\'s log for the cause' };
    }
    if (outcome.ok) {
      cut.history.push({ at: new Date().toISOString(), event: request.kind });
      if (this.state.phase !== this.lastPhase) this.opts.log.info({ phase: this.state.phase }, `phase: ${this.state.phase}`);
      // A drain that targets the direction already running needs no switch; otherwise the monitor handles it.
      if (cut.draining && cut.draining.from === cut.draining.to) {
        cut.direction = cut.draining.to;
        delete cut.draining;
      }
    }
    this.lastPhase = this.state.phase;
    this.state.lastControl = { id: request.id, request: request.kind, ...outcome, at: new Date().toISOString() };
    this.opts.log[outcome.ok ? 'info' : 'warn']({ request: request.kind }, outcome.message);
  }

  private lastPhase: Phase | undefined;

  private setPhase(phase: Phase): void {
    if (this.state.phase === phase) return;
    this.state.phase = phase;
    this.lastPhase = phase;
    this.opts.log.info({ phase }, `phase: ${phase}`);
  }

  private async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      const request = this.control.take();
      if (request) await this.handleControl(request);
      const snap = this.snapshot();
      this.opts.onProgress?.(snap);
      this.state.progress = snap;
      await this.flush();
    } finally {
      this.ticking = false;
    }
  }

  private async flush(): Promise<void> {
    if (this.state.runner) this.state.runner.heartbeatAt = new Date().toISOString();
    this.state.deadLetters = this.failures.count;
    this.state.updatedAt = new Date().toISOString();
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
        direction: this.direction,
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

async function sampleSource(ctx: Context): Promise<AttributeMap[]> {
  const [name, ref] = Object.entries(ctx.config.sources)[0]!;
  const res = await ctx.sourceClients[name]!.dynamodb.send(new ScanCommand({ TableName: ref.table, Limit: 200 }));
  return (res.Items ?? []) as AttributeMap[];
}
