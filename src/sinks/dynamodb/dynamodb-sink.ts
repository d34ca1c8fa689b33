import { BatchWriteItemCommand, DeleteItemCommand, PutItemCommand, type DynamoDBClient, type WriteRequest } from '@aws-sdk/client-dynamodb';
import { localBudget, RateLimiter, RateMeter, type UnitBudget } from '../../core/rate-limiter.js';
import { Semaphore } from '../../core/semaphore.js';
import { TaskGroup } from '../../core/task-group.js';
import { systemClock } from '../../core/clock.js';
import { isChange, type WriteOp } from '../../core/write-op.js';
import { errorName } from '../../aws/errors.js';
import { retryAws, type AwsRetryOptions } from '../../aws/aws-retry.js';
import { sdkAttemptsOf } from '../../aws/sdk-attempts.js';
import { newCallStats, type CallStats } from '../../aws/call-stats.js';
import { declareCapabilities, type RejectedWrite, type Sink, type SinkActivity, type SinkCapabilities, type WriteStats } from '../sink.js';
import { guardedCommand } from './guarded-writes.js';

export interface DynamoDbSinkOptions {
  name: string;
  client: DynamoDBClient;
  table: string;
  /** BatchWriteItem requests in flight at once, across every caller. */
  concurrency: number;
  maxBatchSize?: number;
  maxWriteUnitsPerSecond?: number;
  /** Which side the table is (target; source for reverse replication), for errors. Default target. */
  side?: string;
  /** Conditional single-item writes instead of BatchWriteItem (see guarded-writes.ts). */
  guard?: { versionAttribute: string; keyNames: string[] };
  /** The client's request counters (clientsFor's `calls`), reported by activity(). */
  calls?: CallStats;
  /** Pay this budget instead of the sink's own: a backfill worker thread's sink pays the main thread's (engine/workers/). */
  budget?: UnitBudget;
}

/** Guarded (conditional) writes, a stream for reverse replication, and the DynamoDB API itself. */
export const DYNAMODB_CAPABILITIES = declareCapabilities({
  conditionalWrites: true,
  changeStream: true,
  dynamoDbApi: true,
  maxBatchSize: 25,
  transactions: true,
  nativeTypes: true,
});

/** Errors that reject an item on its own merits (size, key type): retrying can't help; isolate and dead-letter. */
const ITEM_ERRORS = new Set(['ValidationException', 'ItemCollectionSizeLimitExceededException']);

/**
 * Writes to any endpoint that speaks the DynamoDB API (DynamoDB, DynamoDB Local, ScyllaDB Alternator) with
 * BatchWriteItem: UnprocessedItems are retried with backoff until written; a batch the service rejects as invalid is
 * split into single writes so that only the offending items are reported. Throttling (a throttled attempt, or
 * unprocessed items) lowers the write rate; other retried failures don't (aws/aws-retry.ts).
 */
export class DynamoDbSink implements Sink {
  readonly name: string;
  readonly capabilities: SinkCapabilities;
  private readonly gate: Semaphore;
  private readonly limiter: RateLimiter;
  private readonly meter = new RateMeter(systemClock);
  /** The table's write budget: this sink's limiter, which other threads' sinks of the same table pay by message. */
  readonly writeBudget: UnitBudget;
  private readonly pay: UnitBudget;
  /** The client's request counters (opts.calls), which worker threads' sinks of this table add to. */
  readonly callStats: CallStats;

  constructor(private readonly opts: DynamoDbSinkOptions) {
    this.name = opts.name;
    this.capabilities = { ...DYNAMODB_CAPABILITIES, maxBatchSize: opts.maxBatchSize ?? DYNAMODB_CAPABILITIES.maxBatchSize };
    this.gate = new Semaphore(opts.concurrency);
    this.limiter = new RateLimiter(opts.maxWriteUnitsPerSecond ?? Infinity, systemClock);
    this.writeBudget = localBudget(this.limiter, this.meter);
    this.pay = opts.budget ?? this.writeBudget;
    this.callStats = opts.calls ?? newCallStats();
  }

  /** Write units per second the sink allows itself now (Infinity: unlimited); only throttling lowers it. */
  get currentWriteRate(): number {
    return this.limiter.currentRate;
  }

  activity(): SinkActivity {
    const calls = this.callStats;
    return {
      writesInFlight: this.gate.inFlight,
      requests: calls.requests,
      throttles: calls.throttles,
      retries: calls.retries,
      rateLimit: { unitsPerSecond: this.limiter.currentRate, ceiling: this.limiter.maxRate },
    };
  }

  /** Writes the guard skipped because the target already held a newer version. */
  guardSkips = 0;

  async write(ops: WriteOp[], signal?: AbortSignal): Promise<{ rejected: RejectedWrite[]; stats: WriteStats }> {
    if (this.opts.guard) return this.writeGuarded(ops, this.opts.guard, signal);
    const batches: WriteOp[][] = [];
    for (let i = 0; i < ops.length; i += this.capabilities.maxBatchSize) batches.push(ops.slice(i, i + this.capabilities.maxBatchSize));
    const group = new TaskGroup(signal); // every batch settles before a failure is reported (core/task-group.ts)
    const results = await group.all(batches.map((b) => this.gate.run(() => this.writeBatch(b, group.signal), { urgent: isChange(b) })));
    const out = { rejected: [] as RejectedWrite[], stats: { written: 0, consumedCapacity: 0 } };
    for (const r of results) {
      out.rejected.push(...r.rejected);
      out.stats.written += r.stats.written;
      out.stats.consumedCapacity += r.stats.consumedCapacity;
    }
    return out;
  }

