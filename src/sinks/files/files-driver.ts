import type { FilesTargetConfig } from './files-config.js';
import type { Refusal } from '../../errors.js';
import { isS3Uri, parseS3Uri } from '../../aws/s3.js';
import { fmtKey } from '../dynamodb/dynamodb-driver.js';
import { typed, type DriverContext, type SinkDriver, type SinkOpenOptions, type TargetInspection } from '../driver.js';
import { ensureStarted } from './export-writer.js';
import { FILES_CAPABILITIES, FilesSink } from './files-sink.js';
import { exportLocation, filesSettings, type FilesSettings } from './files-settings.js';

/** What `prepare` and the engine learn from `inspect`. */
export interface FilesDetail {
  /** Backfill only: the engine must not start stream catch-up for this target. */
  writeOnce: true;
  exportFolder: string;
  finalized: boolean;
}

/**
 * `kind: "files"`: the target is a DynamoDB-JSON export written to a folder or S3 prefix
 * (`<uri>/AWSDynamoDB/<exportId>/`), ready for ImportTable. Write-once: it receives the backfill only.
 */
export const filesDriver: SinkDriver = typed<FilesTargetConfig>({
  kind: 'files',
  capabilities: FILES_CAPABILITIES,

  async inspect(_name: string, target: FilesTargetConfig, ctx: DriverContext): Promise<TargetInspection> {
    const refusals: Refusal[] = [];
    const notes: string[] = [];
    let settings: FilesSettings;
    try {
      settings = filesSettings(target);
    } catch (err) {
      refusals.push({ code: 'CONFIG_INVALID', message: (err as Error).message, hint: (err as { hint?: string }).hint ?? 'set target.files.uri' });
      return { exists: false, willCreate: false, describe: [], notes, refusals, permissions: { actions: [], resources: [] } };
    }
    const keySchema = target.keySchema ?? ctx.source?.keySchema;
    if (!keySchema) {
      refusals.push({ code: 'TARGET_KEY_MISSING', message: `the key of files target ${target.table} is unknown`, hint: 'set target.keySchema: { partitionKey: { name, type }, sortKey?: { name, type } }' });
    }
    const location = exportLocation(settings);
    const folder = location.folder;
    const finalized = (await folder.get('manifest-summary.json')) !== undefined;
    const started = finalized || (await folder.get('_started')) !== undefined;
    if (finalized) {
      notes.push(`target ${target.table}: the export at ${folder.uri} is already complete; it is write-once, so a new migration needs another files.exportId`);
    } else if (started) {
      notes.push(`target ${target.table}: an unfinished export exists at ${folder.uri} (fine when resuming; otherwise delete it or choose another files.exportId)`);
    }
    notes.push(`target ${target.table} is write-once (export files): the backfill is written, stream changes are not applied — the export holds each item as read during the backfill`);
    const importPrefix = isS3Uri(settings.uri) ? `${location.rootKey}data/` : undefined;
    if (importPrefix) {
      notes.push(`load it with ImportTable: S3Bucket ${location.bucket}, S3KeyPrefix ${importPrefix}, InputFormat DYNAMODB_JSON, InputCompressionType GZIP`);
    }
    const describe = [
      `export     ${folder.uri}`,
      `format     DYNAMODB_JSON, gzip, data files up to ${Math.round(settings.maxFileBytes / 1024 / 1024)} MiB of JSON each`,
      ...(keySchema ? [`key        ${fmtKey(keySchema)}`] : []),
      'mode       write-once: backfill only, no stream catch-up',
    ];
    const resource = isS3Uri(settings.uri) ? `arn:aws:s3:::${parseS3Uri(settings.uri).bucket}/${location.rootKey}*` : folder.uri;
    return {
      exists: started, willCreate: !started, describe, notes, refusals,
      ...(keySchema ? { keySchema } : {}),
      permissions: isS3Uri(settings.uri)
        ? { actions: ['s3:PutObject', 's3:GetObject', 's3:ListBucket', 's3:DeleteObject', 's3:AbortMultipartUpload', 's3:ListBucketMultipartUploads', ...(target.roleArn ? ['sts:AssumeRole'] : [])], resources: [resource, `arn:aws:s3:::${parseS3Uri(settings.uri).bucket}`] }
        : { actions: ['read and write the folder'], resources: [resource] },
      detail: { writeOnce: true, exportFolder: folder.uri, finalized } satisfies FilesDetail,
    };
  },

  async prepare(_name: string, target: FilesTargetConfig): Promise<void> {
    const location = exportLocation(filesSettings(target));
    if ((await location.folder.get('manifest-summary.json')) === undefined) await ensureStarted(location.folder);
  },

  open(name: string, target: FilesTargetConfig, opts: SinkOpenOptions) {
    const settings = filesSettings(target);
    return new FilesSink({
      name, location: exportLocation(settings), keySchema: opts.keySchema, maxFileBytes: settings.maxFileBytes, concurrency: opts.concurrency,
    });
  },
});
