import type { FilesTargetConfig } from './files-config.js';
import type { Refusal } from '../../errors.js';
import type { S3Client } from '@aws-sdk/client-s3';
import { isS3Uri, parseS3Uri, s3ClientFor } from '../../aws/s3.js';
import { fmtKey } from '../dynamodb/dynamodb-driver.js';
import { typed, type DriverContext, type SinkDriver, type SinkOpenOptions, type TargetInspection } from '../driver.js';
import { ensureStarted } from '../../formats/ddb-export/export-writer.js';
import { FilesSink } from './files-sink.js';
import { filesKind } from './files-kind.js';
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
  ...filesKind,

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
      refusals.push({
        code: 'TARGET_KEY_MISSING',
        message: `the key of files target ${target.table} is unknown`,
        hint: 'set target.keySchema: { partitionKey: { name, type }, sortKey?: { name, type } }',
      });
    }
    const client = s3ClientOf(settings);
    const location = exportLocation(settings, client);
    const folder = location.folder;
    let finalized: boolean;
    let started: boolean;
    try {
      finalized = (await folder.get('manifest-summary.json')) !== undefined;
      started = finalized || (await folder.get('_started')) !== undefined;
    } finally {
      client?.destroy(); // only the two reads above use it
    }
    if (finalized) {
      notes.push(
        `target ${target.table}: the export at ${folder.uri} is already complete; it is write-once, so a new migration needs another files.exportId`,
      );
    } else if (started) {
      notes.push(
        `target ${target.table}: an unfinished export exists at ${folder.uri} (fine when resuming; otherwise delete it or choose another files.exportId)`,
      );
    }
    notes.push(
      `target ${target.table} is write-once (export files): the backfill is written, stream changes are not applied — the export holds each item as read during the backfill`,
    );
    const importPrefix = isS3Uri(settings.uri) ? `${location.rootKey}data/` : undefined;
    if (importPrefix) {
      notes.push(
        `load it with ImportTable: S3Bucket ${location.bucket}, S3KeyPrefix ${importPrefix}, InputFormat DYNAMODB_JSON, InputCompressionType GZIP`,
      );
    }
    const describe = [
      `export     ${folder.uri}`,
      `format     DYNAMODB_JSON, gzip, data files up to ${Math.round(settings.maxFileBytes / 1024 / 1024)} MiB of JSON each`,
      ...(keySchema ? [`key        ${fmtKey(keySchema)}`] : []),
      'mode       write-once: backfill only, no stream catch-up',
    ];
    const resource = isS3Uri(settings.uri) ? `arn:aws:s3:::${parseS3Uri(settings.uri).bucket}/${location.rootKey}*` : folder.uri;
    return {
      exists: started,
      willCreate: !started,
      describe,
      notes,
      refusals,
      ...(keySchema ? { keySchema } : {}),
      permissions: isS3Uri(settings.uri)
        ? {
            actions: [
              's3:PutObject',
              's3:GetObject',
              's3:ListBucket',
              's3:DeleteObject',
              's3:AbortMultipartUpload',
              's3:ListBucketMultipartUploads',
              ...(target.roleArn ? ['sts:AssumeRole'] : []),
            ],
            resources: [resource, `arn:aws:s3:::${parseS3Uri(settings.uri).bucket}`],
          }
        : { actions: ['read and write the folder'], resources: [resource] },
      detail: { writeOnce: true, exportFolder: folder.uri, finalized } satisfies FilesDetail,
    };
  },

  async prepare(_name: string, target: FilesTargetConfig): Promise<void> {
    const settings = filesSettings(target);
    await withS3Client(settings, async (client) => {
      const location = exportLocation(settings, client);
      if ((await location.folder.get('manifest-summary.json')) === undefined) await ensureStarted(location.folder);
    });
  },

  open(name: string, target: FilesTargetConfig, opts: SinkOpenOptions) {
    const settings = filesSettings(target);
    const client = s3ClientOf(settings);
    const sink = new FilesSink({
      name,
      location: exportLocation(settings, client),
      keySchema: opts.keySchema,
      maxFileBytes: settings.maxFileBytes,
      concurrency: opts.concurrency,
    });
    // The sink owns its S3 client: the engine closes the sink when the run ends.
    const flush = sink.close.bind(sink);
    return Object.assign(sink, {
      close: async () => {
        try {
          await flush();
        } finally {
          client?.destroy();
        }
      },
    });
  },
});

/** The S3 client an S3 export folder needs (none for a local folder); whoever asks for it destroys it. */
function s3ClientOf(settings: FilesSettings): S3Client | undefined {
  return isS3Uri(settings.uri) ? s3ClientFor(settings.access) : undefined;
}

/** An S3 client for one call on the export folder, destroyed when it settles. */
async function withS3Client<T>(settings: FilesSettings, fn: (client: S3Client | undefined) => Promise<T>): Promise<T> {
  const client = s3ClientOf(settings);
  try {
    return await fn(client);
  } finally {
    client?.destroy();
  }
}
