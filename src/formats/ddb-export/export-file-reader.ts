import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { exportError, LineDecodeError } from './export-errors.js';
import type { DecodeMode, ExportFormat, ExportRecord } from './export-record.js';
import type { BlobStore, FetchedFile } from './export-store.js';
import { decodeVerifiedLines, jsonTextPages, streamLineBatches, type ScanResult } from './file-decoder.js';
import type { DecodePool } from './decode-pool.js';
import { checksumMatches, type ManifestFileEntry } from './manifest.js';

export interface ExportFileReadOptions {
  store: BlobStore;
  entry: ManifestFileEntry;
  format: ExportFormat;
  mode: DecodeMode;
  /** Records already applied (a resumed cursor): they are skipped, after the whole file has been verified. */
  fromLine: number;
  pageSize: number;
  pool: DecodePool;
  /** Files that decompress to at most this are decoded once and held; larger ones are verified, then decoded again in a stream. */
  keepLimitBytes: number;
  /** S3 objects up to this size are fetched into memory; larger ones are spooled to tempDir. */
  memoryLimitBytes: number;
  tempDir?: string;
  signal?: AbortSignal;
}

/** How a caller tunes reading: every field optional; `readTuning` fills in the defaults. */
export interface ExportReadTuning {
  /** Records per page (default 1000). */
  pageSize?: number;
  pool?: DecodePool;
  /** Files that decompress to at most this are decoded once and held (default 32 MiB). */
  keepLimitBytes?: number;
  /** S3 objects up to this size are fetched into memory, larger ones spooled to tempDir (default 16 MiB). */
  memoryLimitBytes?: number;
  tempDir?: string;
}

/** The read options a tuning stands for, with the defaults every export reader uses. */
export function readTuning(
  tuning: ExportReadTuning,
  defaultPool: () => DecodePool,
): Pick<ExportFileReadOptions, 'pageSize' | 'pool' | 'keepLimitBytes' | 'memoryLimitBytes' | 'tempDir'> {
  return {
    pageSize: tuning.pageSize ?? 1000,
    pool: tuning.pool ?? defaultPool(),
    keepLimitBytes: tuning.keepLimitBytes ?? 32 * 1024 * 1024,
    memoryLimitBytes: tuning.memoryLimitBytes ?? 16 * 1024 * 1024,
    ...(tuning.tempDir ? { tempDir: tuning.tempDir } : {}),
  };
}

export interface ExportFilePage {
  records: ExportRecord[];
  /** Records of the file applied once this page is: the resume cursor. */
  nextLine: number;
  done: boolean;
}

/** Decode batches kept in flight ahead of the consumer when streaming a large file. */
const READ_AHEAD = 2;

/**
 * Reads one data file listed in manifest-files.json. The whole file is checked first — its MD5 against md5Checksum,
 * its record count against itemCount, every line decodable — and only then are pages yielded, so a damaged file
 * fails before any of its items reaches a target. Memory stays bounded: a file is held decoded only when it is small
 * (keepLimitBytes); a larger one is verified in a first streaming pass and decoded again in a second.
 */
