import type { MessagePort } from 'node:worker_threads';
import type { RateLimiter, UnitBudget } from '../../core/rate-limiter.js';
import type { Logger } from '../logger.js';
import type { FromWorker, ToWorker, WorkerRequest } from './protocol.js';
import { fromThreadError } from './thread-error.js';

/**
 * A backfill worker's line to the main thread: requests answered by a reply (the gate, the failure policy, the
 * budgets), and one-way notes (unlocks, landed pages, logs). One port, so the main thread sees a worker's messages in
 * the order it sent them: a slice's unlock always arrives before the page report that moves the cursor past it.
 */
export class MainLink {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  constructor(private readonly port: MessagePort) {}

  /** Budgets paid without waiting for an answer, while the main thread last said they were unlimited. */
  private readonly unlimited = new Set<string>();
  /** Units paid without waiting and not sent yet, by budget. */
  private paid: Record<string, number> | undefined;

  /** Handles a reply (or a budget's news) from the main thread; false for any other message. */
  settle(msg: ToWorker): boolean {
    if (msg.type === 'limited') {
      this.unlimited.delete(msg.budget);
      return true;
    }
    if (msg.type !== 'reply') return false;
    const w = this.waiting.get(msg.id);
    this.waiting.delete(msg.id);
    if (msg.error) w?.reject(fromThreadError(msg.error));
    else w?.resolve(msg.value);
    return true;
  }

  request<T>(req: WorkerRequest): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.post({ type: 'request', id, ...req });
    });
  }

  post(msg: FromWorker): void {
    if (this.paid) {
      msg.paid = this.paid;
      this.paid = undefined;
    }
    this.port.postMessage(msg);
  }

  /**
   * Units paid into an unlimited budget ride on the worker's next message (a slice's unlock follows its writes' payment
   * in the same turn), or on their own message once the turn ends: a message per slice less.
   */
  private pay(name: string, units: number): void {
    if (!this.paid) {
      this.paid = {};
      setImmediate(() => {
        if (this.paid) this.post({ type: 'paid' });
      });
    }
    this.paid[name] = (this.paid[name] ?? 0) + units;
  }

  /**
   * A budget of the main thread's ('read': the source's; else a target's name), paid by message. A spend waits for the
   * main thread's answer, which comes when the budget allows; while the last answer said the budget is unlimited (no
   * ceiling, no throttle in effect) units are sent without waiting, and the main thread says when that ends (`limited`,
   * after a throttle): one message per request instead of a round trip.
   */
  budget(name: string): UnitBudget {
    return {
      spend: async (units) => {
        if (this.unlimited.has(name)) {
          this.pay(name, units);
          return;
        }
        const { unlimited } = await this.request<{ unlimited: boolean }>({ op: 'spend', budget: name, units });
        if (unlimited) this.unlimited.add(name);
      },
      throttled: () => {
        this.unlimited.delete(name);
        this.post({ type: 'throttled', budget: name });
      },
      unlimited: () => this.unlimited.has(name),
    };
  }

  /** The source's read limiter as the scan uses it; the main thread measures the achieved rate itself. */
  readLimiter(): Pick<RateLimiter, 'consume' | 'throttled'> {
    const b = this.budget('read');
    return { consume: (units, signal) => b.spend(units, signal), throttled: () => b.throttled() };
  }

  logger(): Logger {
    const log =
      (level: 'info' | 'warn' | 'error') =>
      (fields: object, msg?: string): void =>
        this.post({ type: 'log', level, fields: { ...fields }, msg: msg ?? '' });
    return { info: log('info'), warn: log('warn'), error: log('error'), debug: () => {} };
  }
}
