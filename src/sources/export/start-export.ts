import {
  DescribeContinuousBackupsCommand,
  DescribeExportCommand,
  ExportTableToPointInTimeCommand,
  type DescribeContinuousBackupsCommandOutput,
  type DescribeExportCommandOutput,
  type DynamoDBClient,
  type ExportTableToPointInTimeCommandOutput,
} from '@aws-sdk/client-dynamodb';
import { randomUUID } from 'node:crypto';
import { sleep } from '../../core/backoff.js';
import { DynashiftError } from '../../errors.js';
import { errorName } from '../../aws/errors.js';
import { retryAws } from '../../aws/aws-retry.js';
import type { ExportFormat } from '../../formats/ddb-export/export-record.js';

/** The DynamoDB client calls used here; a stub with `send` stands in for it in tests (DynamoDB Local has no export API). */
export type ExportApiClient = Pick<DynamoDBClient, 'send'>;

export interface StartExportOptions {
  tableArn: string;
  s3Bucket: string;
  /** Key prefix; the export lands in `<prefix>/AWSDynamoDB/<ExportId>/`. */
  s3Prefix?: string;
  s3BucketOwner?: string;
  format?: ExportFormat;
  /** The point in time to export (default: now). Must lie inside the PITR window. */
  exportTime?: Date;
  /** Idempotency token (valid 8 h): retrying with the same token returns the same export. Default: a random one. */
  clientToken?: string;
}

export interface StartedExport {
  exportArn: string;
  exportId: string;
  status: string;
}

/**
 * Starts a full export with ExportTableToPointInTime. Point-in-time recovery must be on (exports read the PITR
 * backups, not the table, and consume no read capacity): a table without it gets a clear refusal that says how to
 * enable it, instead of the API's ValidationException.
 */
export async function startExport(client: ExportApiClient, opts: StartExportOptions): Promise<StartedExport> {
  let backups: DescribeContinuousBackupsCommandOutput;
  try {
    backups = await client.send(new DescribeContinuousBackupsCommand({ TableName: opts.tableArn }));
  } catch (err) {
    throw awsFailure(err, `DescribeContinuousBackups on ${opts.tableArn}`, 'grant dynamodb:DescribeContinuousBackups on the table');
  }
  const pitr = backups.ContinuousBackupsDescription?.PointInTimeRecoveryDescription;
  if (pitr?.PointInTimeRecoveryStatus !== 'ENABLED') {
    throw new DynashiftError(
      'CONFIG_INVALID',
      `point-in-time recovery is ${pitr?.PointInTimeRecoveryStatus?.toLowerCase() ?? 'disabled'} on ${opts.tableArn}; an export to S3 needs it`,
      {
        hint: `aws dynamodb update-continuous-backups --table-name ${tableName(opts.tableArn)} --point-in-time-recovery-specification PointInTimeRecoveryEnabled=true (exports can then cover times from that moment on), or use the scan backfill`,
        exitCode: 2,
        details: { tableArn: opts.tableArn, status: pitr?.PointInTimeRecoveryStatus ?? 'DISABLED' },
      },
    );
  }
  if (opts.exportTime) {
    const earliest = pitr.EarliestRestorableDateTime?.getTime();
    const latest = pitr.LatestRestorableDateTime?.getTime();
    const t = opts.exportTime.getTime();
    if ((earliest !== undefined && t < earliest) || (latest !== undefined && t > latest)) {
      throw new DynashiftError(
        'CONFIG_INVALID',
        `export time ${opts.exportTime.toISOString()} is outside the point-in-time window ${pitr.EarliestRestorableDateTime?.toISOString()} – ${pitr.LatestRestorableDateTime?.toISOString()}`,
        {
          hint: 'choose an export time inside the window, or leave it out to export the current state',
          exitCode: 2,
        },
      );
    }
  }
  let res: ExportTableToPointInTimeCommandOutput;
  try {
    res = await client.send(
      new ExportTableToPointInTimeCommand({
        TableArn: opts.tableArn,
        S3Bucket: opts.s3Bucket,
        ...(opts.s3Prefix ? { S3Prefix: opts.s3Prefix } : {}),
        ...(opts.s3BucketOwner ? { S3BucketOwner: opts.s3BucketOwner } : {}),
        ExportFormat: opts.format ?? 'DYNAMODB_JSON',
        ExportType: 'FULL_EXPORT',
        ...(opts.exportTime ? { ExportTime: opts.exportTime } : {}),
        ClientToken: opts.clientToken ?? randomUUID(),
      }),
    );
  } catch (err) {
    throw awsFailure(
      err,
      `ExportTableToPointInTime of ${opts.tableArn}`,
      'grant dynamodb:ExportTableToPointInTime on the table and s3:PutObject, s3:AbortMultipartUpload on the bucket',
    );
  }
  const arn = res.ExportDescription?.ExportArn;
  if (!arn)
    throw new DynashiftError('AWS_ERROR', 'ExportTableToPointInTime returned no ExportArn', {
      hint: 'retry; if it persists, check the export in the console',
    });
  return { exportArn: arn, exportId: exportIdOf(arn), status: res.ExportDescription?.ExportStatus ?? 'IN_PROGRESS' };
}

