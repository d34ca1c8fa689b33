import type { CallStats } from '../aws/call-stats.js';
import type { UnitBudget } from '../core/rate-limiter.js';
import type { WriteOp } from '../core/write-op.js';

/**
 * What a kind of sink can do. Declared by each driver (src/sinks/<kind>/<kind>-driver.ts), known before the sink is
 * opened, and read by the engine — plan, run, reverse replication, verify — which never branches on the sink's kind
 * (kysely's dialect-adapter model). A config that asks a sink for something it can't do is refused at `plan`.
 * The defaults (DEFAULT_SINK_CAPABILITIES) are the most conservative answer: a new driver claims only what it has.
 */
export interface SinkCapabilities {
  /**
   * Writes can be conditional on the stored item's version, so `guard.versionAttribute` is honoured: a write lands only
   * when the stored version is not newer. Default false (plan refuses `guard` with GUARD_UNSUPPORTED).
   */
  conditionalWrites: boolean;
  /**
   * The target can carry a DynamoDB stream (NEW_AND_OLD_IMAGES) that reverse replication follows after `cutover
   * writes`. Default false (plan refuses `inverseTransform` with REVERSE_UNSUPPORTED).
   */
  changeStream: boolean;
  /**
   * Takes the backfill once and nothing else: no stream catch-up, updates or deletes (export files). Default false.
   * Such a migration takes no stream position and ends in phase `exported`.
   */
  writeOnce: boolean;
  /** An opened sink reads itself back (TargetReader), so verify can compare it. Default true. */
  verifiable: boolean;
  /**
   * Speaks the DynamoDB API under target.table/region/endpoint: verify --repair rewrites items through it, and it can
   * be the very table a source names (refused as TARGET_IS_SOURCE). Default false.
   */
  dynamoDbApi: boolean;
  /** Most writes one request can carry (DynamoDB BatchWriteItem: 25). */
  maxBatchSize: number;
  /** Several writes can commit atomically. Default false. */
  transactions: boolean;
  /** Stores DynamoDB types natively (sets, binary, 38-digit numbers) rather than through a mapping. Default false. */
  nativeTypes: boolean;
}

export const DEFAULT_SINK_CAPABILITIES: SinkCapabilities = {
  conditionalWrites: false,
  changeStream: false,
  writeOnce: false,
  verifiable: true,
  dynamoDbApi: false,
  maxBatchSize: 25,
  transactions: false,
  nativeTypes: false,
};

/** A driver's declaration: what it claims, over the defaults. */
export function declareCapabilities(claims: Partial<SinkCapabilities>): Readonly<SinkCapabilities> {
  return Object.freeze({ ...DEFAULT_SINK_CAPABILITIES, ...claims });
}

/** A write the target refused for this item alone (too large, wrong key type…): dead-lettered, never dropped. */
export interface RejectedWrite {
  op: WriteOp;
  error: { code: string; message: string };
}

export interface WriteStats {
  written: number;
  /** Capacity units the target reports consumed, when it reports them. */
  consumedCapacity: number;
}

/** How a sink is doing right now, for monitoring (metrics, dashboard). */
export interface SinkActivity {
  /** Write requests in flight. */
  writesInFlight: number;
  /** Requests sent, throttled and retried (see aws/call-stats.ts). */
  requests: number;
  throttles: number;
  retries: number;
  /** The write budget: current units per second (Infinity: unlimited) and its configured ceiling. */
  rateLimit?: { unitsPerSecond: number; ceiling: number };
}

/** One target: the engine hands it ordered, compacted writes (at most one per key per call). */
export interface Sink {
  readonly name: string;
  readonly capabilities: SinkCapabilities;
  /**
   * Applies every op or reports it rejected. Throws only when the sink itself fails (network, permissions, throttling
   * beyond retries): then nothing about the batch may be assumed and the caller must not checkpoint past it.
   */
  write(ops: WriteOp[], signal?: AbortSignal): Promise<{ rejected: RejectedWrite[]; stats: WriteStats }>;
  close?(): Promise<void>;
  /** Live counters for monitoring; sinks without it report nothing. */
  activity?(): SinkActivity;
  /**
   * The table's write budget, when the sink keeps one: a backfill worker thread's sink of the same target pays into it
   * by message (engine/workers/), so the configured ceiling holds for every thread together.
   */
  readonly writeBudget?: UnitBudget;
  /**
   * The request counters activity() reports, when the sink keeps them: a backfill worker thread's sink of the same
   * target adds its own requests into them (engine/workers/), so monitoring counts every thread's.
   */
  readonly callStats?: CallStats;
}

/** For the engine: the sink needs `finalize()` once its backfill is complete (the files sink's manifests). */
export function finalizableSink(sink: Sink): (Sink & { finalize(): Promise<unknown> }) | undefined {
  return typeof (sink as { finalize?: unknown }).finalize === 'function' ? (sink as Sink & { finalize(): Promise<unknown> }) : undefined;
}
