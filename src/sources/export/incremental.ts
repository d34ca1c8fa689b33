import type { S3Client } from '@aws-sdk/client-s3';
import type { S3Access } from '../../aws/s3.js';
import type { ChangePage, ChangeRecord } from '../../core/change.js';
import { sharedDecodePool } from '../../formats/ddb-export/decode-pool.js';
import { exportError } from '../../formats/ddb-export/export-errors.js';
import { readExportFile, readTuning, type ExportReadTuning } from '../../formats/ddb-export/export-file-reader.js';
import type { ExportRecord } from '../../formats/ddb-export/export-record.js';
import { describeExport, type ExportDescription } from './export-source.js';
import { loadExport, type LoadedExport } from '../../formats/ddb-export/locate-export.js';

/** Position in a chain of incremental exports: the next record to apply. JSON-serializable for the state file. */
export interface IncrementalCursor {
  /** Index in the chain (ordered by exportFromTime). */
  export: number;
  /** Index in that export's manifest-files.json. */
  file: number;
  /** Records of that file already applied. */
  line: number;
}

export interface IncrementalExportOptions extends ExportReadTuning {
  /** Source name the change pages carry (the engine's source key). */
  source: string;
  access?: S3Access;
  s3Client?: S3Client;
  /**
   * The chain must start no later than this (epoch ms): pass the full export's `exportTime − margin`, so that no
   * change between the full export and the first incremental window is missed (exports are fuzzy by up to a minute).
   */
  startNoLaterThan?: number;
}

/**
 * Incremental exports (exportType INCREMENTAL_EXPORT) as an ordered stream of change records, to apply after a full
 * export. Each export's lines are compacted to one per changed key ({Keys, OldImage?, NewImage?}; no NewImage = a
 * delete), so within one export the order across keys does not matter; across exports it does, so the chain is
 * applied in exportFromTime order and must have no gaps: a missing window would silently lose its changes.
 */
export class IncrementalExports {
  private constructor(
    private readonly chain: LoadedExport[],
    private readonly opts: IncrementalExportOptions,
  ) {}

  static async open(uris: string[], opts: IncrementalExportOptions): Promise<IncrementalExports> {
    const loaded = await Promise.all(uris.map((u) => loadExport(u, opts.access, opts.s3Client)));
    for (const l of loaded) {
      if (l.summary.exportType !== 'INCREMENTAL_EXPORT') {
        throw exportError(
          'wrong-type',
          `${l.store.uri} is a full export; only incremental exports can be applied as changes`,
          'list only INCREMENTAL_EXPORT exports here; a full export is the backfill',
          { uri: l.store.uri },
        );
      }
    }
    loaded.sort((a, b) => Date.parse(a.summary.exportFromTime!) - Date.parse(b.summary.exportFromTime!));
    checkChain(loaded.map(describeExport), opts.startNoLaterThan);
    return new IncrementalExports(loaded, opts);
  }

  get exports(): ExportDescription[] {
    return this.chain.map(describeExport);
  }

  /** The end of the chain (epoch ms): stream catch-up takes over from `exportToTime − margin`. */
  get coveredUntil(): number | undefined {
    return this.exports.at(-1)?.exportToTime;
  }

