import { SNAPSHOT_MARGIN_MS } from '../../core/constants.js';
import type { BackfillStrategy } from './backfill-strategy.js';
import { copySnapshot } from './copy-snapshot.js';

/** The export code (S3, the DynamoDB JSON and ION decoders) is imported only by a run that reads an export. */
const exportBackfill = () => import('../export-backfill.js');

/**
 * A DynamoDB export (given, or taken with ExportTableToPointInTime) read file by file, then its incremental exports;
 * the stream is applied from the export time (minus the margin). With `imported`, ImportTable already loaded it.
 */
export const exportStrategy: BackfillStrategy = {
  name: 'export',
  copiesSnapshot: true,
  readsTable: false,
  readsExport: true,
  fillsWriteOnceTarget: true,
  awsRunner: { map: 'files' },
  loadsTargets: (config) => !config.backfill.export?.imported,
  runGrants(config) {
    const exportCfg = config.backfill.export;
    const actions = ['s3:GetObject', 's3:ListBucket'];
    const notes: string[] = [];
    if (exportCfg?.start) {
      actions.push('dynamodb:ExportTableToPointInTime', 'dynamodb:DescribeExport', 's3:PutObject', 's3:AbortMultipartUpload', 's3:PutObjectAcl');
      notes.push(`export start: the s3 actions on s3://${exportCfg.start.s3Bucket}/${exportCfg.start.s3Prefix ?? ''}*`);
    } else if (exportCfg?.uri?.startsWith('s3://')) {
      notes.push(`export: the s3 actions on ${exportCfg.uri}*`);
    }
    return { actions, notes };
  },
  fingerprint: (config) => config.backfill.export?.uri ?? config.backfill.export?.start?.s3Bucket ?? '',
  async start({ config, plan, source, backfill, stream, log, exportStart }) {
    const described = plan.exports[source];
    const exp =
      described && config.backfill.export?.uri
        ? { uri: config.backfill.export.uri, exportTime: described.exportTime }
        : await (await exportBackfill()).locateBackfillExport({ config, plan }, source, log, exportStart);
    backfill.export = exp;
    backfill.estimatedItems = described?.itemCount ?? plan.sources[source]!.itemCount;
    stream.skipBefore = exp.exportTime - SNAPSHOT_MARGIN_MS;
    if (config.backfill.export?.imported) backfill.completedAt = backfill.startedAt; // loaded by ImportTable
  },
  async run(input, signal) {
    const { exportSource } = await exportBackfill();
    return await copySnapshot(input, exportSource(input.ctx.config, input.source, input.state.backfill.export!.uri), signal);
  },
  streamWaitsFor: (config) =>
    (config.backfill.export?.incremental?.length ?? 0) > 0
      ? 'incremental exports fill the window before the stream, so they are loaded first'
      : undefined,
  async afterSnapshot(input, signal) {
    const { ctx, state } = input;
    const { applyIncrementalExports } = await exportBackfill();
    const coveredUntil = await applyIncrementalExports({
      config: ctx.config,
      source: input.source,
      state: state.backfill,
      mapper: ctx.mapper,
      sinks: ctx.sinks,
      failures: input.failures,
      marginMs: SNAPSHOT_MARGIN_MS,
      onCheckpoint: () => {},
      signal,
      log: input.log,
    });
    if (coveredUntil !== undefined) state.stream.skipBefore = Math.max(state.stream.skipBefore ?? 0, coveredUntil - SNAPSHOT_MARGIN_MS);
  },
};
