import { setMaxListeners } from 'node:events';
import type { GetShardIteratorCommandInput, Shard, _Record } from '@aws-sdk/client-dynamodb-streams';
import { errorName, isRetryable } from '../../aws/errors.js';
import { retryAws } from '../../aws/aws-retry.js';
import { backoffDelay, sleep } from '../../core/backoff.js';
import type { ChangePage, ChangeRecord } from '../../core/change.js';
import { STREAM_RETENTION_MS } from '../../core/constants.js';
import { DynashiftError, StreamGapError } from '../../errors.js';
import type { StreamState } from '../../state/migration-state.js';
import { toChangeRecord } from './record-mapper.js';
import { describeGap, eligibleShards, isInitialOpen, normalizeListing, readiness, reconcileListing, type ListedShard } from './shard-lineage.js';
import type { StreamsApi } from './streams-api.js';

export interface StreamReaderLog {
  info(o: object, msg?: string): void;
  warn(o: object, msg?: string): void;
  debug?(o: object, msg?: string): void;
}

export interface StreamReaderOptions {
  api: StreamsApi;
  /** Source name, copied into ChangePage.source. */
  source: string;
  /** Mutable; the reader updates shards[*].checkpoint/finished/lastRecordAt/applied and adds discovered shards. */
  state: StreamState;
  /** Called after the reader changed `state` (the caller debounces persistence). */
  onCheckpoint: () => void;
  /** Wait after an empty GetRecords on an open shard (default 250). */
  pollIntervalMs?: number;
  /** How often to re-list shards with DescribeStream (default 10000); also re-listed right after a shard closes. */
  discoveryIntervalMs?: number;
  /** GetRecords Limit (default 1000). */
  maxRecordsPerPage?: number;
  /** Stream retention, default 24 h. */
  retentionMs?: number;
  now?: () => number;
  log?: StreamReaderLog;
}

export interface ShardStatus {
  shardId: string;
  parentShardId?: string;
  state: 'waiting-for-parent' | 'reading' | 'at-tip' | 'finished';
  lagMs?: number;
  checkpoint?: string;
  applied: number;
}

/** Opening at TRIM_HORIZON this close to the retention limit can't prove that nothing we need was trimmed. */
const TRIM_SAFETY_MARGIN_MS = 5 * 60_000;
/** DescribeStream allows 10 calls per second. */
const DESCRIBE_MIN_GAP_MS = 100;
const DESCRIBE_PAGE_LIMIT = 100;
/**
 * GetRecords stops at 1,000 records or 1 MB. A stream record holds at most two 400 KB images plus keys, so a page
 * under this many bytes was not cut by the size bound: had another record been available, it would have fitted.
 */
const SHORT_PAGE_MAX_BYTES = 1_048_576 - 2 * 409_600 - 10_240;

/** What the reader knows about a shard in this process only (lost on restart, so never needed for correctness). */
interface ShardRuntime {
  running: boolean;
  /**
   * Start time of the last GetRecords call that reached the tip: an empty page, or a page below both of GetRecords'
   * bounds, once applied. Cleared while a page that may not be the tip is being handled.
   */
  tipAt?: number;
  /**
   * Start time of the latest GetRecords call proven to have returned everything the shard held, once applied. Unlike
   * tipAt it never goes back: records written later don't undo what was proven about the ones before.
   */
  syncedThrough?: number;
  /** createdAt of the first record of the page being handled, for lag before the first checkpoint. */
  pendingFrom?: number;
  /** The closing page (no NextShardIterator) was received: the shard may vanish from listings without loss. */
  fullyRead: boolean;
}

type Handler = (page: ChangePage) => Promise<void>;

type GetRecordsOut = Awaited<ReturnType<StreamsApi['getRecords']>>;

interface PageFetch {
  /** When the GetRecords call was made: a page below both bounds proves the shard held nothing more at this time. */
  calledAt: number;
  result: Promise<{ ok: true; out: GetRecordsOut | undefined } | { ok: false; error: unknown }>;
}

/**
 * Reads a DynamoDB stream in shard-lineage order and hands each non-empty page to a handler, checkpointing a page only
 * after its handler resolved. Any situation where it can't prove that every record after the opened position reaches
 * the handler (trimmed data, a vanished shard, a missing parent) ends the run with a StreamGapError.
 */
