import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { ResolvedConfig } from '../../config/resolved-config.js';
import { systemClock } from '../../core/clock.js';
import { RateLimiter, RateMeter } from '../../core/rate-limiter.js';
import type { ItemMapper } from '../../core/transform.js';
import { runBackfill } from '../../engine/backfill.js';
import { FailurePolicy } from '../../engine/failure-policy.js';
import type { Logger } from '../../engine/logger.js';
import { DynashiftError } from '../../errors.js';
import type { Sink } from '../../sinks/sink.js';
import { ScanSource } from '../../sources/scan/scan-source.js';
import type { BackfillSource } from '../../sources/source.js';
import type { BackfillCursor } from '../../state/migration-state.js';
import type { DynamoDbStateStore, RunnerRuntime } from '../../state/dynamodb-state-store.js';
import type { BackfillState, PartitionState } from '../../state/migration-state.js';
import type { SegmentInput, SegmentResult } from './types.js';

export interface SegmentContext {
  config: ResolvedConfig;
  /** A store whose owner is this invocation: it names the segment lease. */
  store: DynamoDbStateStore;
  runtime: RunnerRuntime;
  mapper: ItemMapper;
  sinks: Record<string, Sink>;
  sourceClient: DynamoDBClient;
  log: Logger;
}

export interface SegmentTiming {
  /** Time this invocation may spend starting new pages. */
  timeBudgetMs: number;
  /** The Lambda's remaining time, when known: the budget is cut to leave `reserveMs` for the last page and cleanup. */
  remainingMs?: number;
  reserveMs: number;
}

/**
 * Copies ONE scan segment for at most the time budget, then returns where it stopped; the state machine calls it again
 * until `done`. It reuses the CLI's runBackfill on a one-partition view of the scan (copyPartition).
 */
export async function copySegment(ctx: SegmentContext, input: SegmentInput, timing: SegmentTiming): Promise<SegmentResult> {
  checkInput(ctx.config, input);
  const partition = String(input.segment);
  const r = await copyPartition(ctx, input.source, partition, onePartition(ctx, input, partition), timing, {
    what: 'segment',
    strategy: 'scan',
    carried: input.cursor,
    log: { segment: input.segment },
  });
  return { source: input.source, segment: input.segment, totalSegments: input.totalSegments, ...r };
}

/** Where one partition's copy stands after an invocation. */
export interface PartitionProgress {
  done: boolean;
  cursor: BackfillCursor | null;
  /** Items copied from this partition so far (all invocations). */
  items: number;
  /** Items and pages copied by this invocation. */
  copied: number;
  pages: number;
  deadLettered: number;
}

/**
 * Copies ONE partition of a snapshot source (a scan segment, an export data file) for at most the time budget, with
 * the CLI's runBackfill: a page's checkpoint moves only after every write of the page has landed or been
 * dead-lettered. Checkpoints go to the partition's own item in the state table under a lease, so a duplicate
 * invocation of the same partition is refused instead of racing, and a partition once done stays done (a retried or
 * re-run child returns at once).
 */
