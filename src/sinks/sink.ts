import type { WriteOp } from '../core/write-op.js';

/**
 * What a sink can do. The engine reads these instead of branching on the sink's kind (DynamoDB, PostgreSQL, files).
 */
export interface SinkCapabilities {
  /** Writes can carry conditions (needed for guarded writes that must not clobber a newer change). */
  conditionalWrites: boolean;
  /** Most writes one request can carry (DynamoDB BatchWriteItem: 25). */
  maxBatchSize: number;
  /** Several writes can commit atomically. */
  transactions: boolean;
  /** Stores DynamoDB types natively (sets, binary, 38-digit numbers) rather than through a mapping. */
  nativeTypes: boolean;
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
}