export class StreamReader {
  private readonly api: StreamsApi;
  private readonly source: string;
  private readonly state: StreamState;
  private readonly onCheckpoint: () => void;
  private readonly pollIntervalMs: number;
  private readonly discoveryIntervalMs: number;
  private readonly maxRecordsPerPage: number;
  private readonly retentionMs: number;
  private readonly now: () => number;
  private readonly log: StreamReaderLog | undefined;

  private readonly runtime = new Map<string, ShardRuntime>();
  private listedIds = new Set<string>();
  private closedIds = new Set<string>();
  private lastListingStartedAt: number | undefined;
  private lastDescribeCallAt = Number.NEGATIVE_INFINITY;
  private failed = false;
  private running = false;
  private wakeDiscovery: (() => void) | undefined;
  private wakeRequested = false;

  constructor(opts: StreamReaderOptions) {
    this.api = opts.api;
    this.source = opts.source;
    this.state = opts.state;
    this.onCheckpoint = opts.onCheckpoint;
    this.pollIntervalMs = opts.pollIntervalMs ?? 250;
    this.discoveryIntervalMs = opts.discoveryIntervalMs ?? 10_000;
    this.maxRecordsPerPage = opts.maxRecordsPerPage ?? 1_000;
    this.retentionMs = opts.retentionMs ?? STREAM_RETENTION_MS;
    this.now = opts.now ?? Date.now;
    this.log = opts.log;
  }

  async run(handler: Handler, signal: AbortSignal): Promise<void> {
    if (this.running) throw new Error('StreamReader.run is already running');
    this.running = true;
    this.failed = false;
    const stop = new AbortController();
    // Every shard loop waits on this signal; a stream with many shards is not a listener leak.
    setMaxListeners(0, stop.signal);
    const onAbort = (): void => stop.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) stop.abort();

    const loops = new Set<Promise<void>>();
    let failure: { error: unknown } | undefined;
    const fail = (error: unknown): void => {
      // The first failure is the cause; later ones are usually consequences of stopping.
      failure ??= { error };
      this.failed = true;
      stop.abort();
    };
    const startEligible = (): void => {
      if (stop.signal.aborted) return;
      for (const shardId of eligibleShards(this.state.shards, this.listedIds)) {
        const rt = this.rt(shardId);
        if (rt.running) continue;
        rt.running = true;
        const loop: Promise<void> = this.readShard(shardId, handler, stop.signal, onShardFinished)
          .catch(fail)
          .finally(() => {
            rt.running = false;
            loops.delete(loop);
          });
        loops.add(loop);
      }
    };
    const onShardFinished = (): void => {
      // Children already listed can start at once; a fresh listing finds the ones DescribeStream didn't show yet.
      startEligible();
      this.requestDiscovery();
    };

