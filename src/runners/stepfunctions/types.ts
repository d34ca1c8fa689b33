import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { BackfillCursor } from '../../sources/source.js';

/** One item of the Distributed Map: a scan segment of one source. */
export interface SegmentTask {
  source: string;
  segment: number;
  totalSegments: number;
}

/** The backfillSegment task's input: the Map item, plus the previous loop iteration's output when looping. */
export interface SegmentInput extends SegmentTask {
  /** For visibility only: the task always continues from the checkpoint in the state table (a differing cursor is logged). */
  cursor?: BackfillCursor | null;
  /** Overrides the configured time budget of this invocation (tests use a tiny one to exercise continuation). */
  timeBudgetMs?: number;
}

/** The backfillSegment task's output; the state machine loops on it while `done` is false. */
export interface SegmentResult extends SegmentTask {
  done: boolean;
  cursor: BackfillCursor | null;
  /** Items copied in this segment so far (all invocations). */
  items: number;
  /** Items and pages copied by this invocation. */
  copied: number;
  pages: number;
  /** Items this invocation dead-lettered (onError 'dead-letter'; with 'halt' the task fails instead). */
  deadLettered: number;
}

/**
 * One item of the export Map: a line of the export's manifest-files.json as the Map's ItemReader (InputType JSONL)
 * hands it out ({ itemCount, md5Checksum, etag, dataFileS3Key }). The child loops on its own output, which adds the
 * source.
 */
export interface ExportFileInput {
  /** The source the file belongs to; absent in a manifest line: the export backfill's one source. */
  source?: string;
  /** The data file, as the manifest names it (relative to the bucket root). */
  dataFileS3Key: string;
  /** The manifest line's count and checksum: checked against the manifest the task reads itself. */
  itemCount?: number;
  md5Checksum?: string;
  etag?: string;
  cursor?: BackfillCursor | null;
  timeBudgetMs?: number;
}

/** The export-file child's output; the state machine loops on it while `done` is false. */
export interface ExportFileResult {
  source: string;
  dataFileS3Key: string;
  itemCount?: number;
  md5Checksum?: string;
  done: boolean;
  cursor: BackfillCursor | null;
  items: number;
  copied: number;
  pages: number;
  deadLettered: number;
}

/** Where the export Map's ItemReader finds the data files: the export's manifest-files.json in S3. */
export interface ExportFiles {
  source: string;
  bucket: string;
  /** The key of manifest-files.json. */
  key: string;
  /** Data files the manifest lists (all of them: a file already loaded is skipped by its child at once). */
  files: number;
}

export interface PrepareOutput {
  migration: string;
  /** True when the state already existed (a re-run after a failure): positions and checkpoints are kept. */
  resumed: boolean;
  /** Segments still to copy or touch: the segment Map's items. */
  segments: SegmentTask[];
  totalSegments: number;
  /** The export strategy: the manifest the export Map reads (null when nothing is left to load, e.g. `imported`). */
  exportFiles: ExportFiles | null;
}

export interface CompleteOutput {
  migration: string;
  complete: boolean;
  /** The state machine enables the stream's event source mapping only when this is true. */
  enableStreamMapping: boolean;
  /** A source spooled its stream during the backfill: the Replay task runs next (its mapping is already enabled). */
  replay?: boolean;
  backfilledItems: number;
  /** Segments or export data files (relative to the export folder) not done yet (at most 50 listed), when not complete. */
  pending: ({ source: string; segment: number } | { source: string; file: string })[];
  pendingCount: number;
}

/** The replaySpool task's output; the state machine calls it again while `done` is false. */
export interface ReplayOutput {
  migration: string;
  /** Every spooling source's spool is live: the stream handler applies batches, the catch-up has begun. */
  done: boolean;
  /**
   * Per source: its spool's mode, the keys left after the last complete pass (-1: no pass completed yet), and where an
   * unfinished pass stopped (the next invocation continues there).
   */
  sources: Record<string, { mode: 'spooling' | 'handoff' | 'live'; remaining: number; cursor?: SpoolCursor }>;
  /** Keys this invocation re-read and applied, and the ones left for a later pass because a newer record arrived. */
  replayed: number;
  requeued: number;
  deadLettered: number;
}

/** Where a pass over a spool stopped: the spool query's LastEvaluatedKey (its pk and sk, both strings). */
export type SpoolCursor = Record<string, AttributeValue>;
