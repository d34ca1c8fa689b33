import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, open, readdir, readFile, rename, rm, rmdir, stat, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import {
  abortMultipartUploads,
  deleteObjects,
  getObjectBytes,
  isS3Uri,
  listObjects,
  parseS3Uri,
  putObjectBytes,
  s3ClientFor,
  s3Error,
  uploadStream,
  type S3Access,
} from '../../aws/s3.js';
import { errorName } from '../../aws/errors.js';

/**
 * A folder of objects, local or on S3, addressed by keys relative to its root ("data/x.json.gz"). Export reading and
 * the export-format sink share it, so both run the same code against a local folder and a bucket.
 */
export interface BlobStore {
  /** The root, for messages: an absolute path or s3://bucket/prefix/. */
  readonly uri: string;
  child(sub: string): BlobStore;
  uriOf(key: string): string;
  /** The whole object; undefined when missing. Only for small objects (manifests, staging chunks). */
  get(key: string, signal?: AbortSignal): Promise<Buffer | undefined>;
  /** A data file ready to read: a local path (the file itself, or a download) or bytes; undefined when missing. */
  fetch(key: string, opts?: FetchOptions): Promise<FetchedFile | undefined>;
  /** Writes an object atomically: readers see the old state or the whole new object. */
  put(key: string, body: Buffer, signal?: AbortSignal): Promise<void>;
  /** Streams a large object (multipart on S3); it appears only once complete. Returns S3's ETag when there is one. */
  putStream(key: string, body: Readable, signal?: AbortSignal): Promise<{ etag?: string }>;
  /** Keys (relative to the root) under a folder prefix; with `delimiter` also the sub-folders one level down. */
  list(prefix: string, delimiter?: '/'): Promise<{ keys: string[]; prefixes: string[] }>;
  delete(keys: string[]): Promise<void>;
  /** Aborts multipart uploads left unfinished under a folder prefix by a killed process (S3 only; returns how many). */
  abortUnfinishedUploads(prefix: string): Promise<number>;
}

export interface FetchOptions {
  /** Objects up to this size are held in memory; larger ones are downloaded to `tempDir` (S3 only). */
  memoryLimitBytes?: number;
  tempDir?: string;
  signal?: AbortSignal;
}

export interface FetchedFile {
  path?: string;
  bytes?: Buffer;
  size: number;
  /** Deletes a temporary download; a no-op for local files. */
  release(): Promise<void>;
}

/** `s3://bucket/prefix`, `file:///abs/path`, or a path. */
export function openStore(uri: string, access: S3Access = {}, client?: S3Client): BlobStore {
  if (isS3Uri(uri)) {
    const { bucket, prefix } = parseS3Uri(uri);
    return new S3Store(client ?? s3ClientFor(access), bucket, folder(prefix));
  }
  const path = uri.startsWith('file://') ? fileURLToPath(uri) : resolve(uri);
  return new LocalStore(path);
}

function folder(prefix: string): string {
  return prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
}

/** A folder removed under a write this many times in a row is not a race any more but something else removing it. */
const OPEN_TEMP_ATTEMPTS = 10;

export class LocalStore implements BlobStore {
  constructor(readonly root: string) {}

  get uri(): string {
    return this.root;
  }

  child(sub: string): BlobStore {
    return new LocalStore(this.pathOf(sub));
  }

  uriOf(key: string): string {
    return this.pathOf(key);
  }

  async get(key: string): Promise<Buffer | undefined> {
    try {
      return await readFile(this.pathOf(key));
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return undefined;
      throw err;
    }
  }

  async fetch(key: string): Promise<FetchedFile | undefined> {
    const path = this.pathOf(key);
    try {
      const s = await stat(path);
      return { path, size: s.size, release: async () => {} };
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return undefined;
      throw err;
    }
  }

  async put(key: string, body: Buffer): Promise<void> {
    const path = this.pathOf(key);
    const { tmp, fh } = await this.openTemp(path);
    try {
      await fh.writeFile(body);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await this.commit(tmp, path);
  }

  async putStream(key: string, body: Readable): Promise<{ etag?: string }> {
    const path = this.pathOf(key);
    const { tmp, fh: out } = await this.openTemp(path);
    await pipeline(body, out.createWriteStream()); // closes `out` when done
    const fh = await open(tmp, 'r+');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await this.commit(tmp, path);
    return {};
  }

  async list(prefix: string, delimiter?: '/'): Promise<{ keys: string[]; prefixes: string[] }> {
    const out = { keys: [] as string[], prefixes: [] as string[] };
    const walk = async (rel: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(this.pathOf(rel), { withFileTypes: true });
      } catch (err) {
        if (errorCode(err) === 'ENOENT' || errorCode(err) === 'ENOTDIR') return;
        throw err;
      }
      for (const e of entries) {
        const key = `${rel}${e.name}`;
        if (e.isDirectory()) {
          if (delimiter) out.prefixes.push(`${key}/`);
          else await walk(`${key}/`);
        } else {
          // Includes leftover `.dynashift-tmp-` files of interrupted writes, so their owner can clean them up.
          out.keys.push(key);
        }
      }
    };
    await walk(folder(prefix));
    out.keys.sort();
    out.prefixes.sort();
    return out;
  }

