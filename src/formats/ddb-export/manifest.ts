import { createHash } from 'node:crypto';
import { exportError } from './export-errors.js';
import type { ExportFormat } from './export-record.js';

/**
 * The two manifests of a DynamoDB export (dynamodb-semantics §4):
 * - manifest-summary.json: one JSON object (export ARN, times, format, item count, where manifest-files.json is);
 * - manifest-files.json: JSON Lines, one per data file: itemCount, md5Checksum, etag, dataFileS3Key.
 * Data files are read only through manifest-files.json, never by listing data/ (a partial or foreign file there would
 * otherwise be applied).
 */
export interface ExportSummary {
  version?: string;
  exportArn?: string;
  tableArn?: string;
  tableId?: string;
  startTime?: string;
  endTime?: string;
  /** The point in time the export reflects (± up to a minute; not transactionally consistent). */
  exportTime: string;
  s3Bucket?: string;
  s3Prefix?: string | null;
  manifestFilesS3Key?: string;
  billedSizeBytes?: number;
  itemCount: number;
  outputFormat: ExportFormat;
  exportType: 'FULL_EXPORT' | 'INCREMENTAL_EXPORT';
  /** Incremental exports: the window [exportFromTime, exportToTime) and the view type. */
  exportFromTime?: string;
  exportToTime?: string;
  outputView?: string;
}

export interface ManifestFileEntry {
  itemCount: number;
  /** Base64 MD5 of the data object's bytes as stored (the .gz bytes, not the decompressed JSON). */
  md5Checksum?: string;
  /** S3 ETag of the object (a multipart ETag like "…-1" for AWS exports); informational. */
  etag?: string;
  /** The key as the manifest gives it: relative to the bucket root, including the export's prefix. */
  dataFileS3Key: string;
  /** The same file relative to the export folder (`data/abc.json.gz`): what we actually read. */
  relativeKey: string;
}

export function parseSummary(text: string, where: string): ExportSummary {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw manifestInvalid(`${where} is not valid JSON: ${(err as Error).message}`, where);
  }
  if (typeof raw !== 'object' || raw === null) throw manifestInvalid(`${where} is not a JSON object`, where);
  const format = raw['outputFormat'] ?? 'DYNAMODB_JSON';
  if (format !== 'DYNAMODB_JSON' && format !== 'ION') {
    throw manifestInvalid(`${where}: outputFormat ${JSON.stringify(format)} is not DYNAMODB_JSON or ION`, where);
  }
  const exportType = raw['exportType'] ?? 'FULL_EXPORT';
  if (exportType !== 'FULL_EXPORT' && exportType !== 'INCREMENTAL_EXPORT') {
    throw manifestInvalid(`${where}: exportType ${JSON.stringify(exportType)} is not FULL_EXPORT or INCREMENTAL_EXPORT`, where);
  }
  const itemCount = raw['itemCount'];
  if (!isCount(itemCount)) throw manifestInvalid(`${where}: itemCount must be a non-negative integer`, where);
  const exportTime = raw['exportTime'] ?? raw['exportToTime'];
  if (typeof exportTime !== 'string' || Number.isNaN(Date.parse(exportTime))) {
    throw manifestInvalid(`${where}: exportTime is missing or not a timestamp`, where);
  }
  const str = (k: string): string | undefined => (typeof raw[k] === 'string' ? (raw[k] as string) : undefined);
  const summary: ExportSummary = { exportTime, itemCount, outputFormat: format, exportType };
  for (const k of [
    'version',
    'exportArn',
    'tableArn',
    'tableId',
    'startTime',
    'endTime',
    's3Bucket',
    'manifestFilesS3Key',
    'exportFromTime',
    'exportToTime',
    'outputView',
  ] as const) {
    const v = str(k);
    if (v !== undefined) summary[k] = v;
  }
  if (typeof raw['s3Prefix'] === 'string' || raw['s3Prefix'] === null) summary.s3Prefix = raw['s3Prefix'] as string | null;
  if (typeof raw['billedSizeBytes'] === 'number') summary.billedSizeBytes = raw['billedSizeBytes'];
  if (exportType === 'INCREMENTAL_EXPORT' && (!summary.exportFromTime || !summary.exportToTime)) {
    throw manifestInvalid(`${where}: an incremental export must give exportFromTime and exportToTime`, where);
  }
  return summary;
}

