import type { Worker } from 'node:worker_threads';
import { addCalls, type CallStats } from '../../aws/call-stats.js';
import { localBudget, RateMeter, type RateLimiter, type UnitBudget } from '../../core/rate-limiter.js';
import { systemClock } from '../../core/clock.js';
import { Semaphore } from '../../core/semaphore.js';
import type { ReadTicket, SnapshotGate } from '../../core/snapshot-gate.js';
import type { Sink } from '../../sinks/sink.js';
import type { BackfillCursor, BackfillState } from '../../state/migration-state.js';
import type { FailurePolicy } from '../failure-policy.js';
import type { Logger } from '../logger.js';
import type { FromWorker, SliceAdmission, ToWorker, WorkerInit, WorkerRequest } from './protocol.js';
import { fromThreadError, toThreadError } from './thread-error.js';
import { startWorker } from './start-worker.js';

/** What every worker of one source's backfill shares, all of it in the main thread. */
export interface SharedBackfill {
  sourceName: string;
  state: BackfillState;
  failures: FailurePolicy;
  gate?: SnapshotGate;
  /** With a gate: slices admitted and not landed yet, across every worker. */
  slices?: Semaphore;
  readBudget: UnitBudget;
  sinks: Record<string, Sink>;
  /** The source's request counters (its clients' `calls`): the workers' Scan requests are added to them. */
  sourceCalls?: CallStats;
  onProgress: (items: number, bytes: number) => void;
  log: Logger;
  signal: AbortSignal;
}

/** The read budget the workers pay: the source's limiter, with the rate achieved measured here across every worker. */
export function readBudgetOf(limiter: RateLimiter): UnitBudget {
  return localBudget(limiter, new RateMeter(systemClock));
}

/**
 * The main thread's side of one backfill worker thread: it answers the worker's requests from the shared gate,
 * failure policy and budgets, moves the partition's cursor when the worker reports a page landed, and keeps what the
 * worker holds in the gate (tickets, admitted slices) so that a worker that dies holds nothing.
 */
export class WorkerThread {
  private readonly worker: Worker;
  private readonly tickets = new Map<number, ReadTicket>();
  private readonly admissions = new Map<number, () => void>();
  private nextTicket = 1;
  private nextCopy = 1;
  private readonly copies = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  private ready: Promise<void>;
  private exited: Promise<void>;
  private dead: Error | undefined;

  constructor(
    init: WorkerInit,
    private readonly shared: SharedBackfill,
  ) {
    this.worker = startWorker(init);
    let onReady!: () => void;
    let onFailed!: (e: Error) => void;
    this.ready = new Promise<void>((resolve, reject) => ((onReady = resolve), (onFailed = reject)));
    this.ready.catch(() => {}); // awaited by the pool; a worker that fails before is reported there
    this.worker.on('message', (msg: FromWorker) => {
      if (msg.type === 'ready') onReady();
      else if (msg.type === 'failed') onFailed(fromThreadError(msg.error));
      else this.onMessage(msg);
    });
    // An uncaught error fails the worker's copies at once; what it holds in the gate is let go only once the thread
    // has exited, when no write of it can still be sent (its sockets close with it, as a killed process's do).
    this.worker.on('error', (err) => this.fail(err));
    this.exited = new Promise<void>((resolve) =>
      this.worker.on('exit', (code) => {
        this.fail(new Error(`backfill worker thread exited (code ${code}) before its work was done`));
        onFailed(this.dead!);
        this.releaseAll();
        resolve();
      }),
    );
  }

  whenReady(): Promise<void> {
    return this.ready;
  }

