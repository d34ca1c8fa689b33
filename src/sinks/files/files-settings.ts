import type { S3Client } from '@aws-sdk/client-s3';
import type { FilesTargetConfig } from './files-config.js';
import { isS3Uri, parseS3Uri, s3ClientFor, type S3Access } from '../../aws/s3.js';
import { DynashiftError } from '../../errors.js';
import { openStore } from '../../formats/ddb-export/export-store.js';
import type { ExportLocation } from '../../formats/ddb-export/export-writer.js';

/**
 * The settings of a `kind: "files"` target, read from `target.files` (validated by files-config.ts; read loosely
 * here too, for callers that build a target by hand). The export is written to `<uri>/AWSDynamoDB/<exportId>/`,
 * exportId defaulting to `target.table`.
 */
export interface FilesSettings {
  /** A local folder or s3://bucket/prefix. */
  uri: string;
  exportId: string;
  /** Uncompressed bytes per data file before a new one starts (default 256 MiB). */
  maxFileBytes: number;
  access: S3Access;
}

export const DEFAULT_MAX_FILE_BYTES = 256 * 1024 * 1024;
/** Below this a data file would be mostly overhead, and ImportTable takes at most 50,000 objects. */
const MIN_MAX_FILE_BYTES = 64 * 1024;

export function filesSettings(target: FilesTargetConfig): FilesSettings {
  const raw = (target as { files?: Record<string, unknown> }).files ?? {};
  const uri = raw['uri'];
  if (typeof uri !== 'string' || uri === '') {
    throw new DynashiftError('CONFIG_INVALID', `target ${target.table}: a files target needs files.uri (a folder or s3://bucket/prefix)`, {
      hint: 'add "files": { "uri": "s3://my-bucket/exports" } (or a local folder) to the target',
      exitCode: 2,
    });
  }
  const exportId = typeof raw['exportId'] === 'string' && raw['exportId'] !== '' ? raw['exportId'] : target.table;
  if (!/^[A-Za-z0-9._-]+$/.test(exportId)) {
    throw new DynashiftError(
      'CONFIG_INVALID',
      `target ${target.table}: export id ${JSON.stringify(exportId)} must be letters, digits, dot, dash or underscore`,
      {
        hint: 'set files.exportId (or rename the target table)',
        exitCode: 2,
      },
    );
  }
  const maxFileBytes = typeof raw['maxFileBytes'] === 'number' ? raw['maxFileBytes'] : DEFAULT_MAX_FILE_BYTES;
  if (!Number.isSafeInteger(maxFileBytes) || maxFileBytes < MIN_MAX_FILE_BYTES) {
    throw new DynashiftError('CONFIG_INVALID', `target ${target.table}: files.maxFileBytes must be an integer ≥ ${MIN_MAX_FILE_BYTES}`, {
      hint: 'leave it out for 256 MiB',
      exitCode: 2,
    });
  }
  const str = (k: string): string | undefined => (typeof raw[k] === 'string' ? (raw[k] as string) : undefined);
  const access: S3Access = {};
  const region = str('region') ?? target.region;
  if (region) access.region = region;
  const endpoint = str('endpoint');
  if (endpoint) access.endpoint = endpoint;
  if (typeof raw['forcePathStyle'] === 'boolean') access.forcePathStyle = raw['forcePathStyle'];
  const profile = str('profile') ?? target.profile;
  if (profile) access.profile = profile;
  const roleArn = str('roleArn') ?? target.roleArn;
  if (roleArn) access.roleArn = roleArn;
  const externalId = str('externalId') ?? target.externalId;
  if (externalId) access.externalId = externalId;
  return { uri, exportId, maxFileBytes, access };
}

export function exportLocation(settings: FilesSettings, client?: S3Client): ExportLocation {
  const sub = `AWSDynamoDB/${settings.exportId}`;
  if (isS3Uri(settings.uri)) {
    const { bucket, prefix } = parseS3Uri(settings.uri);
    const p = prefix.replace(/\/+$/, '');
    const root = openStore(settings.uri, settings.access, client ?? s3ClientFor(settings.access));
    return { folder: root.child(sub), exportId: settings.exportId, rootKey: `${p ? `${p}/` : ''}${sub}/`, bucket, prefix: p };
  }
  return { folder: openStore(settings.uri).child(sub), exportId: settings.exportId, rootKey: `${sub}/` };
}
