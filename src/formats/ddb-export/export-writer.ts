import { createHash, randomBytes, type Hash } from 'node:crypto';
import { Transform } from 'node:stream';
import { createGzip, gzipSync, gunzipSync, type Gzip } from 'node:zlib';
import { Semaphore } from '../../core/semaphore.js';
import { DynashiftError } from '../../errors.js';
import type { BlobStore } from './export-store.js';
import { md5, singlePartMultipartEtag } from './manifest.js';

/** Where the export lives: its folder as a store, and its key prefix relative to the bucket root (for manifests). */
export interface ExportLocation {
  folder: BlobStore;
  exportId: string;
  /** `prefix/AWSDynamoDB/<exportId>/` on S3; `AWSDynamoDB/<exportId>/` for a local folder (the folder is the "bucket"). */
  rootKey: string;
  bucket?: string;
  prefix?: string;
}

/**
 * Writes a DynamoDB-JSON export (the layout DynamoDB's ExportTableToPointInTime writes and ImportTable reads) in a
 * way that survives crashes without losing or half-writing anything:
 *
 * 1. Every `append` is first stored as a small staging chunk (`_dynashift/staging/<id>.json.gz`) and only then
 *    acknowledged — that is what lets the engine move its cursor past the page.
 * 2. The same lines stream into the current data file (`data/<id>.json.gz`, gzip, multipart on S3); data files are
 *    large (ImportTable takes at most 50,000 objects), bounded by maxFileBytes of JSON.
 * 3. A full data file is sealed: once it is stored, a part record (`_dynashift/parts/<id>.json`: item count, MD5,
 *    ETag, the chunks it holds) is written, then its chunks are deleted.
 * 4. `finalize` seals the last file and writes manifest-files.json, manifest-summary.json (last: its presence means
 *    complete) with their checksum files, then removes `_dynashift/`.
 *
 * After a crash, `recover` deletes chunks already sealed into a data file and data files without a part record
 * (an upload cut short), and feeds the remaining chunks into a new data file. Data files are therefore only ever
 * listed in the manifest whole and exactly once.
 */
export interface PartRecord {
  fileId: string;
  /** Relative to the export folder: data/<fileId>.json.gz */
  dataKey: string;
  itemCount: number;
  md5Checksum: string;
  etag: string;
  /** Staging chunks whose lines this data file holds. */
  chunks: string[];
}

export interface ExportSummaryFields {
  startTime: string;
  endTime: string;
  exportTime: string;
  itemCount: number;
}

const STAGING = '_dynashift/staging/';
const PARTS = '_dynashift/parts/';
const META = '_dynashift/export.json';

interface OpenFile {
  fileId: string;
  gzip: Gzip;
  hash: Hash;
  upload: Promise<{ etag?: string }>;
  items: number;
  rawBytes: number;
  chunks: string[];
}

export class ExportWriter {
  private readonly folder: BlobStore;
  private readonly gate: Semaphore;
  private readonly session = `${stamp()}-${randomBytes(4).toString('hex')}`;
  private seq = 0;
  private ready: Promise<void> | undefined;
  private tail: Promise<unknown> = Promise.resolve();
  private failure: { error: unknown } | undefined;
  private current: OpenFile | undefined;
  private finalized = false;

  constructor(
    private readonly location: ExportLocation,
    private readonly opts: { maxFileBytes: number; concurrency: number },
  ) {
    this.folder = location.folder;
    this.gate = new Semaphore(Math.max(1, opts.concurrency));
  }

  /**
   * True once manifest-summary.json exists: the export is complete and write-once. Read-only (no recovery), so a
   * reader — verify in another process while `run` writes — never disturbs the writer's files.
   */
  async isFinalized(): Promise<boolean> {
    return this.finalized || (await this.folder.get('manifest-summary.json')) !== undefined;
  }

  /** Stores `lines` (DynamoDB JSON lines, each ending in \n) durably; resolves only once a crash can't lose them. */
  async append(lines: Buffer, count: number, signal?: AbortSignal): Promise<void> {
    if (count === 0) return;
    await this.init();
    this.check();
    const chunk = `${this.session}-${String(this.seq++).padStart(9, '0')}`;
    await this.gate.run(() => this.folder.put(`${STAGING}${chunk}.json.gz`, gzipSync(lines, { level: 1 }), signal));
    await this.serial(() => this.addToFile(lines, count, [chunk]));
  }

