import type { S3Client } from '@aws-sdk/client-s3';
import type { S3Access } from '../../aws/s3.js';
import { itemSize, type AttributeMap } from '../../core/item.js';
import type { BackfillCursor, BackfillPage, BackfillSource } from '../source.js';
import { sharedDecodePool } from '../../formats/ddb-export/decode-pool.js';
import { exportError } from '../../formats/ddb-export/export-errors.js';
import { readExportFile, readTuning, type ExportReadTuning } from '../../formats/ddb-export/export-file-reader.js';
import type { ExportFormat } from '../../formats/ddb-export/export-record.js';
import { loadExport, type LoadedExport } from '../../formats/ddb-export/locate-export.js';

/** Where the export is, plus how its files are read (page size, decode pool, memory limits: ExportReadTuning). */
export interface ExportSourceOptions extends ExportReadTuning {
  name: string;
  /** A local folder, `file://…` or `s3://bucket/prefix` (an `export:` scheme in front is accepted). */
  uri: string;
  access?: S3Access;
  s3Client?: S3Client;
}

/** What plan and the engine need to know about an export. Times are epoch milliseconds. */
export interface ExportDescription {
  uri: string;
  exportId: string;
  exportArn?: string;
  tableArn?: string;
  /** The point in time the export reflects; stream records from before `exportTime − margin` are already in it. */
  exportTime: number;
  startTime?: number;
  endTime?: number;
  itemCount: number;
  format: ExportFormat;
  exportType: 'FULL_EXPORT' | 'INCREMENTAL_EXPORT';
  exportFromTime?: number;
  exportToTime?: number;
  outputView?: string;
  files: number;
}

/**
 * A backfill from a DynamoDB export to S3 (or a local copy of one): one partition per data file listed in
 * manifest-files.json, resumable at a record offset within the file. Reads consume no table capacity. Each file is
 * verified whole (MD5, item count, every line decodable) before any of its items is handed out; decoding runs on a
 * pool of worker threads, so several files decode on several cores at once.
 */
export class ExportSource implements BackfillSource {
  readonly name: string;
  private loaded: Promise<LoadedExport> | undefined;

  constructor(private readonly opts: ExportSourceOptions) {
    this.name = opts.name;
  }

  /** Locates the export and checks its manifests (memoized). */
  load(): Promise<LoadedExport> {
    this.loaded ??= loadExport(this.opts.uri, this.opts.access, this.opts.s3Client);
    // A failed load (network) may be retried by a later call.
    this.loaded.catch(() => {
      this.loaded = undefined;
    });
    return this.loaded;
  }

  async describe(): Promise<ExportDescription> {
    return describeExport(await this.load());
  }

  async partitions(): Promise<string[]> {
    const loaded = await this.fullExport();
    return loaded.files.map((f) => f.relativeKey);
  }

  async *read(partition: string, cursor: BackfillCursor | undefined, signal?: AbortSignal): AsyncIterable<BackfillPage> {
    const loaded = await this.fullExport();
    const entry = loaded.files.find((f) => f.relativeKey === partition);
    if (!entry) {
      throw exportError(
        'cursor-invalid',
        `partition ${partition} is not a data file of the export at ${loaded.store.uri}`,
        'the state belongs to another export: start the migration again from a fresh state folder',
        { partition },
      );
    }
    const fromLine = cursor === undefined ? 0 : Number(cursor['line']);
    for await (const page of readExportFile({
      store: loaded.store,
      entry,
      format: loaded.summary.outputFormat,
      mode: 'item',
      fromLine,
      ...readTuning(this.opts, sharedDecodePool),
      ...(signal ? { signal } : {}),
    })) {
      const items = page.records.map((r) => r.Item as AttributeMap);
      yield {
        items,
        bytes: items.reduce((n, item) => n + itemSize(item), 0),
        cursor: page.done ? undefined : { line: page.nextLine },
        consumedCapacity: 0,
      };
      if (signal?.aborted) return;
    }
  }

  private async fullExport(): Promise<LoadedExport> {
    const loaded = await this.load();
    if (loaded.summary.exportType !== 'FULL_EXPORT') {
      throw exportError(
        'wrong-type',
        `${loaded.store.uri} is an incremental export (${loaded.summary.exportFromTime} – ${loaded.summary.exportToTime}); a backfill needs a full export`,
        'point the backfill at a full export; apply incremental exports after it as changes',
        { uri: loaded.store.uri },
      );
    }
    return loaded;
  }
}

export function describeExport(loaded: LoadedExport): ExportDescription {
  const s = loaded.summary;
  const ms = (v: string | undefined): number | undefined => (v === undefined ? undefined : Date.parse(v));
  const d: ExportDescription = {
    uri: loaded.store.uri,
    exportId: loaded.exportId,
    exportTime: Date.parse(s.exportTime),
    itemCount: s.itemCount,
    format: s.outputFormat,
    exportType: s.exportType,
    files: loaded.files.length,
  };
  if (s.exportArn) d.exportArn = s.exportArn;
  if (s.tableArn) d.tableArn = s.tableArn;
  if (s.outputView) d.outputView = s.outputView;
  for (const [k, v] of [
    ['startTime', s.startTime],
    ['endTime', s.endTime],
    ['exportFromTime', s.exportFromTime],
    ['exportToTime', s.exportToTime],
  ] as const) {
    const t = ms(v);
    if (t !== undefined && !Number.isNaN(t)) d[k] = t;
  }
  return d;
}
