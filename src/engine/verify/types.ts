import type { DdbJsonMap } from '../../core/ddb-json.js';
import type { Logger } from '../logger.js';

export interface VerifyOptions {
  /** Check about this many random source items (point lookups on the targets) instead of everything. */
  sample?: number;
  /** Rewrite the differences that persist, with conditional writes that can't clobber a newer change. */
  repair?: boolean;
  /** Where the JSON report goes; default `<stateDir>/verify-<timestamp>.json`. */
  reportPath?: string;
  /** How often a difference is re-read before it is reported (default 3); 0 reports what the scans saw. */
  recheckRounds?: number;
  /** Wait before the first re-check (default 2000 ms); it doubles each round. */
  recheckDelayMs?: number;
  /** Parallel Scan segments of each source and read partitions of each target (default: backfill.segments). */
  segments?: number;
  /** Segments read at once on each side (default: backfill.concurrency, at most VERIFY_SCANS_PER_SIDE). */
  concurrency?: number;
  /** Where spill files go while verify runs (default: a fresh folder in the state folder); removed at the end. */
  workDir?: string;
  /** Bucket count override; by default chosen from the table sizes so one bucket stays about 32 MB. */
  buckets?: number;
  /** A bucket file larger than this is split again before it is loaded (default 64 MB). */
  maxBucketBytes?: number;
  /** Item bytes held while identical pairs are settled in memory (twin-pairing.ts, default 24 MB). */
  pairingBudgetBytes?: number;
  /** Keys kept per category in the result and the report (default 10,000). */
  reportLimit?: number;
  log: Logger;
  signal: AbortSignal;
  /** Test hooks: told when the comparison starts and before each re-check round. */
  hooks?: VerifyHooks;
}

export interface VerifyHooks {
  onCompareStart?(): void | Promise<void>;
  onRecheckRound?(round: number, suspects: number): void | Promise<void>;
  onBucketLoaded?(bucket: string, expectedBytes: number, held: number): void;
}

export type DifferenceKind = 'missing' | 'extra' | 'differing';

export interface Finding {
  target: string;
  /** The target key, in DynamoDB JSON. */
  key: DdbJsonMap;
  /** The source item that produces (or should produce) it, when known. */
  source?: string;
  sourceKey?: DdbJsonMap;
  /** Set when --repair rewrote the item and a re-check found it right. */
  repaired?: boolean;
  /** Why --repair left it alone. */
  repairNote?: string;
}

export interface DifferingFinding extends Finding {
  /** Names of the top-level attributes that differ. */
  attributes: string[];
}

export interface TransformErrorFinding {
  source: string;
  sourceKey: DdbJsonMap;
  code: string;
  message: string;
}

export interface VerifyCounts {
  /** Items transform(source) produces (in sample mode: for the sampled source items). */
  expected: number;
  /** Items read from the targets (sample mode: found by key). */
  actual: number;
  missing: number;
  extra: number;
  differing: number;
  /** Source items the transform threw on or mapped to an invalid item: they could not be checked. */
  transformErrors: number;
  /** Differences seen by the scans that were gone when re-read: changes in flight, not reported. */
  recheckedInFlight: number;
  /** Differences --repair fixed (and a re-check confirmed). */
  repaired: number;
  /** Differences --repair did not fix (a newer change landed, unsupported target kind, untraceable extra…). */
  repairSkipped: number;
}

export interface VerifyResult {
  /** True when no difference persisted and every source item could be mapped. With --repair: before repairing. */
  identical: boolean;
  mode: 'full' | 'sample';
  /** Source items sampled (sample mode). */
  sampled?: number;
  counts: VerifyCounts;
  missing: Finding[];
  extra: Finding[];
  differing: DifferingFinding[];
  transformErrors: TransformErrorFinding[];
  /** Lists above are cut at this many entries per category. */
  limit: number;
  /** Categories whose list was cut. */
  truncated: Partial<Record<DifferenceKind | 'transformErrors', true>>;
  /** Things the reader must know (sample mode can't see extras, repair unsupported for a kind, …). */
  notes: string[];
  /** Hash buckets of the full comparison. */
  buckets?: number;
  /** The signal stopped verify before it finished: the result is incomplete. */
  interrupted?: boolean;
  reportPath: string;
  startedAt: string;
  durationMs: number;
}