  /** Copies one partition from its cursor in the worker; resolves when it is done or stopped, rejects with its error. */
  copy(partition: string, cursor: BackfillCursor | undefined): Promise<void> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextCopy++;
    return new Promise<void>((resolve, reject) => {
      this.copies.set(id, { resolve, reject });
      this.post({ type: 'copy', id, partition, cursor });
    });
  }

  stop(): void {
    if (!this.dead) this.post({ type: 'stop' });
  }

  /** Lets the worker close its clients, then ends the thread (at once when it does not answer within 5 s). */
  async close(): Promise<void> {
    if (!this.dead) this.post({ type: 'close' });
    const timer = setTimeout(() => void this.worker.terminate(), 5_000);
    await this.exited;
    clearTimeout(timer);
  }

  private post(msg: ToWorker): void {
    this.worker.postMessage(msg);
  }

  /** The thread failed or ended: every copy it had fails with its first error. */
  private fail(err: Error): void {
    this.dead ??= err;
    for (const c of this.copies.values()) c.reject(this.dead);
    this.copies.clear();
  }

  private releaseAll(): void {
    for (const release of this.admissions.values()) release();
    this.admissions.clear();
    for (const t of this.tickets.values()) this.shared.gate?.endRead(t);
    this.tickets.clear();
  }

  private onMessage(msg: FromWorker): void {
    const { shared } = this;
    if (msg.paid) this.paid(msg.paid);
    switch (msg.type) {
      case 'request':
        void this.answer(msg).then(
          (value) => this.post({ type: 'reply', id: msg.id, value }),
          (err: unknown) => this.post({ type: 'reply', id: msg.id, error: toThreadError(err) }),
        );
        return;
      case 'endRead': {
        const t = this.tickets.get(msg.ticket);
        this.tickets.delete(msg.ticket);
        if (t) shared.gate?.endRead(t);
        return;
      }
      case 'release':
        this.admissions.get(msg.admission)?.();
        this.admissions.delete(msg.admission);
        return;
      case 'throttled':
        this.budget(msg.budget)?.throttled();
        return;
      case 'paid':
        return;
      case 'page':
        this.pageLanded(msg);
        return;
      case 'log':
        shared.log[msg.level](msg.fields, msg.msg);
        return;
      case 'partitionEnded': {
        const c = this.copies.get(msg.id);
        this.copies.delete(msg.id);
        if (msg.error) c?.reject(fromThreadError(msg.error));
        else c?.resolve();
        return;
      }
      case 'closed':
        return;
    }
  }

  private async answer(req: WorkerRequest): Promise<unknown> {
    const { shared } = this;
    switch (req.op) {
      case 'beginRead': {
        const id = this.nextTicket++;
        this.tickets.set(id, shared.gate!.beginRead());
        return id;
      }
      case 'admit':
        return this.admit(req.ticket, req.keys);
      case 'failures':
        await shared.failures.handle(req.mapFailures, req.rejected);
        return undefined;
      case 'landed':
        await shared.failures.landed('backfill', shared.sourceName, () => req.keys, req.mapFailures, req.rejected);
        return undefined;
      case 'spend': {
        const budget = this.budget(req.budget);
        await budget?.spend(req.units, shared.signal);
        return { unlimited: budget?.unlimited() ?? true };
      }
    }
  }

  /**
   * Takes one of the shared slice slots, then admits the slice's keys in one synchronous step, exactly as the in-thread
   * backfill does (core/snapshot-gate.ts `admitSlice`); the slot and the locks are held until the worker's `release`.
   */
  private async admit(ticketId: number, keys: string[]): Promise<SliceAdmission> {
    const { shared } = this;
    let freeSlot!: () => void;
    await new Promise<void>((acquired) => {
      void shared.slices!.run(() => {
        acquired();
        return new Promise<void>((r) => (freeSlot = r));
      });
    });
    const ticket = this.tickets.get(ticketId);
    if (!ticket || this.dead) {
      freeSlot();
      throw new Error(`backfill worker: read ticket ${ticketId} is not open`);
    }
    const indexes = keys.map((_, i) => i);
    const admission = shared.gate!.admitSlice(ticket, indexes, (i) => keys[i]!);
    if (admission.dropped > 0) shared.state.overtaken = (shared.state.overtaken ?? 0) + admission.dropped;
    const id = this.nextTicket++;
    this.admissions.set(id, () => {
      admission.release();
      freeSlot();
    });
    return { admission: id, admitted: admission.admitted };
  }

  /**
   * Units a worker paid without waiting: debited all the same (a wait, if any, falls on the next spends), and once the
   * budget has a limit again (a throttle, here or in the stream applier's writes) the worker is told to wait.
   */
  private paid(paid: Record<string, number>): void {
    for (const [name, units] of Object.entries(paid)) {
      const budget = this.budget(name);
      void budget?.spend(units, this.shared.signal);
      if (budget && !budget.unlimited()) this.post({ type: 'limited', budget: name });
    }
  }

  private budget(name: string): UnitBudget | undefined {
    return name === 'read' ? this.shared.readBudget : this.shared.sinks[name]?.writeBudget;
  }

  /** engine/backfill.ts `copyPartition`'s tail: the page's writes landed, so its partition's cursor moves past it. */
  private pageLanded(msg: Extract<FromWorker, { type: 'page' }>): void {
    const { state } = this.shared;
    const ps = state.partitions[msg.partition]!;
    if (msg.expired > 0) state.expiredSkipped = (state.expiredSkipped ?? 0) + msg.expired;
    ps.items += msg.read;
    state.itemsWritten += msg.read;
    state.bytesRead += msg.bytes;
    if (msg.cursor) ps.cursor = msg.cursor;
    else {
      ps.done = true;
      delete ps.cursor;
    }
    for (const [name, delta] of Object.entries(msg.calls ?? {})) {
      const into = name === 'source' ? this.shared.sourceCalls : this.shared.sinks[name]?.callStats;
      if (into) addCalls(into, delta);
    }
    this.shared.onProgress(msg.read, msg.bytes);
  }
}
