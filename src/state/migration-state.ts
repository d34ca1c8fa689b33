/** Opaque, JSON-serializable position inside a backfill partition: what a source resumes from. */
export type BackfillCursor = Record<string, unknown>;

/**
 * Everything a migration must remember to resume after a crash with the same command. Plain JSON: no SDK types, no
 * secrets (never credentials, profiles or role session data).
 */
export interface MigrationState {
  version: 1;
  migration: string;
  /** Hash of the parts of the config that checkpoints depend on (tables, keys, segments); a change is refused. */
  configFingerprint: string;
  /**
   * Hashes of the transform's code and of the config that shapes its output: a change is refused unless the run
   * re-copies everything (`run --rebackfill`) or accepts the new one as it is (`--accept-transform`). Absent in states
   * written before it existed; recorded on resume.
   */
  transformFingerprint?: { code: string; output: string };
  /** The last `run --rebackfill`: when, and the transform fingerprint it replaced. */
  rebackfill?: { at: string; from?: { code: string; output: string } };
  /** The last `--accept-transform` that changed the fingerprint: when, and the fingerprint it replaced. */
  transformAccepted?: { at: string; from: { code: string; output: string } };
  createdAt: string;
  updatedAt: string;
  phase: Phase;
  sources: Record<string, SourceState>;
  /** Set while a runner holds the migration; status uses it to tell a live run from a dead one. */
  runner?: RunnerInfo;
  deadLetters: number;
  /** Last progress snapshot a runner wrote, for `status` from another process. */
  progress?: ProgressSnapshot;
  cutover?: CutoverState;
  /** The last control request (cutover, rollback, finish) the runner handled, so the command can report it. */
  lastControl?: { id: string; request: string; ok: boolean; message: string; code?: string; hint?: string; at: string };
}

/**
 * Which way changes flow. Exactly one direction is applied at a time: forward (source → target) until writes move,
 * reverse (target → source, through the inverse transform) after. A switch first drains the old direction until its
 * stream is quiet, so the two never run together (they would bounce older values back and forth).
 */
export interface CutoverState {
  direction: 'forward' | 'reverse' | 'none';
  draining?: { from: 'forward' | 'reverse'; to: 'forward' | 'reverse' | 'none'; since: string; quietMs: number };
  readsAt?: string;
  writesAt?: string;
  finishedAt?: string;
  /** `finish` was asked for: once the running direction drains, replication stops for good. */
  finishRequested?: boolean;
  /** Stream positions on the targets' streams, opened at `cutover writes` before any application writes there. */
  reverse?: Record<string, StreamState>;
  history: { at: string; event: string }[];
}

export interface ProgressSnapshot {
  at: string;
  phase: Phase;
  backfill: { items: number; estimatedItems: number; itemsPerSecond: number; etaSeconds?: number; partitionsDone: number; partitions: number };
  stream: {
    direction?: 'forward' | 'reverse' | 'none';
    records: number;
    writes: number;
    skipped: number;
    recordsPerSecond: number;
    lagMs: number;
    caughtUp: boolean;
    shards: { source: string; shardId: string; parentShardId?: string; state: string; lagMs?: number; applied: number; checkpoint?: string }[];
  };
  deadLetters: number;
  /** Per table: requests, throttles, retries, writes in flight and rate limits (since this process started). */
  io?: TableActivity[];
}

/** How one source or target table's requests fare; written by the progress actor's snapshot, read by metrics. */
export interface TableActivity {
  side: 'source' | 'target';
  /** The source or target name in the config. */
  name: string;
  table: string;
  requests: number;
  throttles: number;
  retries: number;
  writesInFlight?: number;
  /** Each budget's current and configured units per second; null is unlimited (JSON has no Infinity). */
  rateLimits: { kind: 'read' | 'write'; unitsPerSecond: number | null; ceiling: number | null }[];
}

export type Phase = 'new' | 'backfilling' | 'catching-up' | 'in-sync' | 'reads-cutover' | 'writes-cutover' | 'finished' | 'exported';

export interface RunnerInfo {
  pid: number;
  host: string;
  startedAt: string;
  heartbeatAt: string;
  halt?: { code: string; message: string };
}

export interface SourceState {
  table: string;
  backfill: BackfillState;
  stream: StreamState;
}

export interface BackfillState {
  strategy: 'scan' | 'none' | 'export' | 'touch';
  /** Export strategy: which export, and how far its incremental exports have been applied. */
  export?: { uri: string; exportTime: number; exportArn?: string; incrementalCursor?: unknown; incrementalDone?: boolean };
  /** Touch strategy: per-segment checkpoints of the touch pass and of the marker removal pass. */
  touch?: { touched?: unknown; removal?: unknown; touchedDone?: boolean; removedDone?: boolean };
  /** When the snapshot began: every change before (startedAt − margin) is already in what the backfill reads. */
  startedAt?: string;
  completedAt?: string;
  /** Scan/touch: the segments the backfill was started with (backfill.segments capped by the plan); a resume keeps them. */
  segments?: number;
  partitions: Record<string, PartitionState>;
  itemsWritten: number;
  bytesRead: number;
  /** Items the source reported when the backfill began (approximate; for progress and ETA only). */
  estimatedItems?: number;
  /** Items left out because their TTL had passed (backfill.skipExpired). */
  expiredSkipped?: number;
  /**
   * Items a page read but left to the stream, which had already applied a change to them that may be newer than the
   * read (only when the stream is applied during the backfill).
   */
  overtaken?: number;
  /**
   * Without a backfill: when every item that existed before the stream position expires by TTL. Readers may move to
   * the target only after it.
   */
  ttlHorizon?: string;
}

export interface PartitionState {
  done: boolean;
  cursor?: BackfillCursor;
  items: number;
}

export interface StreamState {
  streamArn: string;
  viewType: string;
  /** When the stream position was opened: no change older than this needs applying. */
  openedAt: string;
  /**
   * Records created before this instant (epoch ms) are already reflected in the snapshot the backfill reads; the
   * applier passes over them instead of re-writing them. Undefined: apply everything.
   */
  skipBefore?: number;
  shards: Record<string, ShardState>;
}

export interface ShardState {
  parentShardId?: string;
  /** Last sequence number whose write has been applied to every target; undefined: nothing applied yet. */
  checkpoint?: string;
  /** The shard is closed and every record in it is applied: its children may start. */
  finished: boolean;
  /** ApproximateCreationDateTime (epoch ms) of the last applied record. */
  lastRecordAt?: number;
  /** Start of a listing that did not show this shard yet (epoch ms): none of its records can be older. */
  createdAfter?: number;
  applied: number;
}