  /**
   * Change pages from `cursor` on, each with the cursor to save once its writes have landed (undefined after the last
   * page). Every file is verified whole before its records are handed out.
   */
  async *pages(cursor?: IncrementalCursor, signal?: AbortSignal): AsyncGenerator<{ page: ChangePage; cursor: IncrementalCursor | undefined }> {
    const start = cursor ?? { export: 0, file: 0, line: 0 };
    for (let e = start.export; e < this.chain.length; e++) {
      const loaded = this.chain[e]!;
      const newImageOnly = loaded.summary.outputView === 'NEW_IMAGE' || loaded.summary.outputView === 'NEW_IMAGES';
      for (let f = e === start.export ? start.file : 0; f < loaded.files.length; f++) {
        const fromLine = e === start.export && f === start.file ? start.line : 0;
        for await (const part of readExportFile({
          store: loaded.store,
          entry: loaded.files[f]!,
          format: loaded.summary.outputFormat,
          mode: 'change',
          fromLine,
          ...readTuning(this.opts, sharedDecodePool),
          ...(signal ? { signal } : {}),
        })) {
          const first = part.nextLine - part.records.length;
          const records = part.records.map((r, i) => toChangeRecord(r, sequenceNumber(e, f, first + i), newImageOnly));
          const next = part.done ? nextFile(this.chain, e, f) : { export: e, file: f, line: part.nextLine };
          yield { page: { source: this.opts.source, shardId: `export:${loaded.exportId}`, records }, cursor: next };
          if (signal?.aborted) return;
        }
      }
    }
  }
}

/**
 * Ordered by exportFromTime, each window must start no later than the previous one ends (no gap) and end later
 * (a window nested inside an earlier one would apply older final states after newer ones).
 */
export function checkChain(chain: ExportDescription[], startNoLaterThan?: number): void {
  const first = chain[0];
  if (first && startNoLaterThan !== undefined && first.exportFromTime! > startNoLaterThan) {
    throw exportError(
      'chain-gap',
      `the first incremental export starts at ${iso(first.exportFromTime!)}, after ${iso(startNoLaterThan)}: changes in between would be missing`,
      'add an incremental export whose ExportFromTime is at or before the full export time minus the margin',
      { uri: first.uri },
    );
  }
  for (let i = 1; i < chain.length; i++) {
    const prev = chain[i - 1]!;
    const cur = chain[i]!;
    if (cur.exportFromTime! > prev.exportToTime!) {
      throw exportError(
        'chain-gap',
        `incremental exports leave a gap: ${prev.exportId} ends at ${iso(prev.exportToTime!)}, ${cur.exportId} starts at ${iso(cur.exportFromTime!)}`,
        'export the missing window as another incremental export and add it to the list',
        { after: prev.uri, before: cur.uri },
      );
    }
    if (cur.exportToTime! <= prev.exportToTime!) {
      throw exportError(
        'chain-gap',
        `incremental export ${cur.exportId} (${iso(cur.exportFromTime!)} – ${iso(cur.exportToTime!)}) lies inside ${prev.exportId}'s window`,
        'remove the nested export from the list',
        { uri: cur.uri },
      );
    }
  }
}

/** Maps an incremental-export line to the change model the stream applier uses; no NewImage means a delete. */
export function toChangeRecord(r: ExportRecord, sequenceNumber: string, newImageOnly: boolean): ChangeRecord {
  const record: ChangeRecord = {
    sequenceNumber,
    eventName: r.NewImage ? (r.OldImage || newImageOnly ? 'MODIFY' : 'INSERT') : 'REMOVE',
    keys: r.Keys!,
  };
  if (r.NewImage) record.newImage = r.NewImage;
  if (r.OldImage) record.oldImage = r.OldImage;
  if (r.writeTimestampMicros !== undefined) {
    const micros = r.writeTimestampMicros.split(/[.eE]/)[0]!;
    if (/^\d+$/.test(micros)) record.createdAt = Number(BigInt(micros) / 1000n);
  }
  return record;
}

/** A digit string, increasing along the chain (compare as BigInt, like stream sequence numbers). */
function sequenceNumber(exportIndex: number, fileIndex: number, line: number): string {
  return (BigInt(exportIndex + 1) * 10n ** 18n + BigInt(fileIndex) * 10n ** 10n + BigInt(line)).toString();
}

function nextFile(chain: LoadedExport[], e: number, f: number): IncrementalCursor | undefined {
  if (f + 1 < chain[e]!.files.length) return { export: e, file: f + 1, line: 0 };
  if (e + 1 < chain.length) return { export: e + 1, file: 0, line: 0 };
  return undefined;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
