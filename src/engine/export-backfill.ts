import type { ResolvedConfig } from '../config/resolved-config.js';
import { DynashiftError, ExportInProgressError } from '../errors.js';
import { withClients } from '../aws/clients.js';
import { roleFor } from '../aws/errors.js';
import { isS3Uri, s3ClientFor, type S3Access } from '../aws/s3.js';
import type { ItemMapper } from '../core/transform.js';
import { changeWrites } from '../core/protocol.js';
import {
  ExportSource,
  exportUri,
  IncrementalExports,
  startExport,
  waitForExport,
  type ExportApiClient,
  type ExportDescription,
  type IncrementalCursor,
} from '../sources/export/index.js';
import type { Sink } from '../sinks/sink.js';
import type { BackfillState } from '../state/migration-state.js';
import type { ExportStartControl } from './strategies/backfill-strategy.js';
import type { FailurePolicy } from './failure-policy.js';
import type { Logger } from './logger.js';
import { writeToTargets } from './write-all.js';

/** Where the export backfill reads from: the config's S3/endpoint settings. */
export function exportAccess(config: ResolvedConfig): S3Access {
  const e = config.backfill.export ?? {};
  return {
    ...(e.region ? { region: e.region } : {}),
    ...(e.endpoint ? { endpoint: e.endpoint } : {}),
    ...(e.forcePathStyle !== undefined ? { forcePathStyle: e.forcePathStyle } : {}),
    ...(e.profile ? { profile: e.profile } : {}),
    ...(e.roleArn ? { roleArn: e.roleArn } : {}),
  };
}

export function exportSource(config: ResolvedConfig, source: string, uri: string): ExportSource {
  return new ExportSource({ name: source, uri, access: exportAccess(config) });
}

/** Reads an export's manifests with an S3 client of its own (none for a local folder), destroyed once read. */
export async function describeExportAt(config: ResolvedConfig, source: string, uri: string): Promise<ExportDescription> {
  const access = exportAccess(config);
  const s3Client = isS3Uri(exportUri(uri)) ? s3ClientFor(access) : undefined;
  try {
    return await new ExportSource({ name: source, uri, access, ...(s3Client ? { s3Client } : {}) }).describe();
  } finally {
    s3Client?.destroy();
  }
}

/**
 * The export the backfill reads: the configured one, or — with `export.start` on real AWS — a new
 * ExportTableToPointInTime, waited for to completion. Its exportTime bounds what the stream catch-up must replay.
 */
export async function locateBackfillExport(
  ctx: { config: ResolvedConfig; plan: { sources: Record<string, { arn?: string }> } },
  source: string,
  log: Logger,
  control: ExportStartControl = {},
): Promise<NonNullable<BackfillState['export']>> {
  const cfg = ctx.config.backfill.export;
  if (cfg?.uri) {
    const d = await describeExportAt(ctx.config, source, cfg.uri);
    return { uri: cfg.uri, exportTime: d.exportTime, ...(d.exportArn ? { exportArn: d.exportArn } : {}) };
  }
  if (!cfg?.start) {
    throw new DynashiftError('CONFIG_INVALID', 'the export backfill needs backfill.export.uri or backfill.export.start', {
      hint: 'point backfill.export.uri at an export (s3://bucket/prefix or a folder), or set export.start to take one',
      exitCode: 2,
    });
  }
  const tableArn = ctx.plan.sources[source]?.arn;
  if (!tableArn) throw new DynashiftError('SOURCE_TABLE_NOT_FOUND', `source ${source} has no table ARN to export`, { hint: 'check source.table' });
  const start = cfg.start;
  const takeExport = async (client: ExportApiClient) => {
    const started = await startExport(client, {
      tableArn,
      s3Bucket: start.s3Bucket,
      ...(start.s3Prefix ? { s3Prefix: start.s3Prefix } : {}),
      ...(start.format ? { format: start.format } : {}),
      ...(control.clientToken ? { clientToken: control.clientToken } : {}),
    });
    log.info({ source, exportArn: started.exportArn }, 'export started (or found by its token); waiting for it to complete');
    try {
      return await waitForExport(client, started.exportArn, {
        ...(control.waitMs !== undefined ? { timeoutMs: control.waitMs } : {}),
        ...(control.pollMs !== undefined ? { pollMs: control.pollMs, maxPollMs: Math.max(control.pollMs, 1) } : {}),
      });
    } catch (err) {
      const status = err instanceof DynashiftError ? err.details?.['status'] : undefined;
      if (control.waitMs === undefined || (status !== 'IN_PROGRESS' && status !== 'UNKNOWN')) throw err;
      throw new ExportInProgressError(`export ${started.exportArn} of source ${source} is still in progress`, started.exportArn);
    }
  };
  const done = control.client
    ? await takeExport(control.client)
    : await withClients(ctx.config.sources[source]!, roleFor('source', source, ctx.config.sources[source]!), ({ dynamodb }) => takeExport(dynamodb));
  const d = await describeExportAt(ctx.config, source, done.uri);
  return { uri: done.uri, exportTime: d.exportTime, exportArn: done.exportArn };
}

/**
 * Incremental exports apply, in their window order, after the full export and before the stream: they are ordered
 * change records like the stream's, so the same write rules apply. The cursor moves only after a page has landed.
 * Afterwards the stream needs replaying only from the end of the last window (minus the margin).
 */
export async function applyIncrementalExports(opts: {
  config: ResolvedConfig;
  source: string;
  state: BackfillState;
  mapper: ItemMapper;
  sinks: Record<string, Sink>;
  failures: FailurePolicy;
  marginMs: number;
  onCheckpoint: () => void;
  signal: AbortSignal;
  log: Logger;
}): Promise<number | undefined> {
  const uris = opts.config.backfill.export?.incremental ?? [];
  const exp = opts.state.export!;
  if (uris.length === 0 || exp.incrementalDone) return undefined;
  const chain = await IncrementalExports.open(uris, {
    source: opts.source,
    access: exportAccess(opts.config),
    startNoLaterThan: exp.exportTime - opts.marginMs,
  });
  for await (const { page, cursor } of chain.pages(exp.incrementalCursor as IncrementalCursor | undefined, opts.signal)) {
    const mapped = changeWrites(opts.mapper, page);
    await opts.failures.handle(mapped.failures, []);
    const { rejected } = await writeToTargets(opts.sinks, mapped.ops);
    await opts.failures.handle([], rejected);
    exp.incrementalCursor = cursor;
    opts.onCheckpoint();
    if (opts.signal.aborted) return undefined;
  }
  exp.incrementalDone = true;
  opts.log.info({ source: opts.source, exports: uris.length }, 'incremental exports applied');
  return chain.coveredUntil;
}
