import { gunzipSync } from 'node:zlib';
import { keyId, type AttributeMap, type KeySchema } from '../../core/item.js';
import { sharedDecodePool } from '../../formats/ddb-export/decode-pool.js';
import { decodeLines } from '../../formats/ddb-export/file-decoder.js';
import { readExportFile } from '../../formats/ddb-export/export-file-reader.js';
import type { BlobStore } from '../../formats/ddb-export/export-store.js';
import { readManifests } from '../../formats/ddb-export/locate-export.js';
import type { ManifestFileEntry } from '../../formats/ddb-export/manifest.js';
import type { ExportWriter } from '../../formats/ddb-export/export-writer.js';

/** One readable unit: a sealed data file (checked like any export file) or a not yet sealed staging chunk. */
type Unit = { kind: 'file'; entry: ManifestFileEntry } | { kind: 'chunk'; key: string };

/**
 * Reads a files target back for verify. A finalized export is read through its manifests, exactly as ExportSource
 * reads any export (checksums and counts checked); before that, through the sealed part records plus the staged
 * chunks not yet in a data file — everything acknowledged so far. Point lookups use a key → position index built on
 * first use (memory: one entry per item); when a key was written twice (a page re-read after a restart), the last
 * copy wins, as it would for the engine.
 */
export class FilesReader {
  private index: { signature: string; positions: Map<string, { unit: number; line: number }> } | undefined;

  constructor(
    private readonly folder: BlobStore,
    readonly keySchema: KeySchema,
    private readonly writer: ExportWriter,
    private readonly exportId = lastSegment(folder.uri),
  ) {}

  readPartitions(count: number): string[] {
    return Array.from({ length: count }, (_, i) => `${i}/${count}`);
  }

  async *readPartition(partition: string, signal?: AbortSignal): AsyncIterable<AttributeMap[]> {
    const [i, total] = partition.split('/').map(Number) as [number, number];
    const units = await this.units();
    for (let u = i; u < units.length; u += total) {
      for await (const items of this.readUnit(units[u]!, signal)) yield items;
      if (signal?.aborted) return;
    }
  }

  async getItems(keys: AttributeMap[]): Promise<(AttributeMap | undefined)[]> {
    const units = await this.units();
    const positions = await this.positions(units);
    const wanted = new Map<number, Map<number, string>>();
    const ids = keys.map((k) => keyId(k, this.keySchema));
    for (const id of ids) {
      const at = positions.get(id);
      if (!at) continue;
      let lines = wanted.get(at.unit);
      if (!lines) wanted.set(at.unit, (lines = new Map()));
      lines.set(at.line, id);
    }
    const found = new Map<string, AttributeMap>();
    for (const [unit, lines] of wanted) {
      let line = 0;
      for await (const items of this.readUnit(units[unit]!)) {
        for (const item of items) {
          const id = lines.get(line++);
          if (id !== undefined) found.set(id, item);
        }
      }
    }
    return ids.map((id) => found.get(id));
  }

  private async units(): Promise<Unit[]> {
    if (await this.writer.isFinalized()) {
      const loaded = await readManifests(this.folder, this.exportId);
      return loaded.files.map((entry) => ({ kind: 'file', entry }));
    }
    const parts = await this.writer.parts();
    const sealed = new Set(parts.flatMap((p) => p.chunks.map((c) => `_dynashift/staging/${c}.json.gz`)));
    const units: Unit[] = parts.map((p) => ({
      kind: 'file',
      entry: { itemCount: p.itemCount, md5Checksum: p.md5Checksum, etag: p.etag, dataFileS3Key: p.dataKey, relativeKey: p.dataKey },
    }));
    for (const key of (await this.folder.list('_dynashift/staging/')).keys) if (!sealed.has(key)) units.push({ kind: 'chunk', key });
    return units;
  }

  private async *readUnit(unit: Unit, signal?: AbortSignal): AsyncIterable<AttributeMap[]> {
    if (unit.kind === 'chunk') {
      const body = await this.folder.get(unit.key, signal);
      if (!body) return;
      const lines = gunzipSync(body)
        .toString('utf8')
        .split('\n')
        .filter((l) => l.trim() !== '');
      yield decodeLines('DYNAMODB_JSON', lines, 'item', 0).map((r) => r.Item!);
      return;
    }
    for await (const page of readExportFile({
      store: this.folder,
      entry: unit.entry,
      format: 'DYNAMODB_JSON',
      mode: 'item',
      fromLine: 0,
      pageSize: 1000,
      pool: sharedDecodePool(),
      keepLimitBytes: 64 * 1024 * 1024,
      memoryLimitBytes: 16 * 1024 * 1024,
      ...(signal ? { signal } : {}),
    })) {
      yield page.records.map((r) => r.Item!);
    }
  }

  private async positions(units: Unit[]): Promise<Map<string, { unit: number; line: number }>> {
    const signature = units.map((u) => (u.kind === 'file' ? `${u.entry.relativeKey}:${u.entry.itemCount}` : u.key)).join('|');
    if (this.index?.signature === signature) return this.index.positions;
    const positions = new Map<string, { unit: number; line: number }>();
    for (let u = 0; u < units.length; u++) {
      let line = 0;
      for await (const items of this.readUnit(units[u]!)) {
        for (const item of items) positions.set(keyId(item, this.keySchema), { unit: u, line: line++ });
      }
    }
    this.index = { signature, positions };
    return positions;
  }
}

function lastSegment(uri: string): string {
  return uri.replace(/\/+$/, '').split(/[/\\]/).pop() ?? uri;
}