  private async writeBatch(ops: WriteOp[], signal?: AbortSignal): Promise<{ rejected: RejectedWrite[]; stats: WriteStats }> {
    const byKey = new Map<string, WriteOp>();
    for (const op of ops) byKey.set(op.keyId, op);
    let pending: WriteRequest[] = ops.map(toRequest);
    let consumed = 0;
    let done: number | undefined;
    try {
      done = await retryAws(
        async () => {
          const res = await this.opts.client.send(
            new BatchWriteItemCommand({
              RequestItems: { [this.opts.table]: pending },
              ReturnConsumedCapacity: 'TOTAL',
            }),
          );
          const units = (res.ConsumedCapacity ?? []).reduce((n, c) => n + (c.CapacityUnits ?? 0), 0);
          consumed += units;
          await this.pay.spend(units, signal);
          pending = res.UnprocessedItems?.[this.opts.table] ?? [];
          // Unprocessed items are DynamoDB's way of throttling part of a batch: slow down, resend just those. (The result
          // here is a count, so the SDK's throttled attempts are read from the output itself.)
          if (pending.length > 0 || sdkAttemptsOf(res).throttled > 0) this.onThrottle();
          return pending.length;
        },
        this.retryOptions('BatchWriteItem', signal, { again: (left: number) => left > 0 }),
      );
    } catch (err) {
      if (ITEM_ERRORS.has(errorName(err))) return this.isolate(ops, signal);
      throw err;
    }
    if (done === undefined) throw abortError();
    return { rejected: [], stats: { written: byKey.size, consumedCapacity: consumed } };
  }

  private async writeGuarded(
    ops: WriteOp[],
    guard: NonNullable<DynamoDbSinkOptions['guard']>,
    signal?: AbortSignal,
  ): Promise<{ rejected: RejectedWrite[]; stats: WriteStats }> {
    const rejected: RejectedWrite[] = [];
    let written = 0;
    let consumed = 0;
    const group = new TaskGroup(signal);
    await group.all(
      ops.map((op) =>
        this.gate.run(
          async () => {
            let res;
            try {
              res = await retryAws(
                () => this.opts.client.send(guardedCommand(op, this.opts.table, guard.versionAttribute, guard.keyNames) as PutItemCommand),
                this.retryOptions(op.kind === 'put' ? 'PutItem' : 'DeleteItem', group.signal),
              );
            } catch (err) {
              const name = errorName(err);
              if (name === 'ConditionalCheckFailedException') {
                this.guardSkips++; // the target holds a newer version: correctly not overwritten
                return;
              }
              if (ITEM_ERRORS.has(name)) {
                rejected.push({ op, error: { code: name, message: (err as Error).message } });
                return;
              }
              throw err;
            }
            if (res === undefined) throw abortError();
            const units = res.ConsumedCapacity?.CapacityUnits ?? 0;
            consumed += units;
            await this.pay.spend(units, group.signal);
            written++;
          },
          { urgent: isChange([op]) },
        ),
      ),
    );
    return { rejected, stats: { written, consumedCapacity: consumed } };
  }

  /** Writes one by one so the service names the items it refuses; the rest land normally. */
  private async isolate(ops: WriteOp[], signal?: AbortSignal): Promise<{ rejected: RejectedWrite[]; stats: WriteStats }> {
    const rejected: RejectedWrite[] = [];
    let written = 0;
    let consumed = 0;
    for (const op of ops) {
      let res;
      try {
        res = await retryAws(
          () =>
            op.kind === 'put'
              ? this.opts.client.send(new PutItemCommand({ TableName: this.opts.table, Item: op.item, ReturnConsumedCapacity: 'TOTAL' }))
              : this.opts.client.send(new DeleteItemCommand({ TableName: this.opts.table, Key: op.key, ReturnConsumedCapacity: 'TOTAL' })),
          this.retryOptions(op.kind === 'put' ? 'PutItem' : 'DeleteItem', signal),
        );
      } catch (err) {
        if (!ITEM_ERRORS.has(errorName(err))) throw err;
        rejected.push({ op, error: { code: errorName(err), message: (err as Error).message } });
        continue;
      }
      if (res === undefined) throw abortError();
      consumed += res.ConsumedCapacity?.CapacityUnits ?? 0;
      written++;
    }
    return { rejected, stats: { written, consumedCapacity: consumed } };
  }

  private readonly onThrottle = (): void => this.pay.throttled();

  private retryOptions<T>(operation: string, signal: AbortSignal | undefined, extra: Partial<AwsRetryOptions<T>> = {}): AwsRetryOptions<T> {
    return {
      side: this.opts.side ?? 'target',
      operation,
      table: this.opts.table,
      onThrottle: this.onThrottle,
      ...(signal ? { signal } : {}),
      ...extra,
    };
  }
}

function toRequest(op: WriteOp): WriteRequest {
  return op.kind === 'put' ? { PutRequest: { Item: op.item } } : { DeleteRequest: { Key: op.key } };
}

function abortError(): Error {
  const err = new Error('write aborted before it completed');
  err.name = 'AbortError';
  return err;
}
