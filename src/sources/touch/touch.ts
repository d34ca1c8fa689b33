import { randomBytes } from 'node:crypto';
import { ScanCommand, UpdateItemCommand, type DynamoDBClient, type ScanCommandOutput, type UpdateItemCommandOutput } from '@aws-sdk/client-dynamodb';
import { extractKey, keyAttributeNames, type AttributeMap, type KeySchema } from '../../core/item.js';
import { RateLimiter, RateMeter } from '../../core/rate-limiter.js';
import { Semaphore } from '../../core/semaphore.js';
import { systemClock } from '../../core/clock.js';
import { errorName } from '../../aws/errors.js';
import { retryAws } from '../../aws/aws-retry.js';

/**
 * The touch backfill: instead of copying items, rewrite a marker attribute on every item so that each one appears in
 * the table's stream, and let stream catch-up copy them. It needs no snapshot logic and reads no item data — but it
 * writes to the source (2 writes per item: touch, then remove the marker) and must never change what the
 * application sees:
 *
 * - The touch is `SET #marker = :token` conditioned on `attribute_exists(<partition key>)`: an item deleted since
 *   the scan read its key is NOT re-created (ConditionalCheckFailed just means "deleted meanwhile").
 * - The removal is `REMOVE #marker` conditioned on `attribute_exists(#marker)`, which also implies the item exists.
 * - The token is fresh per call: SET to an unchanged value emits no stream record, so a resumed touch must write a
 *   value the item doesn't already hold.
 * The engine strips the marker from stream images before the transform, so it never reaches a target.
 */
export const TOUCH_MARKER_ATTRIBUTE = '_dynashift_touch';

export interface TouchSegmentState {
  /** Resume point: the segment's Scan continues after this key. */
  lastEvaluatedKey?: AttributeMap;
  done: boolean;
  /** Keys the scan returned. */
  scanned: number;
  /** Successful updates. */
  written: number;
  /** Updates whose condition failed: the item was deleted (or, for removal, already had no marker). */
  skipped: number;
}

/** Per-segment checkpoints; JSON-serializable, mutated in place as pages complete. */
export interface TouchState {
  segments: Record<string, TouchSegmentState>;
}

export interface TouchOptions {
  client: DynamoDBClient;
  table: string;
  keySchema: KeySchema;
  /** The marker attribute (default `_dynashift_touch`). */
  marker?: string;
  /** The value written by touchAll (default: random, fresh per call). */
  token?: string;
  /** Parallel Scan segments. */
  segments: number;
  /** Work on these segments only (the AWS runner gives each Map child one); default: all of them. */
  onlySegments?: number[];
  /** Segments worked on at once (default min(segments, 8)). */
  concurrency?: number;
  /** UpdateItem calls in flight across all segments (default 16). */
  writeConcurrency?: number;
  /** Write units per second the pass may spend (fed from ConsumedCapacity); default unlimited. */
  limiter?: RateLimiter;
  /** Read units per second for the key scan; default unlimited. */
  readLimiter?: RateLimiter;
  /** Checkpoints to resume from; created when absent. Mutated in place. */
  state?: TouchState;
  /** Called after each page whose updates all landed (persist the state then). */
  onCheckpoint?: (state: TouchState) => void;
  signal?: AbortSignal;
  /** Scan Limit (default 1000). */
  pageSize?: number;
}

export interface TouchResult {
  /** True when every segment is done; false when stopped by the signal. */
  complete: boolean;
  state: TouchState;
  scanned: number;
  written: number;
  skipped: number;
  writeUnits: number;
  readUnits: number;
  token?: string;
}

/** Writes the marker on every item, so that every item present emits a stream record. */
export function touchAll(opts: TouchOptions): Promise<TouchResult> {
  const token = opts.token ?? `${Date.now()}-${randomBytes(6).toString('hex')}`;
  return runPass(opts, { kind: 'touch', token });
}

