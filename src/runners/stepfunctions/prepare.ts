import type { ResolvedConfig } from '../../config/resolved-config.js';
import { withClients } from '../../aws/clients.js';
import { roleFor } from '../../aws/errors.js';
import type { KeySchema } from '../../core/item.js';
import type { Logger } from '../../engine/logger.js';
import { buildPlan, type Plan } from '../../engine/plan.js';
import { resumeWithTransform } from '../../engine/resume-check.js';
import { transformFingerprint } from '../../engine/snapshot.js';
import { DynashiftError, PlanRefusedError, StreamGapError } from '../../errors.js';
import { driverFor } from '../../sinks/drivers.js';
import { openStreamPosition } from '../../sources/stream/open-position.js';
import { sdkStreamsApi } from '../../sources/stream/streams-api.js';
import type { DynamoDbStateStore, RunnerRuntime } from '../../state/dynamodb-state-store.js';
import type { MigrationState } from '../../state/migration-state.js';
import { SNAPSHOT_MARGIN_MS } from '../../core/constants.js';
import { AWS_RUNNER_STRATEGIES, runnerFingerprint as fingerprint } from '../lambda/runtime.js';
import type { PrepareOutput, SegmentTask } from './types.js';

/**
 * The state machine's first step, the CLI runbook's first half: inspect and refuse what can't migrate safely, create
 * the targets, open the stream position *before* any item is read, and record it with the snapshot start (skipBefore)
 * and one item per scan segment. A re-run keeps the existing state (same positions, same checkpoints) after checking
 * the config and the stream are still the ones it was made for.
 */
export async function prepareMigration(config: ResolvedConfig, store: DynamoDbStateStore, log: Logger): Promise<PrepareOutput> {
  const strategy = config.backfill.strategy as string;
  if (!(AWS_RUNNER_STRATEGIES as readonly string[]).includes(strategy)) {
    throw new DynashiftError('CONFIG_INVALID', `backfill strategy "${strategy}" is not available in the AWS runner`, {
      hint: `use backfill.strategy ${AWS_RUNNER_STRATEGIES.join(' or ')} with the state machine, or run this migration with \`dynashift run\``, exitCode: 2,
    });
  }
  const lock = await store.lock();
  try {
    const plan = await buildPlan(config);
    if (plan.refusals.length > 0) throw new PlanRefusedError(plan.refusals);

    const targetKeys: Record<string, KeySchema> = {};
    for (const [name, target] of Object.entries(config.targets)) {
      const t = plan.targets[name]!;
      if (t.willCreate) log.info({ target: name, table: target.table }, 'creating target');
      await driverFor(target).prepare(name, target, t.inspection);
      targetKeys[name] = t.keySchema!;
    }

    const existing = await store.load();
    if (existing) checkResumable(config, plan, existing);
    const state = existing ?? (await initState(config, plan, log));
    resumeWithTransform(state, transformFingerprint(config), { rebackfill: false, now: Date.now(), stateDir: `the state table (migration ${config.name})`, warn: (m) => log.warn({}, m) });
    const segments: SegmentTask[] = [];
    for (const [name, src] of Object.entries(state.sources)) {
      if (src.backfill.strategy !== 'scan' || src.backfill.completedAt) continue;
      for (let i = 0; i < config.backfill.segments; i++) {
        const ps = (src.backfill.partitions[String(i)] ??= { done: false, items: 0 });
        if (!ps.done) segments.push({ source: name, segment: i, totalSegments: config.backfill.segments });
      }
    }
    // Runtime facts first, then the state (whose save writes the segment items before the state item): a reader that
    // sees the state item can rely on everything else being there.
    await store.saveRuntime(runtimeFacts(config, plan, targetKeys));
    state.updatedAt = new Date().toISOString();
    await store.save(state);
    log.info({ resumed: existing !== undefined, segments: segments.length, phase: state.phase }, existing ? 'migration resumed' : 'migration prepared');
    return { migration: config.name, resumed: existing !== undefined, segments, totalSegments: config.backfill.segments };
  } finally {
    await lock.release();
  }
}