    try {
      await this.discoveryLoop(stop.signal, startEligible);
    } catch (err) {
      fail(err);
    }
    while (loops.size > 0) await Promise.allSettled([...loops]);
    signal.removeEventListener('abort', onAbort);
    this.running = false;
    if (failure) throw failure.error;
  }

  status(): ShardStatus[] {
    return Object.entries(this.state.shards).map(([shardId, shard]) => {
      const rt = this.runtime.get(shardId);
      const status: ShardStatus = { shardId, state: 'reading', applied: shard.applied };
      if (shard.parentShardId !== undefined) status.parentShardId = shard.parentShardId;
      if (shard.checkpoint !== undefined) status.checkpoint = shard.checkpoint;
      if (shard.finished) {
        status.state = 'finished';
      } else if (readiness(this.state.shards, shardId, this.listedIds) === 'waiting-for-parent') {
        status.state = 'waiting-for-parent';
      } else {
        status.state = rt?.tipAt !== undefined ? 'at-tip' : 'reading';
        status.lagMs = this.shardLag(shardId);
      }
      return status;
    });
  }

  /**
   * Every record written to the stream before `since` has been applied: each unfinished shard answered a GetRecords
   * call made after `since` with everything it held, and that page has been applied; and shards were listed after
   * `since`, so none created before it is missing.
   */
  caughtUpSince(since: number): boolean {
    return this.everyShard(since, (rt) => rt.syncedThrough !== undefined && rt.syncedThrough > since);
  }

  /**
   * Stricter than caughtUpSince: every unfinished shard is at its tip right now (no page being applied) and was last
   * polled after `since`. A drain waits for this, so it never switches while a change is still being applied.
   */
  atTipSince(since: number): boolean {
    return this.everyShard(since, (rt) => rt.tipAt !== undefined && rt.tipAt >= since);
  }

  private everyShard(since: number, ok: (rt: ShardRuntime) => boolean): boolean {
    if (this.failed) return false;
    if (this.lastListingStartedAt === undefined || this.lastListingStartedAt < since) return false;
    for (const [shardId, shard] of Object.entries(this.state.shards)) {
      if (shard.finished) continue;
      const rt = this.runtime.get(shardId);
      if (!rt || !ok(rt)) return false;
    }
    return true;
  }

  lagMs(): number {
    let lag = 0;
    for (const [shardId, shard] of Object.entries(this.state.shards)) {
      if (!shard.finished) lag = Math.max(lag, this.shardLag(shardId));
    }
    return lag;
  }

  /**
   * How long ago the oldest change not yet applied may have been written: the age of the last applied record, or the
   * time since the shard was last proven read to its end (syncedThrough: everything written before it is applied),
   * whichever is shorter. The second bound matters where record times are coarse: DynamoDB Local rounds
   * ApproximateCreationDateTime down to the minute, so the first alone read up to 60 s on a shard kept in sync.
   */
  private shardLag(shardId: string): number {
    const rt = this.runtime.get(shardId);
    if (rt?.tipAt !== undefined) return 0;
    const from = this.state.shards[shardId]?.lastRecordAt ?? rt?.pendingFrom;
    if (from === undefined) return 0;
    return Math.max(0, this.now() - Math.max(from, rt?.syncedThrough ?? from));
  }

  private rt(shardId: string): ShardRuntime {
    let rt = this.runtime.get(shardId);
    if (!rt) {
      rt = { running: false, fullyRead: false };
      this.runtime.set(shardId, rt);
    }
    return rt;
  }

  // ---- discovery ----------------------------------------------------------------------------------------------------

  private async discoveryLoop(signal: AbortSignal, startEligible: () => void): Promise<void> {
    while (!signal.aborted) {
      const startedAt = this.now();
      const listing = await this.listShards(signal);
      if (!listing) return;
      this.applyListing(listing, startedAt);
      startEligible();
      await this.waitForDiscovery(signal);
    }
  }

  private applyListing(listing: ListedShard[], startedAt: number): void {
    const initial = isInitialOpen(this.state.shards);
    const fullyRead = new Set([...this.runtime].filter(([, rt]) => rt.fullyRead).map(([id]) => id));
    const plan = reconcileListing(this.state.shards, listing, fullyRead);
    const [firstGap] = plan.gaps;
    if (firstGap) {
      const more = plan.gaps.length > 1 ? ` (${plan.gaps.length - 1} more shard(s) affected)` : '';
      throw new StreamGapError(`${describeGap(firstGap)}${more}`, {
        streamArn: this.state.streamArn,
        shardId: firstGap.shardId,
        gaps: plan.gaps,
      });
    }
    for (const { shardId, state } of plan.added) {
      this.state.shards[shardId] = state;
      // Persisted, so that after a restart the retention check still knows how young this shard is.
      if (!initial && this.lastListingStartedAt !== undefined) state.createdAfter = this.lastListingStartedAt;
    }
    this.listedIds = new Set(listing.map((s) => s.shardId));
    this.closedIds = new Set(listing.filter((s) => s.closed).map((s) => s.shardId));
    this.lastListingStartedAt = startedAt;
    if (plan.added.length > 0) {
      this.log?.info({ shards: plan.added.map((a) => a.shardId), initial }, 'stream shards discovered');
      this.onCheckpoint();
    }
  }

  /** Reads every DescribeStream page; undefined when aborted. */
  private async listShards(signal: AbortSignal): Promise<ListedShard[] | undefined> {
    const shards: Shard[] = [];
    let exclusiveStart: string | undefined;
    do {
      const input = { StreamArn: this.state.streamArn, Limit: DESCRIBE_PAGE_LIMIT, ExclusiveStartShardId: exclusiveStart };
      let out;
      try {
        out = await this.retrying('DescribeStream', undefined, signal, async () => {
          await sleep(this.lastDescribeCallAt + DESCRIBE_MIN_GAP_MS - performance.now(), signal);
          this.lastDescribeCallAt = performance.now();
          return this.api.describeStream(input);
        });
      } catch (err) {
        throw this.apiFailure(err, 'DescribeStream', undefined);
      }
      if (!out || signal.aborted) return undefined;
      shards.push(...(out.StreamDescription?.Shards ?? []));
      exclusiveStart = out.StreamDescription?.LastEvaluatedShardId;
    } while (exclusiveStart);
    return normalizeListing(shards);
  }

  /**
   * Lists the shards now rather than at the next discovery interval. caughtUpSince(t) needs a listing started after t,
   * so a caller that has just picked t (the backfill's end) gets its answer in a poll, not up to 10 s later.
   */
  relistNow(): void {
    this.requestDiscovery();
  }

  private requestDiscovery(): void {
    if (this.wakeDiscovery) this.wakeDiscovery();
    else this.wakeRequested = true;
  }

  private async waitForDiscovery(signal: AbortSignal): Promise<void> {
    if (!this.wakeRequested && !signal.aborted) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          this.wakeDiscovery = undefined;
          resolve();
        };
        const timer = setTimeout(done, this.discoveryIntervalMs);
        signal.addEventListener('abort', done, { once: true });
        this.wakeDiscovery = done;
      });
    }
    this.wakeRequested = false;
  }

  // ---- reading one shard --------------------------------------------------------------------------------------------

  private async readShard(shardId: string, handler: Handler, signal: AbortSignal, onFinished: () => void): Promise<void> {
    const rt = this.rt(shardId);
    let iterator = await this.openIterator(shardId, signal);
    let expiredInARow = 0;
    let trimmedInARow = 0;
    // The next page, requested while the current one is applied. Pages are still applied one at a time and in order;
    // only the wait for GetRecords overlaps the writes.
    let ahead: PageFetch | undefined;
    // Stops a page fetched ahead (and its retries) when this loop ends for any reason, not only when the run stops.
    const loopDone = new AbortController();
    const fetchSignal = AbortSignal.any([signal, loopDone.signal]);
    try {
      while (iterator !== undefined && !signal.aborted) {
        if (iterator === SHARD_END) {
          this.finishShard(shardId, onFinished);
          return;
        }
        const fetch = ahead ?? this.fetchPage(shardId, iterator, fetchSignal);
        ahead = undefined;
        const got = await fetch.result;
        if (!got.ok) {
          const err = got.error;
          if (errorName(err) === 'TrimmedDataAccessException' && trimmedInARow === 0) {
            // Reopen once from the checkpoint before calling it a gap: if the data we still need is really gone,
            // GetShardIterator at the checkpoint (or the retention check for TRIM_HORIZON) fails too, and a second
            // trim in a row is final. DynamoDB Local occasionally reports a trim for a fresh iterator under load.
            trimmedInARow++;
            this.log?.warn(
              { shardId, checkpoint: this.state.shards[shardId]?.checkpoint },
              'GetRecords reported trimmed data; reopening from the checkpoint to confirm',
            );
            iterator = await this.openIterator(shardId, signal);
            continue;
          }
          if (errorName(err) !== 'ExpiredIteratorException') throw this.apiFailure(err, 'GetRecords', shardId);
          // Iterators live 15 minutes. The checkpoint is the last applied record and every page before it has been
          // applied, so reopening there neither skips nor repeats anything. Back off if renewal keeps producing dead
          // iterators.
          this.log?.debug?.({ shardId, checkpoint: this.state.shards[shardId]?.checkpoint }, 'shard iterator expired; renewing');
          await sleep(expiredInARow === 0 ? 0 : backoffDelay(expiredInARow), signal);
          expiredInARow++;
          iterator = await this.openIterator(shardId, signal);
          continue;
        }
        expiredInARow = 0;
        trimmedInARow = 0;
        const out = got.out;
        // A page read after stopping is dropped unapplied and unrecorded: the next run reads it again.
        if (!out || signal.aborted) return;

        const raw = out.Records ?? [];
        const records = raw.map(toChangeRecord);
        const next = out.NextShardIterator;
        if (!next) rt.fullyRead = true;
        if (records.length > 0) {
          rt.tipAt = undefined;
          rt.pendingFrom = records[0]?.createdAt;
          if (next) ahead = this.fetchPage(shardId, next, fetchSignal);
          await handler({ source: this.source, shardId, records });
          this.recordApplied(shardId, records);
          rt.pendingFrom = undefined;
          // A busy shard never returns an empty page; a page below both bounds is the same evidence: it held
          // everything the shard had when the call was made.
          if (next && this.isShortPage(raw)) this.reachedTip(rt, fetch.calledAt);
        } else if (next) {
          this.reachedTip(rt, fetch.calledAt);
        }
        if (!next) {
          this.finishShard(shardId, onFinished);
          return;
        }
        iterator = next;
        if (records.length === 0) await sleep(this.pollIntervalMs, signal);
      }
    } finally {
      // Don't leave a request running after the reader returned (its page is dropped: the next run reads it again).
      loopDone.abort();
      if (ahead) await ahead.result;
    }
  }

  /** Starts a GetRecords call; its failure is handed back as a value, so a page fetched ahead can't go unhandled. */
  private fetchPage(shardId: string, iterator: string, signal: AbortSignal): PageFetch {
    const calledAt = this.now();
    const input = { ShardIterator: iterator, Limit: this.maxRecordsPerPage };
    const result = this.retrying('GetRecords', shardId, signal, () => this.api.getRecords(input)).then(
      (out) => ({ ok: true as const, out }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    return { calledAt, result };
  }

  private reachedTip(rt: ShardRuntime, calledAt: number): void {
    rt.tipAt = calledAt;
    rt.syncedThrough = Math.max(rt.syncedThrough ?? calledAt, calledAt);
  }

  private isShortPage(raw: readonly _Record[]): boolean {
    if (raw.length >= this.maxRecordsPerPage) return false;
    let bytes = 0;
    for (const r of raw) {
      const size = r.dynamodb?.SizeBytes;
      // Without sizes the size bound can't be ruled out.
      if (size === undefined) return false;
      bytes += size;
    }
    return bytes < SHORT_PAGE_MAX_BYTES;
  }

  private recordApplied(shardId: string, records: ChangeRecord[]): void {
    const shard = this.state.shards[shardId];
    const last = records[records.length - 1];
    if (!shard || !last) return;
    // Never move backwards, even if the stream handed back a record we had already applied.
    if (shard.checkpoint === undefined || BigInt(last.sequenceNumber) > BigInt(shard.checkpoint)) {
      shard.checkpoint = last.sequenceNumber;
    }
    shard.applied += records.length;
    const createdAt = records.reduce<number | undefined>(
      (max, r) => (r.createdAt === undefined ? max : Math.max(max ?? r.createdAt, r.createdAt)),
      undefined,
    );
    if (createdAt !== undefined) shard.lastRecordAt = createdAt;
    this.onCheckpoint();
  }

  private finishShard(shardId: string, onFinished: () => void): void {
    const shard = this.state.shards[shardId];
    if (!shard) return;
    shard.finished = true;
    const rt = this.rt(shardId);
    rt.tipAt = undefined;
    rt.fullyRead = true;
    this.log?.info({ shardId, applied: shard.applied }, 'stream shard finished');
    this.onCheckpoint();
    onFinished();
  }

  /** An iterator at the shard's resume position (rule: checkpoint, else TRIM_HORIZON); undefined when aborted. */
  private async openIterator(shardId: string, signal: AbortSignal): Promise<string | typeof SHARD_END | undefined> {
    const shard = this.state.shards[shardId];
    if (!shard) throw new DynashiftError('STATE_CORRUPT', `Stream shard ${shardId} is not in the migration state.`);
    const input: GetShardIteratorCommandInput = { StreamArn: this.state.streamArn, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' };
    if (shard.checkpoint !== undefined) {
      input.ShardIteratorType = 'AFTER_SEQUENCE_NUMBER';
      input.SequenceNumber = shard.checkpoint;
    } else {
      this.assertTrimHorizonSafe(shardId);
    }
    let out;
    try {
      out = await this.retrying('GetShardIterator', shardId, signal, () => this.api.getShardIterator(input));
    } catch (err) {
      throw this.apiFailure(err, 'GetShardIterator', shardId);
    }
    if (!out || signal.aborted) return undefined;
    if (out.ShardIterator) return out.ShardIterator;
    // No iterator past the end of a closed shard means there is nothing left to read; on an open shard it is
    // unexplained, and guessing would risk skipping records.
    if (this.closedIds.has(shardId)) return SHARD_END;
    throw new DynashiftError('AWS_ERROR', `GetShardIterator returned no iterator for open shard ${shardId}.`, {
      details: { shardId, streamArn: this.state.streamArn, input },
    });
  }

  /**
   * TRIM_HORIZON silently starts at the oldest record still kept, so it can't report trimmed data: refuse it once
   * records we need could be older than the retention.
   */
  private assertTrimHorizonSafe(shardId: string): void {
    const horizon = this.oldestNeededRecordAt(shardId, new Set());
    if (this.now() - horizon > this.retentionMs - Math.min(TRIM_SAFETY_MARGIN_MS, this.retentionMs / 4)) {
      throw new StreamGapError(
        `Shard ${shardId} has to be read from its oldest record, but records written since ${new Date(horizon).toISOString()} may already have been trimmed (retention ${this.retentionMs >= 3_600_000 ? `${Math.round(this.retentionMs / 3_600_000)} h` : `${Math.round(this.retentionMs / 1000)} s`}).`,
        { streamArn: this.state.streamArn, shardId, since: new Date(horizon).toISOString() },
      );
    }
  }

  /**
   * A lower bound on the creation time of any record in the shard that we must apply: nothing before the stream
   * position was opened is needed; a child's records all follow its parent's last record; and a shard first seen by a
   * listing after another listing that lacked it was created after that earlier listing.
   */
  private oldestNeededRecordAt(shardId: string, visiting: Set<string>): number {
    const openedAt = Date.parse(this.state.openedAt);
    if (Number.isNaN(openedAt)) {
      throw new DynashiftError('STATE_CORRUPT', `The stream's openedAt (${JSON.stringify(this.state.openedAt)}) is not a date.`);
    }
    let horizon = Math.max(openedAt, this.state.shards[shardId]?.createdAfter ?? openedAt);
    visiting.add(shardId);
    const parentId = this.state.shards[shardId]?.parentShardId;
    const parent = parentId === undefined ? undefined : this.state.shards[parentId];
    if (parentId !== undefined && parent && !visiting.has(parentId)) {
      horizon = Math.max(horizon, parent.lastRecordAt ?? this.oldestNeededRecordAt(parentId, visiting));
    }
    return horizon;
  }

  // ---- errors and retries -------------------------------------------------------------------------------------------

  /**
   * Runs `call` through the one retry helper: throttling and transient errors are retried (capped delay), each retry
   * is logged, and a call failing for longer than the failure budget halts with AWS_ERROR. Undefined when aborted.
   */
  private retrying<T>(op: string, shardId: string | undefined, signal: AbortSignal, call: () => Promise<T>): Promise<T | undefined> {
    let attempt = 0;
    return retryAws(
      async () => {
        try {
          return await call();
        } catch (err) {
          if (isRetryable(err) && !signal.aborted) {
            this.log?.warn({ op, shardId, error: errorName(err), attempt: attempt++ }, 'DynamoDB Streams call throttled or failed; retrying');
          }
          throw err;
        }
      },
      { side: `stream of ${this.source}`, operation: op, signal },
    );
  }

  private apiFailure(err: unknown, op: string, shardId: string | undefined): DynashiftError {
    if (err instanceof DynashiftError) return err;
    const name = errorName(err);
    const details = { op, shardId, streamArn: this.state.streamArn, error: name };
    if (name === 'TrimmedDataAccessException') {
      return new StreamGapError(`Shard ${shardId ?? '?'} was trimmed past the position dynashift still had to read (${op}).`, details);
    }
    if (name === 'ResourceNotFoundException') {
      return new StreamGapError(
        shardId === undefined
          ? `Stream ${this.state.streamArn} no longer exists (${op}).`
          : `Shard ${shardId} no longer exists although it still had to be read (${op}).`,
        details,
      );
    }
    const message = err instanceof Error ? err.message : String(err);
    return new DynashiftError('AWS_ERROR', `DynamoDB Streams ${op} failed${shardId ? ` on shard ${shardId}` : ''}: ${message}`, {
      cause: err,
      details,
    });
  }
}

/** Marker for "the closed shard has nothing left to read". */
const SHARD_END = Symbol('shard-end');