  async delete(keys: string[]): Promise<void> {
    const dirs = new Set<string>();
    for (const key of keys) {
      const path = this.pathOf(key);
      await rm(path, { force: true });
      dirs.add(dirname(path));
    }
    // Folders emptied by the deletion go too (an S3 "folder" disappears with its last object).
    for (let dir of dirs) {
      while (dir !== this.root && dir.startsWith(this.root)) {
        try {
          await rmdir(dir);
        } catch {
          break; // not empty, or already gone
        }
        dir = dirname(dir);
      }
    }
  }

  async abortUnfinishedUploads(): Promise<number> {
    return 0; // a local partial write is a `.dynashift-tmp-` file that list() shows and its owner deletes
  }

  private pathOf(key: string): string {
    const path = resolve(this.root, ...key.split('/').filter((p) => p !== ''));
    if (path !== this.root && !path.startsWith(this.root.endsWith(sep) ? this.root : this.root + sep)) {
      throw new Error(`key ${JSON.stringify(key)} escapes ${this.root}`);
    }
    return path;
  }

  /**
   * Creates the file's folder and opens a temp file in it. delete() removes folders it empties, so a concurrent delete
   * in the same folder (sealing a data file deletes its staging chunks while the next chunk is written) can remove the
   * folder between the two steps, or during mkdir's own walk: then both are done again. Once the temp file exists the
   * folder is not empty, and rename() into it is safe.
   */
  private async openTemp(path: string): Promise<{ tmp: string; fh: FileHandle }> {
    for (let attempt = 1; ; attempt++) {
      const tmp = `${path}.dynashift-tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
      try {
        await mkdir(dirname(path), { recursive: true });
        return { tmp, fh: await open(tmp, 'w') };
      } catch (err) {
        if (errorCode(err) !== 'ENOENT' || attempt >= OPEN_TEMP_ATTEMPTS) throw err;
      }
    }
  }

  /** rename is atomic within a folder; fsync the folder so the new name survives a crash too. */
  private async commit(tmp: string, path: string): Promise<void> {
    await rename(tmp, path);
    const dir = await open(dirname(path), 'r');
    try {
      await dir.sync();
    } catch {
      // Some filesystems refuse fsync on a directory; the rename itself is still atomic.
    } finally {
      await dir.close();
    }
  }
}

export class S3Store implements BlobStore {
  constructor(
    private readonly client: S3Client,
    readonly bucket: string,
    readonly prefix: string,
  ) {}

  get uri(): string {
    return `s3://${this.bucket}/${this.prefix}`;
  }

  child(sub: string): BlobStore {
    return new S3Store(this.client, this.bucket, folder(this.prefix + sub));
  }

  uriOf(key: string): string {
    return `s3://${this.bucket}/${this.prefix}${key}`;
  }

  get(key: string, signal?: AbortSignal): Promise<Buffer | undefined> {
    return getObjectBytes(this.client, this.bucket, this.prefix + key, signal);
  }

  async fetch(key: string, opts: FetchOptions = {}): Promise<FetchedFile | undefined> {
    const fullKey = this.prefix + key;
    let res;
    try {
      res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: fullKey }), opts.signal ? { abortSignal: opts.signal } : {});
    } catch (err) {
      if (errorName(err) === 'NoSuchKey') return undefined;
      throw s3Error(err, 'read', this.bucket, fullKey);
    }
    const body = res.Body as Readable;
    const size = res.ContentLength ?? 0;
    if (size <= (opts.memoryLimitBytes ?? 16 * 1024 * 1024)) {
      const chunks: Buffer[] = [];
      for await (const chunk of body) chunks.push(chunk as Buffer);
      const bytes = Buffer.concat(chunks);
      return { bytes, size: bytes.length, release: async () => {} };
    }
    // Too large for memory: spool to disk once, so verifying and decoding don't download it twice.
    const dir = await mkdtemp(join(opts.tempDir ?? tmpdir(), 'dynashift-export-'));
    const path = join(dir, 'data.gz');
    try {
      await pipeline(body, createWriteStream(path));
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw s3Error(err, 'read', this.bucket, fullKey);
    }
    return { path, size, release: () => rm(dir, { recursive: true, force: true }) };
  }

  async put(key: string, body: Buffer, signal?: AbortSignal): Promise<void> {
    await putObjectBytes(this.client, this.bucket, this.prefix + key, body, signal);
  }

  putStream(key: string, body: Readable, signal?: AbortSignal): Promise<{ etag?: string }> {
    return uploadStream(this.client, this.bucket, this.prefix + key, body, signal ? { signal } : {});
  }

  async list(prefix: string, delimiter?: '/'): Promise<{ keys: string[]; prefixes: string[] }> {
    const res = await listObjects(this.client, this.bucket, this.prefix + folder(prefix), delimiter);
    const strip = (k: string): string => k.slice(this.prefix.length);
    return { keys: res.keys.map(strip).sort(), prefixes: res.prefixes.map(strip).sort() };
  }

  delete(keys: string[]): Promise<void> {
    return deleteObjects(
      this.client,
      this.bucket,
      keys.map((k) => this.prefix + k),
    );
  }

  abortUnfinishedUploads(prefix: string): Promise<number> {
    return abortMultipartUploads(this.client, this.bucket, this.prefix + prefix);
  }
}

export function bufferStream(bytes: Buffer): Readable {
  return Readable.from([bytes]);
}

function errorCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException)?.code;
}
