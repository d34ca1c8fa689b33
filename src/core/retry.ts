import { backoffDelay } from './backoff.js';

/**
 * The one retry loop. Every call that dynashift repeats after a failure (SDK sends after the SDK's own attempts,
 * PostgreSQL transactions, the dead-letter writes) goes through `retry`, so backoff, the failure budget, aborts and the
 * reporting of what was retried work the same everywhere. Pure: time and sleep come in through `clock`.
 *
 * How an error is treated is the caller's `classify`:
 * - `throttled`: the service asked us to slow down. Retried with backoff; it does not spend the failure budget (a
 *   throttled call is working as intended, the rate limiter deals with the rate).
 * - `retry`: a passing failure (5xx, reset connection, timeout). Retried with backoff while the failure budget lasts.
 * - `fatal`: rethrown at once.
 */
export type RetryVerdict = 'throttled' | 'retry' | 'fatal';

export interface RetryClock {
  now(): number;
  /** Resolves after `ms`, or early (without throwing) when the signal aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export interface RetryEvent {
  error: unknown;
  verdict: Exclude<RetryVerdict, 'fatal'>;
  /** 0 for the first retry. */
  attempt: number;
  delayMs: number;
  /** How long this call has been failing (not counting throttling), in ms. */
  failingForMs: number;
}

export interface RetryOptions<T> {
  clock: RetryClock;
  classify(error: unknown): RetryVerdict;
  /** A result that asks for another round (e.g. unprocessed items): retried like throttling. */
  again?(result: T): boolean;
  /** Backoff with full jitter from `baseMs`, doubling up to `maxMs` (defaults 50 ms, 5 s). */
  baseMs?: number;
  maxMs?: number;
  /**
   * How long a call may keep failing with `retry` errors, in ms, counted from its first such failure; then the last
   * error (or what `exhausted` makes of it) is thrown. Default: no limit.
   */
  budgetMs?: number;
  /** Calls at most, throttled ones included. Default: no limit. */
  maxAttempts?: number;
  random?: () => number;
  signal?: AbortSignal;
  onRetry?(event: RetryEvent): void;
  /** The error to throw once the budget or the attempts are spent (default: the last error). */
  exhausted?(last: { error: unknown; attempts: number; failingForMs: number }): unknown;
}

/**
 * Runs `call` until it succeeds, fails fatally, or the budget is spent. Resolves `undefined` only when the signal
 * aborted before a call succeeded (the caller decides whether that is an error).
 */
export async function retry<T>(call: (attempt: number) => Promise<T>, opts: RetryOptions<T>): Promise<T | undefined> {
  const base = opts.baseMs ?? 50;
  const max = opts.maxMs ?? 5_000;
  const budget = opts.budgetMs ?? Infinity;
  const maxAttempts = opts.maxAttempts ?? Infinity;
  let failingSince: number | undefined;
  for (let attempt = 0; ; attempt++) {
    if (opts.signal?.aborted) return undefined;
    let verdict: Exclude<RetryVerdict, 'fatal'>;
    let error: unknown;
    const startedAt = opts.clock.now();
    try {
      const result = await call(attempt);
      if (!opts.again?.(result)) return result;
      verdict = 'throttled';
      error = undefined;
    } catch (err) {
      if (opts.signal?.aborted) return undefined;
      const v = opts.classify(err);
      if (v === 'fatal') throw err;
      verdict = v;
      error = err;
    }
    const now = opts.clock.now();
    // From the start of the first failed attempt: a call that hung until it timed out has been failing all along.
    if (verdict === 'retry') failingSince ??= startedAt;
    const failingForMs = failingSince === undefined ? 0 : now - failingSince;
    if (attempt + 1 >= maxAttempts || failingForMs >= budget) {
      throw opts.exhausted
        ? opts.exhausted({ error, attempts: attempt + 1, failingForMs })
        : (error ?? new Error(`still not done after ${attempt + 1} attempts`));
    }
    const delayMs = backoffDelay(attempt, base, max, opts.random);
    opts.onRetry?.({ error, verdict, attempt, delayMs, failingForMs });
    await opts.clock.sleep(delayMs, opts.signal);
  }
}