export function parseManifestFiles(text: string, where: string, exportId: string): ManifestFileEntry[] {
  const entries: ManifestFileEntry[] = [];
  const seen = new Set<string>();
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let raw: Record<string, unknown>;
    try {
      raw = JSON.parse(line) as Record<string, unknown>;
    } catch (err) {
      throw manifestInvalid(`${where} line ${i + 1} is not valid JSON: ${(err as Error).message}`, where);
    }
    const key = raw?.['dataFileS3Key'];
    const itemCount = raw?.['itemCount'];
    if (typeof key !== 'string' || key === '') throw manifestInvalid(`${where} line ${i + 1} has no dataFileS3Key`, where);
    if (!isCount(itemCount)) throw manifestInvalid(`${where} line ${i + 1}: itemCount must be a non-negative integer`, where);
    const relativeKey = relativeDataKey(key, exportId, where);
    // The same file listed twice would be applied twice and double-count the summary check.
    if (seen.has(relativeKey)) throw manifestInvalid(`${where} lists ${key} twice`, where);
    seen.add(relativeKey);
    const entry: ManifestFileEntry = { itemCount, dataFileS3Key: key, relativeKey };
    if (typeof raw['md5Checksum'] === 'string' && raw['md5Checksum'] !== '') entry.md5Checksum = raw['md5Checksum'];
    if (typeof raw['etag'] === 'string') entry.etag = raw['etag'];
    entries.push(entry);
  });
  return entries;
}

/**
 * Maps a manifest key (relative to the bucket root, e.g. `2020-Nov/AWSDynamoDB/0134…-abc/data/x.json.gz`) onto the
 * export folder: the part after `AWSDynamoDB/<ExportId>/`. This also works when the export was copied to another
 * bucket, prefix or a local folder, where the original bucket-relative key would point at nothing.
 */
export function relativeDataKey(key: string, exportId: string, where = 'manifest'): string {
  const marker = `AWSDynamoDB/${exportId}/`;
  let rel: string;
  const at = key.lastIndexOf(marker);
  if (at >= 0) rel = key.slice(at + marker.length);
  else if (!key.includes('AWSDynamoDB/')) rel = key.replace(/^\/+/, '');
  else {
    throw manifestInvalid(`${where} names ${key}, which belongs to another export than ${exportId}`, where);
  }
  if (rel === '' || rel.split('/').some((part) => part === '..' || part === '.')) {
    throw manifestInvalid(`${where} names ${JSON.stringify(key)}, which is not a file inside the export folder`, where);
  }
  return rel;
}

/** The total items the manifest lists; must equal the summary's itemCount. */
export function manifestItemCount(entries: ManifestFileEntry[]): number {
  return entries.reduce((n, e) => n + e.itemCount, 0);
}

export function md5(bytes: Uint8Array): Buffer {
  return createHash('md5').update(bytes).digest();
}

/**
 * Does a manifest's checksum text match an MD5 digest? AWS writes base64 (md5Checksum in manifest-files.json, the
 * 24-byte `.md5` companion files); hex is accepted too, as some tools write it for the `.checksum` files.
 */
export function checksumMatches(expected: string, digest: Buffer): boolean {
  const text = expected.trim();
  return text === digest.toString('base64') || text.toLowerCase() === digest.toString('hex');
}

/** The ETag S3 gives an object uploaded as one multipart part: hex MD5 of the part's MD5, then "-1". */
export function singlePartMultipartEtag(digest: Buffer): string {
  return `${createHash('md5').update(digest).digest('hex')}-1`;
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function manifestInvalid(message: string, where: string) {
  return exportError('manifest-invalid', message, 'the export is incomplete or damaged: point at a completed export, or export the table again', {
    file: where,
  });
}
