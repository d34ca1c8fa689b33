import type { S3Client } from '@aws-sdk/client-s3';
import type { S3Access } from '../../aws/s3.js';
import { exportError } from './export-errors.js';
import { openStore, type BlobStore } from './export-store.js';
import {
  checksumMatches,
  manifestItemCount,
  md5,
  parseManifestFiles,
  parseSummary,
  relativeDataKey,
  type ExportSummary,
  type ManifestFileEntry,
} from './manifest.js';

/** A located, manifest-checked export folder. */
export interface LoadedExport {
  /** The export folder `…/AWSDynamoDB/<ExportId>/`. */
  store: BlobStore;
  exportId: string;
  summary: ExportSummary;
  files: ManifestFileEntry[];
}

/** Strips the `export:` scheme a backfill strategy string may carry (`export:s3://bucket/prefix`). */
export function exportUri(uri: string): string {
  return uri.startsWith('export:') ? uri.slice('export:'.length) : uri;
}

/**
 * Finds the export folder `uri` names: the folder itself (it holds manifest-summary.json), or a prefix holding exactly
 * one `AWSDynamoDB/<ExportId>/` — never a guess between several.
 */
export async function locateExport(uri: string, access: S3Access = {}, client?: S3Client): Promise<{ store: BlobStore; exportId: string }> {
  const root = openStore(exportUri(uri), access, client);
  if (await root.get('manifest-summary.json')) return { store: root, exportId: lastSegment(root.uri) };
  if (await root.get('_started')) {
    throw exportError(
      'unfinished',
      `the export at ${root.uri} has started but has no manifest-summary.json yet`,
      'wait for the export to complete (DescribeExport status COMPLETED), then run again',
      { uri: root.uri },
    );
  }
  const base = /(^|\/)AWSDynamoDB\/?$/.test(root.uri) ? root : root.child('AWSDynamoDB');
  const { prefixes } = await base.list('', '/');
  const ids = prefixes.map((p) => p.replace(/\/$/, '')).filter((id) => id !== '' && id !== 'data');
  if (ids.length === 0) {
    throw exportError(
      'not-found',
      `no DynamoDB export found at ${root.uri} (no manifest-summary.json and no AWSDynamoDB/<ExportId>/ folder)`,
      'point at the export folder …/AWSDynamoDB/<ExportId>/ or at the prefix the export was written to',
      { uri: root.uri },
    );
  }
  if (ids.length > 1) {
    throw exportError(
      'ambiguous',
      `${base.uri} holds ${ids.length} exports (${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ', …' : ''})`,
      `point at one of them, e.g. ${base.uriOf(`${ids[0]}/`)}`,
      { uri: root.uri, exports: ids },
    );
  }
  const store = base.child(ids[0]!);
  if (!(await store.get('manifest-summary.json'))) {
    throw exportError(
      'unfinished',
      `the export at ${store.uri} has no manifest-summary.json (still running, failed, or partly copied)`,
      'wait for the export to complete, or copy the whole export folder',
      { uri: store.uri },
    );
  }
  return { store, exportId: ids[0]! };
}

/** Locates the export, reads both manifests and checks them against each other and their checksum files. */
export async function loadExport(uri: string, access: S3Access = {}, client?: S3Client): Promise<LoadedExport> {
  const { store, exportId } = await locateExport(uri, access, client);
  return readManifests(store, exportId);
}

/** Reads and cross-checks the manifests of the export folder `store`. */
export async function readManifests(store: BlobStore, exportId: string): Promise<LoadedExport> {
  const summaryText = await store.get('manifest-summary.json');
  if (!summaryText) throw exportError('unfinished', `${store.uriOf('manifest-summary.json')} is missing`, 'point at a completed export');
  const summary = parseSummary(summaryText.toString('utf8'), store.uriOf('manifest-summary.json'));
  await checkCompanionChecksum(store, 'manifest-summary', summaryText);

  const filesKey = summary.manifestFilesS3Key
    ? relativeDataKey(summary.manifestFilesS3Key, exportId, store.uriOf('manifest-summary.json'))
    : 'manifest-files.json';
  const filesText = await store.get(filesKey);
  if (!filesText) {
    throw exportError(
      'missing-file',
      `${store.uriOf(filesKey)} is missing`,
      'the export is incomplete: copy the whole export folder or export again',
      { file: store.uriOf(filesKey) },
    );
  }
  await checkCompanionChecksum(store, filesKey.replace(/\.json$/, ''), filesText);
  const files = parseManifestFiles(filesText.toString('utf8'), store.uriOf(filesKey), exportId);
  const listed = manifestItemCount(files);
  if (listed !== summary.itemCount) {
    throw exportError(
      'summary-count-mismatch',
      `${store.uriOf(filesKey)} lists ${listed} items in ${files.length} files, but manifest-summary.json says ${summary.itemCount}`,
      'the export is incomplete or its manifests were edited: export the table again',
      { listed, summaryItemCount: summary.itemCount },
    );
  }
  return { store, exportId, summary, files };
}

/**
 * AWS writes a checksum file next to each manifest (`.md5` in the exports seen so far, `.checksum` in the current
 * docs): base64 MD5 of the manifest. Checked when present; absent ones are fine (copies often drop them).
 */
async function checkCompanionChecksum(store: BlobStore, base: string, content: Buffer): Promise<void> {
  for (const ext of ['.md5', '.checksum']) {
    const expected = await store.get(base + ext);
    if (expected === undefined) continue;
    if (!checksumMatches(expected.toString('utf8'), md5(content))) {
      throw exportError(
        'manifest-checksum-mismatch',
        `${store.uriOf(`${base}.json`)} does not match its checksum file ${base}${ext}`,
        'the manifest was damaged or edited after the export: copy it again or export again',
        { file: store.uriOf(`${base}.json`) },
      );
    }
  }
}

function lastSegment(uri: string): string {
  return uri.replace(/\/+$/, '').split(/[/\\]/).pop() ?? uri;
}