/** Removes the marker again from every item that has it (run after the stream has delivered the touches). */
export function removeMarkers(opts: Omit<TouchOptions, 'token'>): Promise<TouchResult> {
  return runPass(opts, { kind: 'remove' });
}

type Pass = { kind: 'touch'; token: string } | { kind: 'remove' };

async function runPass(opts: TouchOptions, pass: Pass): Promise<TouchResult> {
  const marker = opts.marker ?? TOUCH_MARKER_ATTRIBUTE;
  const state = opts.state ?? { segments: {} };
  const mine = opts.onlySegments ?? Array.from({ length: opts.segments }, (_, s) => s);
  for (const s of mine) state.segments[String(s)] ??= { done: false, scanned: 0, written: 0, skipped: 0 };
  const totals = { writeUnits: 0, readUnits: 0 };
  const writes = new Semaphore(opts.writeConcurrency ?? 16);
  const limiter = opts.limiter ?? new RateLimiter(Infinity, systemClock);
  const readLimiter = opts.readLimiter ?? new RateLimiter(Infinity, systemClock);
  // What is being achieved, to seed a throttled limiter that had no ceiling (as ScanSource does).
  const writeMeter = new RateMeter(systemClock);
  const readMeter = new RateMeter(systemClock);
  const queue = mine.map(String).filter((s) => !state.segments[s]!.done);
  const keyNames = keyAttributeNames(opts.keySchema);
  const names: Record<string, string> = { '#m': marker };
  keyNames.forEach((k, i) => (names[`#k${i}`] = k));

  const updateOne = async (key: AttributeMap, seg: TouchSegmentState): Promise<void> => {
    const res = await withRetry(
      () =>
        opts.client.send(
          new UpdateItemCommand(
            pass.kind === 'touch'
              ? {
                  TableName: opts.table,
                  Key: key,
                  ReturnConsumedCapacity: 'TOTAL',
                  UpdateExpression: 'SET #m = :token',
                  // Never re-create an item deleted since its key was scanned.
                  ConditionExpression: 'attribute_exists(#k0)',
                  ExpressionAttributeNames: { '#m': marker, '#k0': keyNames[0]! },
                  ExpressionAttributeValues: { ':token': { S: pass.token } },
                }
              : {
                  TableName: opts.table,
                  Key: key,
                  ReturnConsumedCapacity: 'TOTAL',
                  UpdateExpression: 'REMOVE #m',
                  ConditionExpression: 'attribute_exists(#m)',
                  ExpressionAttributeNames: { '#m': marker },
                },
          ),
          opts.signal ? { abortSignal: opts.signal } : {},
        ),
      'UpdateItem',
      limiter,
      writeMeter,
      opts.signal,
    );
    if (res === 'condition-failed') {
      seg.skipped++;
      // A failed condition still costs a write unit; the limiter must know.
      totals.writeUnits += 1;
      writeMeter.add(1);
      await limiter.consume(1, opts.signal);
      return;
    }
    if (res === undefined) return;
    const units = res.ConsumedCapacity?.CapacityUnits ?? 1;
    totals.writeUnits += units;
    writeMeter.add(units);
    seg.written++;
    await limiter.consume(units, opts.signal);
  };

  const runSegment = async (segment: string): Promise<void> => {
    const seg = state.segments[segment]!;
    while (!seg.done && !opts.signal?.aborted) {
      const page = (await withRetry(
        () =>
          opts.client.send(
            new ScanCommand({
              TableName: opts.table,
              Segment: Number(segment),
              TotalSegments: opts.segments,
              Limit: opts.pageSize ?? 1000,
              ProjectionExpression: keyNames.map((_, i) => `#k${i}`).join(', '),
              ...(pass.kind === 'remove' ? { FilterExpression: 'attribute_exists(#m)' } : {}),
              ExpressionAttributeNames: pass.kind === 'remove' ? names : Object.fromEntries(Object.entries(names).filter(([k]) => k !== '#m')),
              ReturnConsumedCapacity: 'TOTAL',
              ...(seg.lastEvaluatedKey ? { ExclusiveStartKey: seg.lastEvaluatedKey } : {}),
            }),
            opts.signal ? { abortSignal: opts.signal } : {},
          ),
        'Scan',
        readLimiter,
        readMeter,
        opts.signal,
      )) as ScanCommandOutput | undefined;
      if (!page) return; // aborted
      const units = page.ConsumedCapacity?.CapacityUnits ?? 0;
      totals.readUnits += units;
      readMeter.add(units);
      await readLimiter.consume(units, opts.signal);
      const keys = (page.Items ?? [])
        .map((item) => extractKey(item as AttributeMap, opts.keySchema))
        .filter((k): k is AttributeMap => k !== undefined);
      seg.scanned += keys.length;
      await Promise.all(keys.map((key) => writes.run(() => updateOne(key, seg))));
      // A stop mid-page leaves the checkpoint before the page: it is redone (harmless) rather than skipped.
      if (opts.signal?.aborted) return;
      if (page.LastEvaluatedKey) seg.lastEvaluatedKey = page.LastEvaluatedKey as AttributeMap;
      else {
        seg.done = true;
        delete seg.lastEvaluatedKey;
      }
      opts.onCheckpoint?.(state);
    }
  };

  const worker = async (): Promise<void> => {
    for (let s = queue.shift(); s !== undefined && !opts.signal?.aborted; s = queue.shift()) await runSegment(s);
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency ?? 8, queue.length) }, worker));

  const segs = mine.map((s) => state.segments[String(s)]!);
  return {
    complete: segs.every((s) => s.done),
    state,
    scanned: segs.reduce((n, s) => n + s.scanned, 0),
    written: segs.reduce((n, s) => n + s.written, 0),
    skipped: segs.reduce((n, s) => n + s.skipped, 0),
    ...totals,
    ...(pass.kind === 'touch' ? { token: pass.token } : {}),
  };
}

