import { exportAccess } from '../../engine/export-backfill.js';
import { DynashiftError } from '../../errors.js';
import { ExportSource } from '../../sources/export/index.js';
import type { BackfillSource } from '../../sources/source.js';
import { copyPartition, type SegmentContext, type SegmentTiming } from './backfill-segment.js';
import type { ExportFileInput, ExportFileResult } from './types.js';

/** One ExportSource per export and container: its manifests are read once, not by every invocation. */
const sources = new Map<string, ExportSource>();

/**
 * Loads ONE data file of the export into the targets for at most the time budget (the export Map's child; it loops
 * until `done`). It is the CLI's export backfill on a one-file view: ExportSource.read verifies the whole file (MD5
 * and item count from manifest-files.json, every line decodable) before it hands out any item, and copyPartition
 * checkpoints by line under the file's lease in the state table — the file's item there records that it landed, so a
 * retried or re-run child returns at once and Complete can check that every file of the manifest did.
 */
export async function loadExportFile(ctx: SegmentContext, input: ExportFileInput, timing: SegmentTiming): Promise<ExportFileResult> {
  // A manifest line names no source: the export backfill on Step Functions has exactly one (Prepare checks it).
  const sourceName = input.source ?? Object.keys(ctx.config.sources)[0]!;
  const state = await ctx.store.peek();
  const exp = state?.sources[sourceName]?.backfill.export;
  if (!state || !exp) {
    throw new DynashiftError('NOT_RUNNING', `migration ${ctx.config.name} has no export recorded for source ${sourceName}`, {
      side: 'state',
      hint: "run the state machine from its Prepare step: it locates (or takes) the export and records it; the Map's items come from that export's manifest",
    });
  }
  const key = `${ctx.config.name}\n${sourceName}\n${exp.uri}`;
  let source = sources.get(key);
  if (!source) {
    // Pages of backfill.pageSize records: a page is what an invocation checkpoints, so a time budget ends within one.
    source = new ExportSource({ name: sourceName, uri: exp.uri, access: exportAccess(ctx.config), pageSize: ctx.config.backfill.pageSize });
    sources.set(key, source);
  }
  const loaded = await source.load();
  const entry = loaded.files.find((f) => f.dataFileS3Key === input.dataFileS3Key);
  const disagrees =
    entry &&
    ((input.itemCount !== undefined && input.itemCount !== entry.itemCount) ||
      (input.md5Checksum !== undefined && entry.md5Checksum !== undefined && input.md5Checksum !== entry.md5Checksum));
  if (!entry || disagrees) {
    throw new DynashiftError(
      'CONFIG_INVALID',
      entry
        ? `the Map item for ${input.dataFileS3Key} (itemCount ${input.itemCount}, md5 ${input.md5Checksum}) disagrees with the manifest of the export at ${exp.uri} (itemCount ${entry.itemCount}, md5 ${entry.md5Checksum})`
        : `${input.dataFileS3Key} is not a data file of the export at ${exp.uri} that Prepare recorded`,
      {
        side: 'source',
        hint: "the export Map's ItemReader must read the manifest-files.json Prepare returned (exportFiles); start the execution again from Prepare",
        details: { source: sourceName, dataFileS3Key: input.dataFileS3Key },
      },
    );
  }
  const file = entry.relativeKey;
  const one: BackfillSource = { name: sourceName, partitions: async () => [file], read: (p, cursor, signal) => source.read(p, cursor, signal) };
  const r = await copyPartition(ctx, sourceName, file, one, timing, {
    what: 'export file',
    strategy: 'export',
    carried: input.cursor,
    log: { file },
  });
  return {
    source: sourceName,
    dataFileS3Key: input.dataFileS3Key,
    ...(input.itemCount !== undefined ? { itemCount: input.itemCount } : {}),
    ...(input.md5Checksum !== undefined ? { md5Checksum: input.md5Checksum } : {}),
    ...r,
  };
}
