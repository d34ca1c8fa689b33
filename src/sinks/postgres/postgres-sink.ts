import type pg from 'pg';
import { systemClock } from '../../core/clock.js';
import { RateLimiter } from '../../core/rate-limiter.js';
import { retry } from '../../core/retry.js';
import { Semaphore } from '../../core/semaphore.js';
import { TaskGroup } from '../../core/task-group.js';
import { compactWrites, isChange, type WriteOp } from '../../core/write-op.js';
import { PG_MAX_BATCH, POSTGRES_CAPABILITIES } from './postgres-kind.js';
import { type RejectedWrite, type Sink, type SinkCapabilities, type WriteStats } from '../sink.js';
import { prepareBatch, type PreparedBatch } from './postgres-batch.js';
import { abortError, classify, rejectionCode, rejectionMessage } from './postgres-errors.js';
import type { PgLayout } from './postgres-schema.js';
import { writeStatements, type WriteStatements } from './postgres-write-sql.js';

/** Attempts for a batch that fails for a passing reason (lost connection, deadlock) before the sink gives up. */
const MAX_ATTEMPTS = 6;

export interface PostgresSinkOptions {
  name: string;
  pool: pg.Pool;
  layout: PgLayout;
  /** Transactions in flight at once, across every caller. */
  concurrency: number;
  maxBatchSize?: number;
  /** Rows per second at most (a row counts as one write unit). */
  maxRowsPerSecond?: number;
  /** Scrubs the connection password out of error text. */
  redact?: (text: string) => string;
  /** Tries per batch for passing failures (default 6). */
  maxAttempts?: number;
  /** Config `guard`: stream puts and deletes land only when the stored version is not newer (postgres-write-sql.ts). */
  guard?: { versionAttribute: string };
}

/**
 * Writes to one PostgreSQL table with guarded multi-row statements (postgres-write-sql.ts). Each batch is one
 * transaction: it takes the advisory locks of its keys (in sorted order), then applies its stream puts, backfill puts
 * and deletes. A batch that fails on the data of one row is split in halves until that row is found and rejected;
 * a batch that fails for a passing reason is retried (every statement is idempotent); anything else is thrown, so
 * the engine never checkpoints past writes that did not land.
 */
export class PostgresSink implements Sink {
  readonly name: string;
  readonly capabilities: SinkCapabilities;
  private readonly gate: Semaphore;
  private readonly limiter: RateLimiter;
  private readonly sql: WriteStatements;
  /** The guarded statements' trailing parameter: the version attribute's name. */
  private readonly guardParams: string[];

  constructor(private readonly opts: PostgresSinkOptions) {
    this.name = opts.name;
    this.capabilities = { ...POSTGRES_CAPABILITIES, maxBatchSize: opts.maxBatchSize ?? PG_MAX_BATCH };
    this.gate = new Semaphore(opts.concurrency);
    this.limiter = new RateLimiter(opts.maxRowsPerSecond ?? Infinity, systemClock);
    this.sql = writeStatements(opts.layout, opts.guard);
    this.guardParams = opts.guard ? [opts.guard.versionAttribute] : [];
  }

  async write(ops: WriteOp[], signal?: AbortSignal): Promise<{ rejected: RejectedWrite[]; stats: WriteStats }> {
    // The engine already sends one op per key; compacting again keeps a statement from touching a row twice.
    const unique = compactWrites(ops);
    const batches: WriteOp[][] = [];
    for (let i = 0; i < unique.length; i += this.capabilities.maxBatchSize) batches.push(unique.slice(i, i + this.capabilities.maxBatchSize));
    const group = new TaskGroup(signal); // every batch settles before a failure is reported (core/task-group.ts)
    const results = await group.all(batches.map((b) => this.gate.run(() => this.writeBatch(b, group.signal), { urgent: isChange(b) })));
    return {
      rejected: results.flatMap((r) => r.rejected),
      stats: { written: results.reduce((n, r) => n + r.written, 0), consumedCapacity: 0 },
    };
  }

  async close(): Promise<void> {
    await this.opts.pool.end();
  }

  /** `written` counts every op the table now reflects: applied, or already superseded by a newer change. */
  private async writeBatch(ops: WriteOp[], signal?: AbortSignal): Promise<{ rejected: RejectedWrite[]; written: number }> {
    const batch = prepareBatch(this.opts.layout, ops, this.opts.guard?.versionAttribute);
    if (batch.ops.length === 0) return { rejected: batch.rejected, written: 0 };
    try {
      await this.commit(batch, signal);
      await this.limiter.consume(batch.ops.length, signal);
      return { rejected: batch.rejected, written: batch.ops.length };
    } catch (err) {
      if (classify(err) !== 'item') throw this.scrub(err);
      if (batch.ops.length === 1) {
        return {
          rejected: [...batch.rejected, { op: batch.ops[0]!, error: { code: rejectionCode(err), message: this.redact(rejectionMessage(err)) } }],
          written: 0,
        };
      }
      // Halving finds a bad row in log2(batch) failed transactions; the good halves land normally.
      const mid = Math.ceil(batch.ops.length / 2);
      const first = await this.writeBatch(batch.ops.slice(0, mid), signal);
      const second = await this.writeBatch(batch.ops.slice(mid), signal);
      return { rejected: [...batch.rejected, ...first.rejected, ...second.rejected], written: first.written + second.written };
    }
  }

  /** One transaction; retried with backoff while the failure is a passing one. */
  private async commit(batch: PreparedBatch, signal?: AbortSignal): Promise<void> {
    let committed = false;
    await retry(
      async () => {
        await this.transaction(batch);
        committed = true;
      },
      {
        clock: systemClock,
        classify: (err) => (classify(err) === 'retry' ? 'retry' : 'fatal'),
        maxAttempts: this.opts.maxAttempts ?? MAX_ATTEMPTS,
        baseMs: 200,
        maxMs: 5_000,
        ...(signal ? { signal } : {}),
      },
    );
    if (!committed) throw abortError();
  }

  private async transaction(batch: PreparedBatch): Promise<void> {
    const client = await this.opts.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      try {
        await client.query(this.sql.lock, [batch.lockIds]);
        if (batch.streamPuts[0]!.length > 0) await client.query(this.sql.streamPut, [...batch.streamPuts, ...this.guardParams]);
        if (batch.backfillPuts[0]!.length > 0) await client.query(this.sql.backfillPut, batch.backfillPuts);
        if (batch.deletes[0]!.length > 0) await client.query(this.sql.delete, [...batch.deletes, ...this.guardParams]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch((e: Error) => {
          broken = e;
        });
        throw err;
      }
    } catch (err) {
      // A connection that failed mid-transaction is discarded rather than handed to the next batch.
      if (classify(err) === 'retry') broken ??= err as Error;
      throw err;
    } finally {
      client.release(broken);
    }
  }

  private redact(text: string): string {
    return this.opts.redact ? this.opts.redact(text) : text;
  }

  private scrub(err: unknown): unknown {
    if (err instanceof Error && this.opts.redact) err.message = this.opts.redact(err.message);
    return err;
  }
}
