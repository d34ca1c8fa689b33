import { systemClock } from '../../core/clock.js';
import type { AttributeMap } from '../../core/item.js';
import { RateLimiter } from '../../core/rate-limiter.js';
import { removeMarkers, touchAll, type TouchSegmentState } from '../../sources/touch/index.js';
import type { SegmentCheckpoint } from '../../state/dynamodb-state-store.js';
import { checkInput, type SegmentContext, type SegmentTiming } from './backfill-segment.js';
import type { SegmentInput, SegmentResult } from './types.js';

/** A touch segment's checkpoint cursor: which pass it is in, and where that pass's Scan continues. */
interface TouchCursor {
  pass: 'touch' | 'remove';
  key?: AttributeMap;
}

/**
 * Touches ONE scan segment of the source for at most the time budget (the segment Map's child for the touch strategy;
 * it loops until `done`), with the CLI's touchAll and removeMarkers limited to this segment: every item of the segment
 * gets the marker (conditionally on existing, so a concurrent delete is never undone), which makes it flow through the
 * stream to the stream handler; then the marker is removed again from the segment. The stream handler strips the
 * marker from every record before the transform (the strategy's prepareRecord), so the two records an item emits map
 * to the same target item. Checkpoints are the segment's item in the state table, under its lease, after each page
 * whose updates all landed: a crash redoes at most one page (a second touch, harmless).
 */
export async function touchSegment(ctx: SegmentContext, input: SegmentInput, timing: SegmentTiming): Promise<SegmentResult> {
  const { config, store, runtime } = ctx;
  checkInput(config, input);
  const partition = String(input.segment);
  const base = { source: input.source, segment: input.segment, totalSegments: input.totalSegments };
  const started = Date.now();
  const reserveMs = timing.remainingMs !== undefined ? Math.min(timing.reserveMs, timing.remainingMs / 4) : timing.reserveMs;
  const usable = timing.remainingMs !== undefined ? Math.max(0, timing.remainingMs - reserveMs) : Infinity;
  const deadline = started + Math.min(timing.timeBudgetMs, usable);
  const leaseMs = (timing.remainingMs ?? timing.timeBudgetMs + reserveMs) + 30_000;
  const checkpoint = await store.acquireSegment(input.source, partition, leaseMs);
  if (checkpoint.done) {
    await store.releaseSegment(input.source, partition);
    return { ...base, done: true, cursor: null, items: checkpoint.items, copied: 0, pages: 0, deadLettered: 0 };
  }

  let cursor: TouchCursor = (checkpoint.cursor as TouchCursor | undefined) ?? { pass: 'touch' };
  let items = checkpoint.items;
  let pages = 0;
  const stop = new AbortController();
  const hardStop = timing.remainingMs !== undefined ? setTimeout(() => stop.abort(), Math.max(0, timing.remainingMs - reserveMs / 2)) : undefined;
  let saving: Promise<void> = Promise.resolve();
  let saveError: unknown;
  const save = (cp: SegmentCheckpoint): void => {
    saving = saving
      .then(() => store.checkpointSegment(input.source, partition, cp))
      .catch((err: unknown) => {
        saveError ??= err;
        stop.abort();
      });
  };
  const touchCfg = config.backfill.touch ?? {};
  const writeBudget = touchCfg.maxWriteUnitsPerSecond !== undefined ? touchCfg.maxWriteUnitsPerSecond / config.backfill.concurrency : Infinity;
  const common = {
    client: ctx.sourceClient,
    table: config.sources[input.source]!.table,
    keySchema: runtime.sourceKeys[input.source]!,
    segments: input.totalSegments,
    onlySegments: [input.segment],
    concurrency: 1,
    signal: stop.signal,
    pageSize: config.backfill.pageSize,
    ...(touchCfg.marker ? { marker: touchCfg.marker } : {}),
    limiter: new RateLimiter(writeBudget, systemClock),
    readLimiter: new RateLimiter(runtime.segmentReadUnitsPerSecond[input.source] ?? Infinity, systemClock),
  };
  let done = false;
  try {
    while (!stop.signal.aborted && !done) {
      const pass = cursor.pass;
      const seg: TouchSegmentState = { done: false, scanned: 0, written: 0, skipped: 0, ...(cursor.key ? { lastEvaluatedKey: cursor.key } : {}) };
      const state = { segments: { [partition]: seg } };
      const before = items;
      const onCheckpoint = (): void => {
        pages++;
        if (pass === 'touch') items = before + seg.written;
        const finished = seg.done && pass === 'remove';
        cursor = seg.done ? { pass: 'remove' } : { pass, ...(seg.lastEvaluatedKey ? { key: seg.lastEvaluatedKey } : {}) };
        save({ done: finished, items, ...(finished ? {} : { cursor: cursor as unknown as Record<string, unknown> }) });
        if (Date.now() >= deadline) stop.abort();
      };
      const r = pass === 'touch' ? await touchAll({ ...common, state, onCheckpoint }) : await removeMarkers({ ...common, state, onCheckpoint });
      if (!r.complete) break;
      done = pass === 'remove';
    }
    await saving;
    if (saveError) throw saveError;
  } finally {
    if (hardStop) clearTimeout(hardStop);
    await saving;
    await store.releaseSegment(input.source, partition);
  }
  ctx.log.info(
    { source: input.source, segment: input.segment, pass: cursor.pass, pages, touched: items - checkpoint.items, done, ms: Date.now() - started },
    done ? 'segment touched and its markers removed' : 'segment paused: time budget used, the state machine continues it',
  );
  return {
    ...base,
    done,
    cursor: done ? null : (cursor as unknown as Record<string, unknown>),
    items,
    copied: items - checkpoint.items,
    pages,
    deadLettered: 0,
  };
}