export interface WaitForExportOptions {
  signal?: AbortSignal;
  /** First wait between DescribeExport calls (default 5 s); it grows by half each time up to maxPollMs (default 60 s). */
  pollMs?: number;
  maxPollMs?: number;
  /** Give up after this long (default 12 h; large exports take hours). */
  timeoutMs?: number;
  onPoll?: (status: string, elapsedMs: number) => void;
  /** Injected by tests. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  now?: () => number;
}

export interface CompletedExport {
  exportArn: string;
  exportId: string;
  /** The export folder, ready for ExportSource: s3://bucket/prefix/AWSDynamoDB/<ExportId>/ */
  uri: string;
  exportTime?: Date;
  itemCount?: number;
}

/** Polls DescribeExport until COMPLETED (→ the export folder's URI) or FAILED (→ a typed error with AWS's reason). */
export async function waitForExport(client: ExportApiClient, exportArn: string, opts: WaitForExportOptions = {}): Promise<CompletedExport> {
  const now = opts.now ?? Date.now;
  const wait = opts.sleep ?? sleep;
  const started = now();
  let delay = opts.pollMs ?? 5_000;
  for (;;) {
    // one poll per turn; a failed DescribeExport is retried inside retryAws
    if (opts.signal?.aborted)
      throw new DynashiftError('AWS_ERROR', `stopped while waiting for export ${exportArn}`, {
        hint: 'run again: the export keeps running in AWS; wait for it with the same ARN',
      });
    let res: DescribeExportCommandOutput | undefined;
    try {
      res = await retryAws(() => client.send(new DescribeExportCommand({ ExportArn: exportArn })), {
        side: 'source',
        operation: 'DescribeExport',
        clock: { now, sleep: wait },
        baseMs: 1000,
        maxMs: 30_000,
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
    } catch (err) {
      throw awsFailure(err, `DescribeExport ${exportArn}`, 'grant dynamodb:DescribeExport');
    }
    if (!res) continue; // stopped: the check at the top of the loop reports it
    const d = res?.ExportDescription;
    const status = d?.ExportStatus ?? 'UNKNOWN';
    opts.onPoll?.(status, now() - started);
    if (status === 'COMPLETED' && d) {
      const bucket = d.S3Bucket;
      if (!bucket)
        throw new DynashiftError('AWS_ERROR', `export ${exportArn} completed without an S3 bucket in its description`, {
          hint: 'check the export in the console',
        });
      const prefix = (d.S3Prefix ?? '').replace(/\/+$/, '');
      const exportId = exportIdOf(exportArn);
      const out: CompletedExport = { exportArn, exportId, uri: `s3://${bucket}/${prefix ? `${prefix}/` : ''}AWSDynamoDB/${exportId}/` };
      if (d.ExportTime) out.exportTime = d.ExportTime;
      if (d.ItemCount !== undefined) out.itemCount = d.ItemCount;
      return out;
    }
    if (status === 'FAILED') {
      throw new DynashiftError('AWS_ERROR', `export ${exportArn} failed: ${d?.FailureCode ?? 'unknown'}: ${d?.FailureMessage ?? 'no message'}`, {
        hint:
          d?.FailureCode === 'S3AccessDenied'
            ? 'let DynamoDB write to the bucket (bucket policy / KMS key policy), then export again'
            : 'fix the cause AWS reports and export again',
        details: { exportArn, failureCode: d?.FailureCode },
      });
    }
    if (now() - started > (opts.timeoutMs ?? 12 * 3600_000)) {
      throw new DynashiftError('AWS_ERROR', `export ${exportArn} is still ${status} after ${Math.round((now() - started) / 60_000)} min`, {
        hint: 'wait longer (large exports take hours), then run again with this export',
        details: { exportArn, status },
      });
    }
    await wait(delay, opts.signal);
    delay = Math.min(opts.maxPollMs ?? 60_000, Math.ceil(delay * 1.5));
  }
}

/** `arn:aws:dynamodb:…:table/T/export/01234567890123-a1b2c3d4` → `01234567890123-a1b2c3d4` */
export function exportIdOf(exportArn: string): string {
  return exportArn.split('/').pop() ?? exportArn;
}

function tableName(tableArn: string): string {
  return tableArn.includes(':table/') ? tableArn.split(':table/')[1]!.split('/')[0]! : tableArn;
}

function awsFailure(err: unknown, what: string, hint: string): DynashiftError {
  if (err instanceof DynashiftError) return err;
  const name = errorName(err);
  if (name === 'PointInTimeRecoveryUnavailableException') {
    return new DynashiftError('CONFIG_INVALID', `${what}: point-in-time recovery is not enabled`, {
      hint: 'enable point-in-time recovery on the table (update-continuous-backups), or use the scan backfill',
      exitCode: 2,
      cause: err,
    });
  }
  return new DynashiftError('AWS_ERROR', `${what} failed: ${name}: ${(err as Error)?.message ?? String(err)}`, { hint, cause: err });
}
