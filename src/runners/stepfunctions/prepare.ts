import type { ResolvedConfig } from '../../config/resolved-config.js';
import { withClients } from '../../aws/clients.js';
import { roleFor } from '../../aws/errors.js';
import type { KeySchema } from '../../core/item.js';
import type { Logger } from '../../engine/logger.js';
import { buildPlan, type Plan } from '../../engine/plan.js';
import { enterPhase, firstPhase } from '../../engine/phase-machine.js';
import { startProtocol } from '../../engine/protocol-start.js';
import { AWS_RUNNER_STRATEGIES, strategyFor } from '../../engine/strategies/registry.js';
import { DynashiftError, PlanRefusedError } from '../../errors.js';
import { driverFor } from '../../sinks/drivers.js';
import { sdkStreamsApi } from '../../sources/stream/streams-api.js';
import type { DynamoDbStateStore, RunnerRuntime } from '../../state/dynamodb-state-store.js';
import { runnerFingerprint as fingerprint, spoolsDuringBackfill } from '../lambda/runtime.js';
import type { ExportFiles, PrepareOutput, SegmentTask } from './types.js';
import { createHash } from 'node:crypto';
import { isS3Uri, parseS3Uri, s3ClientFor } from '../../aws/s3.js';
import { exportAccess } from '../../engine/export-backfill.js';
import { ExportSource, exportUri, type ExportApiClient } from '../../sources/export/index.js';

/**
 * The state machine's first step, the CLI runbook's first half: inspect and refuse what can't migrate safely, create
 * the targets, open the stream position *before* any item is read, and record it with the snapshot start (skipBefore)
 * and one item per scan segment. A re-run keeps the existing state (same positions, same checkpoints) after checking
 * the config and the stream are still the ones it was made for.
 */
export async function prepareMigration(
  config: ResolvedConfig,
  store: DynamoDbStateStore,
  log: Logger,
  opts: PrepareOptions = {},
): Promise<PrepareOutput> {
  const strategy = strategyFor(config.backfill.strategy);
  if (!strategy.awsRunner) {
    throw new DynashiftError('CONFIG_INVALID', `backfill strategy "${strategy.name}" is not available in the AWS runner`, {
      hint: `use backfill.strategy ${AWS_RUNNER_STRATEGIES.join(' or ')} with the state machine, or run this migration with \`dynashift run\``,
      exitCode: 2,
    });
  }
  if (strategy.awsRunner.map === 'files') checkExportConfig(config);
  const lock = await store.lock();
  try {
    const plan = await buildPlan(config);
    if (plan.refusals.length > 0) throw new PlanRefusedError(plan.refusals);

    const targetKeys: Record<string, KeySchema> = {};
    for (const [name, target] of Object.entries(config.targets)) {
      const t = plan.targets[name]!;
      if (t.willCreate) log.info({ target: name, table: target.table }, 'creating target');
      await (await driverFor(target)).prepare(name, target, t.inspection);
      targetKeys[name] = t.keySchema!;
    }

    const { state, resumed } = await startProtocol(await store.load(), {
      config,
      plan,
      log,
      rebackfill: false,
      segments: config.backfill.segments,
      withStreams: (name, use) =>
        withClients(config.sources[name]!, roleFor('source', name, config.sources[name]!), (c) => use(sdkStreamsApi(c.streams))),
      stateWhere: `the state table (migration ${config.name})`,
      startOverHint: 'deploy the original config, or give this migration another "name" (or delete its items from the state table) to start over',
      // export.start: the export is taken after the stream position was opened (as in the CLI), but waited for only
      // a few minutes per invocation; the state machine retries Prepare (ExportInProgressError), and the idempotency
      // token makes each retry find the same export. Nothing is saved until it completed.
      exportStart: {
        clientToken: exportToken(config),
        waitMs: opts.exportWaitMs ?? 5 * 60_000,
        ...(opts.exportPollMs !== undefined ? { pollMs: opts.exportPollMs } : {}),
        ...(opts.exportClient ? { client: opts.exportClient } : {}),
      },
    });
    if (state.phase === 'new') enterPhase(state, firstPhase(state)); // the state machine's next step
    const segments: SegmentTask[] = [];
    for (const [name, src] of Object.entries(state.sources)) {
      if (strategyFor(src.backfill.strategy).awsRunner?.map !== 'segments' || src.backfill.completedAt) continue;
      for (let i = 0; i < config.backfill.segments; i++) {
        const ps = (src.backfill.partitions[String(i)] ??= { done: false, items: 0 });
        if (!ps.done) segments.push({ source: name, segment: i, totalSegments: config.backfill.segments });
      }
    }
    // Runtime facts first, then the state (whose save writes the segment items before the state item): a reader that
    // sees the state item can rely on everything else being there.
    let exportFiles: ExportFiles | null = null;
    for (const [name, src] of Object.entries(state.sources)) {
      if (strategyFor(src.backfill.strategy).awsRunner?.map !== 'files' || src.backfill.completedAt) continue;
      exportFiles = await exportManifest(config, name, src.backfill.export!.uri);
    }
    await store.saveRuntime(runtimeFacts(config, plan, targetKeys));
    // The dirty-key spool of each source that spools while its backfill runs: the state machine enables the stream
    // mapping right after this step, and the stream handler spools into it until the Replay task goes live.
    for (const [name, src] of Object.entries(state.sources)) {
      if (spoolsDuringBackfill(config, src.backfill.strategy) && !src.backfill.completedAt) await store.spool().open(name);
    }
    state.updatedAt = new Date().toISOString();
    await lock.confirm(); // as in Complete: a Prepare that stalled past its lease saves nothing over a newer state
    await store.save(state);
    log.info(
      { resumed, segments: segments.length, ...(exportFiles ? { exportFiles: exportFiles.files } : {}), phase: state.phase },
      resumed ? 'migration resumed' : 'migration prepared',
    );
    return { migration: config.name, resumed, segments, totalSegments: config.backfill.segments, exportFiles };
  } finally {
    await lock.release();
  }
}

