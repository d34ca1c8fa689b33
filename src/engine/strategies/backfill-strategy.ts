import type { ResolvedConfig } from '../../config/resolved-config.js';
import type { ChangeRecord } from '../../core/change.js';
import type { SnapshotGate } from '../../core/snapshot-gate.js';
import type { RateMeter } from '../../core/rate-limiter.js';
import type { BackfillState, SourceState, StreamState } from '../../state/migration-state.js';
import type { FailurePolicy } from '../failure-policy.js';
import type { TableInfo } from '../../aws/inspect-table.js';
import type { Logger } from '../logger.js';
import type { Plan } from '../plan.js';
import type { ExportApiClient } from '../../sources/export/start-export.js';
import type { RunContext } from '../run/run-context.js';

export type BackfillStrategyName = BackfillState['strategy'];

/**
 * How a runner takes the export `export.start` asks for. The CLI waits for it without limit on the source's own client;
 * the Step Functions Prepare task waits at most `waitMs` (then fails with EXPORT_IN_PROGRESS and is retried) with an
 * idempotency token, so each retry finds the same export instead of starting another.
 */
export interface ExportStartControl {
  /** The DynamoDB client that starts and describes the export (default: the source's). Tests stub it. */
  client?: ExportApiClient;
  clientToken?: string;
  waitMs?: number;
  pollMs?: number;
}

/** What a strategy records when a migration starts, right after the source's stream position was opened. */
export interface StrategyStart {
  config: ResolvedConfig;
  plan: Pick<Plan, 'sources' | 'exports'>;
  source: string;
  /** When the snapshot begins (epoch ms): after the stream position was opened, never before. */
  startedAt: number;
  /** The source's backfill record, with the fields every strategy shares already set. */
  backfill: BackfillState;
  /** The stream position: the strategy sets `skipBefore`, what the snapshot already holds (minus the margin). */
  stream: StreamState;
  log: Logger;
  exportStart?: ExportStartControl;
}

/** What a strategy's backfill of one source is handed. */
export interface StrategyRun {
  ctx: RunContext;
  source: string;
  /** The source's state: the strategy moves its backfill checkpoints here, after the writes they cover landed. */
  state: SourceState;
  failures: FailurePolicy;
  /** Items copied, for progress. */
  meter: RateMeter;
  /** Asks the checkpointer to save now, at a step boundary. */
  flush: () => Promise<void>;
  /** While the stream is applied during the backfill: where each page meets the stream (docs/consistency.md). */
  gate?: SnapshotGate;
  log: Logger;
}

/**
 * One way to get the items that exist before the stream position into the targets. The engine reads these flags and
 * calls these methods; it never asks which strategy it is (the registry is the only place that knows the names).
 */
export interface BackfillStrategy {
  readonly name: BackfillStrategyName;
  /** Copies a snapshot. Without one, an item reaches the target only when it changes (complete once all expired). */
  readonly copiesSnapshot: boolean;
  /** Reads the live table at the backfill's pace, so its duration must fit in the stream's retention. */
  readonly readsTable: boolean;
  /** Reads a DynamoDB export (its manifests are checked at plan). */
  readonly readsExport: boolean;
  /** Can fill a write-once (files) target, which takes the snapshot only. */
  readonly fillsWriteOnceTarget: boolean;
  /**
   * Runs in the AWS runner. `map`: what the state machine's Distributed Map iterates — 'segments' (one child per scan
   * segment, each copying or touching it), 'files' (one child per data file of the export, read from its manifest) or
   * 'none' (no Map). `segmentWork`: what a segment child does — copy its items to the targets, or touch its keys so they
   * flow through the stream handler. Absent: `dynashift run` only.
   */
  readonly awsRunner?: { map: 'segments' | 'files' | 'none'; segmentWork?: 'copy' | 'touch' };

  /** Whether the backfill writes the targets at all with this config (for the plan's estimate). */
  loadsTargets(config: ResolvedConfig): boolean;
  /** What `run` calls on the source for this backfill beyond inspection and the stream (plan's IAM grants), and notes on where. */
  runGrants(config: ResolvedConfig): { actions: string[]; notes: string[] };
  /** What plan says about this strategy for a source. */
  planNotes?(info: TableInfo): string[];
  /** The part of the config its checkpoints depend on (in the state's fingerprint). */
  fingerprint(config: ResolvedConfig): string | number;
  /** Records its initial backfill state and the snapshot margin (`stream.skipBefore`). */
  start(input: StrategyStart): Promise<void>;
  /** Forgets the strategy's own progress beyond the partitions (`run --rebackfill` starts the backfill over). */
  restart?(backfill: BackfillState): void;
  /** Backfills one source from its checkpoint until done (true) or stopped by `signal` (false). */
  run(input: StrategyRun, signal: AbortSignal): Promise<boolean>;
  /** Why the stream must wait for the snapshot with this config (undefined: it may be applied during the backfill). */
  streamWaitsFor?(config: ResolvedConfig): string | undefined;
  /** After every source's backfill: more that must land before the stream (export: the incremental exports). */
  afterSnapshot?(input: StrategyRun, signal: AbortSignal): Promise<void>;
  /** Rewrites each stream record before it is applied (touch: strips its marker). */
  prepareRecord?(config: ResolvedConfig): (record: ChangeRecord) => ChangeRecord;
}