export async function copyPartition(
  ctx: SegmentContext,
  sourceName: string,
  partition: string,
  source: BackfillSource,
  timing: SegmentTiming,
  opts: { what: string; strategy: BackfillState['strategy']; carried?: BackfillCursor | null | undefined; log: Record<string, unknown> },
): Promise<PartitionProgress> {
  const { config, store, runtime } = ctx;
  const where = { source: sourceName, ...opts.log };
  const started = Date.now();
  // A short Lambda timeout shrinks the reserve rather than leaving no time at all: every invocation copies at least a page.
  const reserveMs = timing.remainingMs !== undefined ? Math.min(timing.reserveMs, timing.remainingMs / 4) : timing.reserveMs;
  const usable = timing.remainingMs !== undefined ? Math.max(0, timing.remainingMs - reserveMs) : Infinity;
  const deadline = started + Math.min(timing.timeBudgetMs, usable);
  // The lease outlives this invocation (Lambda can't run past its timeout), so no stale copier writes after a successor
  // — or after the catch-up began.
  const leaseMs = (timing.remainingMs ?? timing.timeBudgetMs + reserveMs) + 30_000;
  const checkpoint = await store.acquireSegment(sourceName, partition, leaseMs);
  if (checkpoint.done) {
    await store.releaseSegment(sourceName, partition);
    return { done: true, cursor: null, items: checkpoint.items, copied: 0, pages: 0, deadLettered: 0 };
  }

  // The checkpoint in the state table is the only position trusted: a cursor carried by the loop could be stale (an
  // execution still running against a migration that was started over) and would skip the start of the partition.
  if (opts.carried && JSON.stringify(opts.carried) !== JSON.stringify(checkpoint.cursor ?? null)) {
    ctx.log.warn(where, 'the loop carried another cursor than the checkpoint; continuing from the checkpoint');
  }
  const ps: PartitionState = { done: false, items: checkpoint.items, ...(checkpoint.cursor ? { cursor: checkpoint.cursor } : {}) };
  const state: BackfillState = { strategy: opts.strategy, partitions: { [partition]: ps }, itemsWritten: 0, bytesRead: 0 };
  const stop = new AbortController();
  const hardStop = timing.remainingMs !== undefined ? setTimeout(() => stop.abort(), Math.max(0, timing.remainingMs - reserveMs / 2)) : undefined;
  let pages = 0;
  let bytes = 0;
  let saving: Promise<void> = Promise.resolve();
  let saveError: unknown;
  const onCheckpoint = (): void => {
    pages++;
    const cp = { done: ps.done, items: ps.items, ...(ps.cursor ? { cursor: ps.cursor } : {}) };
    const pageBytes = bytes;
    bytes = 0;
    // Checkpoints are written in order; the next page is read meanwhile (its writes can't land before this cursor
    // matters: a crash just re-copies it).
    saving = saving
      .then(() => store.checkpointSegment(sourceName, partition, cp, pageBytes))
      .catch((err: unknown) => {
        saveError ??= err;
        stop.abort();
      });
    if (Date.now() >= deadline) stop.abort();
  };

  const ttlAttribute = runtime.ttlAttributes[sourceName];
  const failures = new FailurePolicy(store, config.onError, ctx.log);
  try {
    await runBackfill(
      {
        source,
        sourceName,
        sourceKeySchema: runtime.sourceKeys[sourceName]!,
        mapper: ctx.mapper,
        sinks: ctx.sinks,
        state,
        concurrency: 1,
        failures,
        onProgress: (_items, b) => {
          bytes += b;
        },
        onCheckpoint,
        log: ctx.log,
        ...(config.backfill.skipExpired && ttlAttribute ? { skipExpired: { ttlAttribute, now: () => Date.now() } } : {}),
      },
      stop.signal,
    );
    await saving;
    if (saveError) throw saveError;
  } finally {
    if (hardStop) clearTimeout(hardStop);
    await saving;
    await store.releaseSegment(sourceName, partition);
  }
  const copied = ps.items - checkpoint.items;
  ctx.log.info(
    { ...where, pages, copied, done: ps.done, ms: Date.now() - started },
    ps.done ? `${opts.what} copied` : `${opts.what} paused: time budget used, the state machine continues it`,
  );
  return { done: ps.done, cursor: ps.done ? null : (ps.cursor ?? null), items: ps.items, copied, pages, deadLettered: failures.count };
}

/** The CLI's ScanSource, limited to this segment and to this child's share of the read budget. */
function onePartition(ctx: SegmentContext, input: SegmentInput, partition: string): BackfillSource {
  const rate = ctx.runtime.segmentReadUnitsPerSecond[input.source];
  const scan = new ScanSource({
    name: input.source,
    client: ctx.sourceClient,
    table: ctx.config.sources[input.source]!.table,
    totalSegments: input.totalSegments,
    pageSize: ctx.config.backfill.pageSize,
    consistentRead: ctx.config.backfill.consistentRead,
    limiter: new RateLimiter(rate ?? Infinity, systemClock),
    meter: new RateMeter(systemClock),
  });
  return { name: input.source, partitions: async () => [partition], read: (p, cursor, signal) => scan.read(p, cursor, signal) };
}

export function checkInput(config: ResolvedConfig, input: SegmentInput): void {
  const ok =
    config.sources[input.source] &&
    Number.isInteger(input.segment) &&
    input.segment >= 0 &&
    input.segment < input.totalSegments &&
    input.totalSegments === config.backfill.segments;
  if (!ok) {
    throw new DynashiftError(
      'CONFIG_INVALID',
      `invalid segment task ${JSON.stringify({ source: input.source, segment: input.segment, totalSegments: input.totalSegments })}`,
      {
        hint: `the Map items come from the Prepare step: source one of ${Object.keys(config.sources).join(', ')}, segment < totalSegments = backfill.segments (${config.backfill.segments})`,
      },
    );
  }
}