/** A fresh migration: each source's stream position is opened, then the snapshot start recorded (in that order). */
async function initState(config: ResolvedConfig, plan: Plan, log: Logger): Promise<MigrationState> {
  const now = new Date().toISOString();
  const state: MigrationState = {
    version: 1, migration: config.name, configFingerprint: fingerprint(config), createdAt: now, updatedAt: now,
    phase: config.backfill.strategy === 'scan' ? 'backfilling' : 'catching-up', sources: {}, deadLetters: 0,
  };
  for (const [name, ref] of Object.entries(config.sources)) {
    const info = plan.sources[name]!;
    const stream = await withClients(ref, roleFor('source', name, ref), (c) => openStreamPosition(sdkStreamsApi(c.streams), info.stream.arn!, info.stream.viewType!, Date.now()));
    const startedAt = Date.now();
    if (config.backfill.strategy === 'scan') stream.skipBefore = startedAt - SNAPSHOT_MARGIN_MS;
    state.sources[name] = {
      table: ref.table, stream,
      backfill: {
        strategy: config.backfill.strategy, startedAt: new Date(startedAt).toISOString(), partitions: {}, itemsWritten: 0, bytesRead: 0,
        estimatedItems: info.itemCount,
        ...(config.backfill.strategy === 'none' ? { completedAt: new Date(startedAt).toISOString() } : {}),
        ...(plan.ttlHorizons[name]?.horizon !== undefined ? { ttlHorizon: new Date(plan.ttlHorizons[name]!.horizon!).toISOString() } : {}),
      },
    };
    log.info({ source: name, stream: info.stream.arn, shards: Object.keys(stream.shards).length }, 'stream position opened');
  }
  return state;
}

function checkResumable(config: ResolvedConfig, plan: Plan, state: MigrationState): void {
  if (state.configFingerprint !== fingerprint(config)) {
    throw new DynashiftError('STATE_CONFIG_MISMATCH', `the state of migration ${config.name} belongs to other tables or backfill segments`, {
      hint: 'deploy the original config, or give this migration another "name" (or delete its items from the state table) to start over',
    });
  }
  for (const [name, src] of Object.entries(state.sources)) {
    const current = plan.sources[name]?.stream.arn;
    if (current !== src.stream.streamArn) {
      throw new StreamGapError(`The stream of source ${src.table} changed since the migration started (${src.stream.streamArn} → ${current ?? 'none'}): writes made while it was disabled were never captured.`);
    }
  }
}

/**
 * The shared rate limit is static: each child gets the total read budget divided by the Map's MaxConcurrency (the
 * config's backfill.concurrency), so all children together never exceed it, with no coordination at run time.
 */
function runtimeFacts(config: ResolvedConfig, plan: Plan, targetKeys: Record<string, KeySchema>): RunnerRuntime {
  const perSegment = (total: number): number | null => (Number.isFinite(total) ? total / config.backfill.concurrency : null);
  const sourceKeys: Record<string, KeySchema> = {};
  const ttlAttributes: Record<string, string> = {};
  const segmentReadUnitsPerSecond: Record<string, number | null> = {};
  for (const name of Object.keys(config.sources)) {
    const info = plan.sources[name]!;
    sourceKeys[name] = info.keySchema!;
    if (info.ttlAttribute) ttlAttributes[name] = info.ttlAttribute;
    const total = config.backfill.maxReadUnitsPerSecond
      ?? (info.billingMode === 'PROVISIONED' && info.readCapacityUnits ? info.readCapacityUnits * config.backfill.readShare : Infinity);
    segmentReadUnitsPerSecond[name] = perSegment(total);
  }
  return {
    configFingerprint: fingerprint(config), sourceKeys, targetKeys, ttlAttributes, segmentReadUnitsPerSecond,
    segmentWriteUnitsPerSecond: perSegment(config.write.maxWriteUnitsPerSecond ?? Infinity),
    segments: config.backfill.segments, concurrency: config.backfill.concurrency, preparedAt: new Date().toISOString(),
  };
}