/**
 * Retries throttling and transient errors with backoff (aws/aws-retry.ts; only throttling halves the limiter's rate).
 * Resolves 'condition-failed' for ConditionalCheckFailedException — the expected outcome for an item deleted
 * meanwhile — and undefined when aborted.
 */
async function withRetry<T extends UpdateItemCommandOutput | ScanCommandOutput>(
  call: () => Promise<T>,
  operation: string,
  limiter: RateLimiter,
  meter: RateMeter,
  signal?: AbortSignal,
): Promise<T | 'condition-failed' | undefined> {
  try {
    return await retryAws(call, {
      side: 'source',
      operation,
      baseMs: 100,
      maxMs: 10_000,
      onThrottle: () => limiter.throttled(meter.perSecond()),
      ...(signal ? { signal } : {}),
    });
  } catch (err) {
    if (errorName(err) === 'ConditionalCheckFailedException') return 'condition-failed';
    throw err;
  }
}

/**
 * A change record without the touch marker in its images, for the engine to apply (the marker must never reach a
 * target). Pure; returns the same record when there is nothing to strip.
 */
export function stripTouchMarker<R extends { newImage?: AttributeMap; oldImage?: AttributeMap }>(
  record: R,
  marker: string = TOUCH_MARKER_ATTRIBUTE,
): R {
  const strip = (image: AttributeMap | undefined): AttributeMap | undefined => {
    if (!image || !(marker in image)) return image;
    const { [marker]: _removed, ...rest } = image;
    return rest;
  };
  if (!(record.newImage && marker in record.newImage) && !(record.oldImage && marker in record.oldImage)) return record;
  const out = { ...record };
  const n = strip(record.newImage);
  const o = strip(record.oldImage);
  if (n) out.newImage = n;
  if (o) out.oldImage = o;
  return out;
}
