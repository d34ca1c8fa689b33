import { toDdbJson } from '../../core/ddb-json.js';
import { itemSize, type AttributeMap, type KeySchema } from '../../core/item.js';
import type { WriteOp } from '../../core/write-op.js';
import { DynashiftError } from '../../errors.js';
import type { TargetReader } from '../driver.js';
import { FILES_CAPABILITIES } from './files-kind.js';
import { type RejectedWrite, type Sink, type SinkCapabilities, type WriteStats } from '../sink.js';
import { ExportWriter } from '../../formats/ddb-export/export-writer.js';
import { FilesReader } from './files-reader.js';
import type { ExportLocation } from '../../formats/ddb-export/export-writer.js';

/** DynamoDB's item size limit (dynamodb-semantics §6): ImportTable would reject a larger item, so we do it first. */
const MAX_ITEM_BYTES = 400 * 1024;

export interface FilesSinkOptions {
  name: string;
  location: ExportLocation;
  keySchema: KeySchema;
  maxFileBytes: number;
  /** Staging writes in flight at once. */
  concurrency: number;
}

/**
 * `kind: "files"`: writes the target as a DynamoDB-JSON export (loadable with ImportTable). Write-once: it takes the
 * backfill's puts and nothing else. A stream change (an update or delete after the snapshot) can't be applied to
 * files already written, so such writes are refused with an error rather than appended as duplicates.
 * Call `finalize()` once the backfill is complete to write the manifests.
 */
export class FilesSink implements Sink, TargetReader {
  readonly name: string;
  readonly capabilities: SinkCapabilities = FILES_CAPABILITIES;
  readonly keySchema: KeySchema;
  private readonly writer: ExportWriter;
  private readonly reader: FilesReader;

  constructor(private readonly opts: FilesSinkOptions) {
    this.name = opts.name;
    this.keySchema = opts.keySchema;
    this.writer = new ExportWriter(opts.location, { maxFileBytes: opts.maxFileBytes, concurrency: opts.concurrency });
    this.reader = new FilesReader(opts.location.folder, opts.keySchema, this.writer, opts.location.exportId);
  }

  async write(ops: WriteOp[], signal?: AbortSignal): Promise<{ rejected: RejectedWrite[]; stats: WriteStats }> {
    const rejected: RejectedWrite[] = [];
    const lines: string[] = [];
    for (const op of ops) {
      if (op.kind !== 'put' || op.origin.via !== 'backfill') {
        throw new DynashiftError(
          'CONFIG_INVALID',
          `files target ${this.name} is write-once: it can't apply a ${op.kind === 'put' ? 'stream change' : 'delete'} (from ${op.origin.via})`,
          {
            hint: 'a files target takes the backfill only; run it without stream catch-up, or use a DynamoDB/PostgreSQL target to follow the stream',
            details: { target: this.name, via: op.origin.via, kind: op.kind },
          },
        );
      }
      const size = itemSize(op.item);
      if (size > MAX_ITEM_BYTES) {
        rejected.push({ op, error: { code: 'ItemTooLarge', message: `item is ~${size} bytes; DynamoDB (and ImportTable) take at most 400 KB` } });
        continue;
      }
      lines.push(`${JSON.stringify({ Item: toDdbJson(op.item) })}\n`);
    }
    await this.writer.append(Buffer.from(lines.join('')), lines.length, signal);
    return { rejected, stats: { written: lines.length, consumedCapacity: 0 } };
  }

  /** Seals the last data file and writes the manifests; call once the backfill is complete. Idempotent. */
  finalize(): Promise<{ itemCount: number; files: number; exportTime: string; uri: string }> {
    return this.writer
      .finalize()
      .then((s) => ({ itemCount: s.itemCount, files: s.files, exportTime: s.exportTime, uri: this.opts.location.folder.uri }));
  }

  /** Seals the open data file so a stop leaves less to recover (the data is durable either way). */
  async close(): Promise<void> {
    await this.writer.flush();
  }

  readPartitions(count: number): string[] {
    return this.reader.readPartitions(count);
  }

  readPartition(partition: string, signal?: AbortSignal): AsyncIterable<AttributeMap[]> {
    return this.reader.readPartition(partition, signal);
  }

  getItems(keys: AttributeMap[]): Promise<(AttributeMap | undefined)[]> {
    return this.reader.getItems(keys);
  }
}