export interface PrepareOptions {
  /** How long one Prepare invocation waits for an `export.start` export (default 5 min) before it is retried. */
  exportWaitMs?: number;
  exportPollMs?: number;
  /** The client that starts and describes exports (default: the source's). DynamoDB Local has no export API: tests stub it. */
  exportClient?: ExportApiClient;
}

/**
 * What the AWS runner's export Map can read: one source (the Map's ItemReader reads one manifest), a full export in
 * S3 (the ItemReader reads S3), and no incremental exports (the spool covers everything after the export time; the
 * CLI applies incremental exports when the stream waits instead).
 */
function checkExportConfig(config: ResolvedConfig): void {
  const e = config.backfill.export;
  const problems: string[] = [];
  if (Object.keys(config.sources).length !== 1) problems.push('the export Map reads the export of one source; this config has several');
  if (e?.uri && !isS3Uri(exportUri(e.uri))) problems.push(`backfill.export.uri ${e.uri} is not in S3 (the Map's ItemReader reads S3)`);
  if ((e?.incremental?.length ?? 0) > 0) problems.push('backfill.export.incremental is not applied by the AWS runner');
  if (problems.length > 0) {
    throw new DynashiftError('CONFIG_INVALID', `the export backfill can't run on Step Functions: ${problems.join('; ')}`, {
      hint: 'use one source with backfill.export.uri = s3://… (or export.start) and no export.incremental, or run this migration with `dynashift run`',
      exitCode: 2,
    });
  }
}

/** The same token on every Prepare of this migration: ExportTableToPointInTime returns the same export for 8 hours. */
function exportToken(config: ResolvedConfig): string {
  return createHash('sha256')
    .update(`dynashift\n${config.name}\n${fingerprint(config)}`)
    .digest('hex')
    .slice(0, 32);
}

/** Where the export Map's ItemReader reads the data files: the export's manifest-files.json (checked on the way). */
async function exportManifest(config: ResolvedConfig, source: string, uri: string): Promise<ExportFiles> {
  const s3Client = s3ClientFor(exportAccess(config));
  try {
    const loaded = await new ExportSource({ name: source, uri, access: exportAccess(config), s3Client }).load();
    const { bucket, prefix } = parseS3Uri(loaded.store.uriOf('manifest-files.json'));
    return { source, bucket, key: prefix, files: loaded.files.length };
  } finally {
    s3Client.destroy();
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
    const total =
      config.backfill.maxReadUnitsPerSecond ??
      (info.billingMode === 'PROVISIONED' && info.readCapacityUnits ? info.readCapacityUnits * config.backfill.readShare : Infinity);
    segmentReadUnitsPerSecond[name] = perSegment(total);
  }
  return {
    configFingerprint: fingerprint(config),
    sourceKeys,
    targetKeys,
    ttlAttributes,
    segmentReadUnitsPerSecond,
    segmentWriteUnitsPerSecond: perSegment(config.write.maxWriteUnitsPerSecond ?? Infinity),
    segments: config.backfill.segments,
    concurrency: config.backfill.concurrency,
    preparedAt: new Date().toISOString(),
  };
}