  /** Seals the last data file and writes the manifests. Idempotent: a finalized export is left as it is. */
  async finalize(): Promise<ExportSummaryFields & { files: number }> {
    await this.init();
    if (!this.finalized) {
      await this.serial(() => (this.current ? this.seal() : Promise.resolve()));
      this.check();
      await this.writeManifests();
      this.finalized = true;
    }
    await this.deleteFolder('_dynashift/');
    const summary = JSON.parse((await this.folder.get('manifest-summary.json'))!.toString('utf8')) as ExportSummaryFields;
    const files = (await this.folder.get('manifest-files.json'))!
      .toString('utf8')
      .split('\n')
      .filter((l) => l.trim() !== '').length;
    return { startTime: summary.startTime, endTime: summary.endTime, exportTime: summary.exportTime, itemCount: summary.itemCount, files };
  }

  /** Seals the open data file (if any) without finalizing, e.g. before a planned stop: less to recover next time. */
  async flush(): Promise<void> {
    if (!this.ready || this.finalized) return; // nothing open after finalize: the export is complete
    await this.init();
    await this.serial(() => (this.current ? this.seal() : Promise.resolve()));
  }

  /** Part records of sealed data files, in write order. */
  async parts(): Promise<PartRecord[]> {
    const { keys } = await this.folder.list(PARTS);
    const parts = await Promise.all(keys.map(async (k) => JSON.parse((await this.folder.get(k))!.toString('utf8')) as PartRecord));
    return parts.sort((a, b) => (a.fileId < b.fileId ? -1 : a.fileId > b.fileId ? 1 : 0));
  }

  private init(): Promise<void> {
    this.ready ??= this.recover();
    return this.ready;
  }

  private async recover(): Promise<void> {
    if (await this.folder.get('manifest-summary.json')) {
      this.finalized = true;
      return;
    }
    await ensureStarted(this.folder);
    const parts = await this.parts();
    const sealed = new Set(parts.flatMap((p) => p.chunks));
    const dataFiles = new Set(parts.map((p) => p.dataKey));
    // Uploads cut short by a crash: a partial local file, an unfinished S3 multipart upload.
    await this.folder.abortUnfinishedUploads('data/');
    const orphans = (await this.folder.list('data/')).keys.filter((k) => !dataFiles.has(k));
    await this.folder.delete(orphans);
    const staged = (await this.folder.list(STAGING)).keys;
    const chunkId = (key: string): string => key.slice(STAGING.length).replace(/\.json\.gz$/, '');
    await this.folder.delete(staged.filter((k) => sealed.has(chunkId(k))));
    // Acknowledged writes that never made it into a sealed data file: they go into the next one.
    for (const key of staged.filter((k) => !sealed.has(chunkId(k)))) {
      const body = await this.folder.get(key);
      if (!body) continue;
      const lines = gunzipSync(body);
      const count = countLines(lines);
      await this.serial(() => this.addToFile(lines, count, [chunkId(key)]));
    }
  }