export async function* readExportFile(opts: ExportFileReadOptions): AsyncGenerator<ExportFilePage> {
  const { store, entry } = opts;
  const where = store.uriOf(entry.relativeKey);
  const fetched = await store.fetch(entry.relativeKey, {
    memoryLimitBytes: opts.memoryLimitBytes,
    ...(opts.tempDir ? { tempDir: opts.tempDir } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  if (!fetched) {
    throw exportError(
      'missing-file',
      `${where} is listed in manifest-files.json but does not exist`,
      'the export is incomplete: copy the whole export folder, or export the table again',
      { file: where },
    );
  }
  try {
    const input = fetched.path ? { path: fetched.path } : { bytes: fetched.bytes! };
    let scan: ScanResult;
    try {
      scan = await opts.pool.scan({ ...input, format: opts.format, mode: opts.mode, keepLimitBytes: opts.keepLimitBytes });
    } catch (err) {
      throw await explainScanFailure(err, fetched, entry, where);
    }
    if (entry.md5Checksum && !checksumMatches(entry.md5Checksum, Buffer.from(scan.md5Base64, 'base64'))) {
      throw exportError(
        'checksum-mismatch',
        `${where} is damaged: its MD5 is ${scan.md5Base64}, manifest-files.json says ${entry.md5Checksum}`,
        'copy the export again (or export the table again); nothing from this file was applied',
        { file: where, expected: entry.md5Checksum, actual: scan.md5Base64 },
      );
    }
    if (scan.count !== entry.itemCount) {
      throw exportError(
        'count-mismatch',
        `${where} holds ${scan.count} items, manifest-files.json says ${entry.itemCount}`,
        'the file or the manifest was changed after the export: copy the export again or export again; nothing from this file was applied',
        { file: where, expected: entry.itemCount, actual: scan.count },
      );
    }
    if (opts.fromLine > scan.count || opts.fromLine < 0 || !Number.isInteger(opts.fromLine)) {
      throw exportError(
        'cursor-invalid',
        `the saved position (record ${opts.fromLine}) is past the end of ${where} (${scan.count} records)`,
        'the state belongs to another export: start the migration again from a fresh state folder',
        { file: where, line: opts.fromLine },
      );
    }
    if (scan.text) yield* textPages(scan.text, scan.count, scan.plain, opts, where);
    else yield* streamPages(input, scan.count, scan.plain, opts, where);
  } finally {
    await fetched.release();
  }
}

/** A small verified file: its text is held, items are built a page at a time on this thread. */
function* textPages(text: Uint8Array, count: number, plain: boolean, opts: ExportFileReadOptions, where: string): Generator<ExportFilePage> {
  let at = opts.fromLine;
  if (at >= count) {
    yield { records: [], nextLine: count, done: true };
    return;
  }
  const pages = jsonTextPages(text, opts.mode, opts.fromLine, opts.pageSize, plain);
  for (;;) {
    let next: IteratorResult<ExportRecord[]>;
    try {
      next = pages.next();
    } catch (err) {
      throw decodeFailure(err, where);
    }
    if (next.done) return;
    at += next.value.length;
    yield { records: next.value, nextLine: at, done: at === count };
  }
}

/**
 * Second pass over a large, already verified file: lines stream off disk; DynamoDB JSON lines are parsed here
 * (JSON.parse is as fast as receiving objects from a worker), ION batches are converted on the pool.
 */
async function* streamPages(
  input: { path?: string; bytes?: Uint8Array },
  count: number,
  plain: boolean,
  opts: ExportFileReadOptions,
  where: string,
): AsyncGenerator<ExportFilePage> {
  if (opts.fromLine >= count) {
    yield { records: [], nextLine: count, done: true };
    return;
  }
  const pending: Promise<{ records: ExportRecord[]; nextLine: number }>[] = [];
  const batches = streamLineBatches(input, opts.fromLine, opts.pageSize, opts.signal);
  try {
    for await (const batch of batches) {
      const decoded =
        opts.format === 'ION'
          ? opts.pool.ionToJson(opts.mode, batch.lines, batch.firstLine).then((text) => [...jsonTextPages(text, opts.mode, 0, Infinity, true)].flat())
          : Promise.resolve().then(() => decodeVerifiedLines(batch.lines, opts.mode, batch.firstLine, plain));
      pending.push(
        decoded
          .then((records) => ({ records, nextLine: batch.firstLine + records.length }))
          .catch((err) => {
            throw decodeFailure(err, where);
          }),
      );
      // Swallow rejections of read-ahead promises here; they are rethrown when awaited in order.
      pending[pending.length - 1]!.catch(() => {});
      if (pending.length > READ_AHEAD) {
        const page = await pending.shift()!;
        yield { ...page, done: page.nextLine === count };
      }
    }
    while (pending.length > 0) {
      const page = await pending.shift()!;
      yield { ...page, done: page.nextLine === count };
    }
  } finally {
    await batches.return(undefined);
  }
}

/**
 * A scan that failed (gzip error, undecodable line). When the file's MD5 doesn't match the manifest, that is the
 * clearer diagnosis: the file is damaged, not the decoder wrong.
 */
async function explainScanFailure(err: unknown, fetched: FetchedFile, entry: ManifestFileEntry, where: string): Promise<Error> {
  if (entry.md5Checksum) {
    const digest = fetched.bytes ? createHash('md5').update(fetched.bytes).digest() : await md5OfFile(fetched.path!);
    if (!checksumMatches(entry.md5Checksum, digest)) {
      return exportError(
        'checksum-mismatch',
        `${where} is damaged: its MD5 is ${digest.toString('base64')}, manifest-files.json says ${entry.md5Checksum} (${(err as Error).message})`,
        'copy the export again (or export the table again); nothing from this file was applied',
        { file: where, expected: entry.md5Checksum, actual: digest.toString('base64') },
        err,
      );
    }
  }
  return decodeFailure(err, where);
}

function decodeFailure(err: unknown, where: string): Error {
  const line = err instanceof LineDecodeError && err.line !== undefined ? ` line ${err.line + 1}` : '';
  return exportError(
    'undecodable',
    `${where}${line} can't be read: ${(err as Error)?.message ?? String(err)}`,
    "the file is not a DynamoDB export data file of the manifest's format (or is damaged); nothing from this file was applied",
    { file: where, ...(err instanceof LineDecodeError && err.line !== undefined ? { line: err.line + 1 } : {}) },
    err,
  );
}

async function md5OfFile(path: string): Promise<Buffer> {
  const hash = createHash('md5');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest();
}