  /** Runs `task` after every earlier one; the first failure poisons the writer (the engine must restart it). */
  private serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.tail.then(() => {
      this.check();
      return task();
    });
    this.tail = run.catch((error: unknown) => {
      this.failure ??= { error };
    });
    return run;
  }

  private check(): void {
    if (this.failure) throw this.failure.error;
    if (this.finalized) {
      throw new DynashiftError(
        'CONFIG_INVALID',
        `the export at ${this.folder.uri} is complete (manifest-summary.json exists); an export is write-once`,
        {
          hint: 'write to a new export id (files.exportId or another target table name), or delete that export folder first',
        },
      );
    }
  }

  private async addToFile(lines: Buffer, count: number, chunks: string[]): Promise<void> {
    this.current ??= this.openFile();
    const file = this.current;
    file.items += count;
    file.rawBytes += lines.length;
    file.chunks.push(...chunks);
    if (!file.gzip.write(lines)) {
      await new Promise<void>((resolve, reject) => {
        file.gzip.once('drain', resolve);
        file.upload.catch(reject);
      });
    }
    if (file.rawBytes >= this.opts.maxFileBytes) await this.seal();
  }

  private openFile(): OpenFile {
    const fileId = `${stamp()}-${randomBytes(5).toString('hex')}`;
    const gzip = createGzip({ level: 6 });
    const hash = createHash('md5');
    const tap = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        done(null, chunk);
      },
    });
    gzip.on('error', (err) => tap.destroy(err));
    gzip.pipe(tap);
    const upload = this.folder.putStream(`data/${fileId}.json.gz`, tap);
    upload.catch(() => {}); // observed in addToFile / seal
    return { fileId, gzip, hash, upload, items: 0, rawBytes: 0, chunks: [] };
  }

  private async seal(): Promise<void> {
    const file = this.current;
    if (!file) return;
    this.current = undefined;
    file.gzip.end();
    const { etag } = await file.upload;
    const digest = file.hash.digest();
    const part: PartRecord = {
      fileId: file.fileId,
      dataKey: `data/${file.fileId}.json.gz`,
      itemCount: file.items,
      md5Checksum: digest.toString('base64'),
      etag: etag || singlePartMultipartEtag(digest),
      chunks: file.chunks,
    };
    await this.folder.put(`${PARTS}${file.fileId}.json`, Buffer.from(JSON.stringify(part)));
    await this.folder.delete(file.chunks.map((c) => `${STAGING}${c}.json.gz`));
  }

  private async writeManifests(): Promise<void> {
    const parts = await this.parts();
    const leftover = (await this.folder.list(STAGING)).keys;
    const sealed = new Set(parts.flatMap((p) => p.chunks.map((c) => `${STAGING}${c}.json.gz`)));
    const unsealed = leftover.filter((k) => !sealed.has(k));
    if (unsealed.length > 0) {
      throw new DynashiftError(
        'AWS_ERROR',
        `${unsealed.length} acknowledged write chunk(s) in ${this.folder.uriOf(STAGING)} are in no data file; refusing to finalize an export that would miss them`,
        {
          hint: 'run again: recovery puts them into a data file before finalizing',
        },
      );
    }
    await this.folder.delete(leftover);
    const filesText = parts
      .map(
        (p) =>
          `${JSON.stringify({ itemCount: p.itemCount, md5Checksum: p.md5Checksum, etag: p.etag, dataFileS3Key: this.location.rootKey + p.dataKey })}\n`,
      )
      .join('');
    const meta = JSON.parse((await this.folder.get(META))?.toString('utf8') ?? '{}') as { startTime?: string };
    const now = new Date().toISOString();
    const startTime = meta.startTime ?? now;
    const itemCount = parts.reduce((n, p) => n + p.itemCount, 0);
    const summary = {
      version: '2020-06-30',
      // Not an AWS export: no export or table ARN. exportTime is when the backfill began; the items were read during
      // [startTime, endTime] (a fuzzy snapshot, like AWS's own exports within their minute).
      producer: 'dynashift',
      startTime,
      endTime: now,
      exportTime: startTime,
      s3Bucket: this.location.bucket ?? null,
      s3Prefix: this.location.prefix ?? null,
      s3SseAlgorithm: null,
      s3SseKmsKeyId: null,
      manifestFilesS3Key: `${this.location.rootKey}manifest-files.json`,
      billedSizeBytes: 0,
      itemCount,
      outputFormat: 'DYNAMODB_JSON',
      exportType: 'FULL_EXPORT',
    };
    await this.putWithChecksums('manifest-files', Buffer.from(filesText));
    // Last: a manifest-summary.json means a complete export, to us (locateExport) and to anyone else.
    await this.putWithChecksums('manifest-summary', Buffer.from(JSON.stringify(summary)));
  }

  /** AWS writes each manifest's base64 MD5 next to it (`.md5` seen in real exports, `.checksum` in the current docs). */
  private async putWithChecksums(base: string, body: Buffer): Promise<void> {
    const sum = Buffer.from(md5(body).toString('base64'));
    await this.folder.put(`${base}.md5`, sum);
    await this.folder.put(`${base}.checksum`, sum);
    await this.folder.put(`${base}.json`, body);
  }

  private async deleteFolder(prefix: string): Promise<void> {
    const { keys } = await this.folder.list(prefix);
    await this.folder.delete(keys);
  }
}

/** The `_started` marker AWS writes first, and our own start time (the summary's startTime/exportTime). Idempotent. */
export async function ensureStarted(folder: BlobStore): Promise<void> {
  if (!(await folder.get('_started'))) await folder.put('_started', Buffer.alloc(0));
  if (!(await folder.get(META))) await folder.put(META, Buffer.from(JSON.stringify({ startTime: new Date().toISOString() })));
}

function countLines(buf: Buffer): number {
  let n = 0;
  let start = 0;
  for (let nl = buf.indexOf(10); nl !== -1; nl = buf.indexOf(10, start)) {
    if (nl > start) n++;
    start = nl + 1;
  }
  if (start < buf.length) n++;
  return n;
}

/** Sortable id prefix: 14-digit epoch milliseconds, like AWS export ids. */
function stamp(): string {
  return String(Date.now()).padStart(14, '0');
}
