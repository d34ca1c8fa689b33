import { retry, type RetryClock, type RetryOptions } from '../core/retry.js';
import { systemClock } from '../core/clock.js';
import { DynashiftError, type Side } from '../errors.js';
import { awsRetryVerdict, classifyAwsError, errorName, failureName, isThrottling, isTimeout, roleOf } from './errors.js';
import { sdkAttemptsOf } from './sdk-attempts.js';

/**
 * How long one AWS call may keep failing with transient errors (5xx, timeouts, resets) — the SDK's own attempts
 * included — before the run halts with AWS_ERROR instead of retrying forever. Throttling never spends it. A rerun
 * resumes from the last checkpoint.
 */
export const FAILURE_BUDGET_MS = 5 * 60_000;

export interface AwsRetryOptions<T> {
  /** source, target or state: named in the error when the budget is spent. */
  side: string;
  operation: string;
  table?: string;
  signal?: AbortSignal;
  baseMs?: number;
  maxMs?: number;
  budgetMs?: number;
  /** A result that asks for another round (unprocessed items). */
  again?(result: T): boolean;
  /** The service throttled this call (in the SDK's own attempts or in the error it gave up with): slow down. */
  onThrottle?(): void;
  /** Calls at most (default: no limit; the budget bounds failures). */
  maxAttempts?: number;
  /** The error to throw when the attempts or the budget are spent (default: AWS_ERROR naming the side). */
  exhausted?: RetryOptions<T>['exhausted'];
  clock?: RetryClock;
}

/**
 * An AWS call through the one retry helper (core/retry.ts): throttling and transient errors are retried once the
 * SDK's own attempts are spent, only throttling reaches `onThrottle`, and a call failing for longer than the budget
 * becomes an error naming the side and the operation (see `budgetSpent`). Resolves undefined only when the signal aborted.
 */
export function retryAws<T>(call: (attempt: number) => Promise<T>, opts: AwsRetryOptions<T>): Promise<T | undefined> {
  return retry(
    async (attempt) => {
      const result = await call(attempt);
      if (sdkAttemptsOf(result).throttled > 0) opts.onThrottle?.();
      return result;
    },
    {
      clock: opts.clock ?? systemClock,
      classify: (err) => {
        if (isThrottling(err) || sdkAttemptsOf(err).throttled > 0) opts.onThrottle?.();
        return awsRetryVerdict(err);
      },
      ...(opts.again ? { again: opts.again } : {}),
      baseMs: opts.baseMs ?? 50,
      maxMs: opts.maxMs ?? 5_000,
      budgetMs: opts.budgetMs ?? FAILURE_BUDGET_MS,
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.maxAttempts ? { maxAttempts: opts.maxAttempts } : {}),
      exhausted: opts.exhausted ?? (({ error, failingForMs }) => budgetSpent(opts, error, failingForMs)),
    },
  );
}

/**
 * The error a call that kept failing ends with: ENDPOINT_UNREACHABLE when the last attempt got no answer (timeout,
 * refused or reset connection), as for a call that fails outright; else AWS_ERROR. Either names the side and the
 * operation, and says a rerun resumes.
 */
function budgetSpent<T>(opts: AwsRetryOptions<T>, error: unknown, failingForMs: number): DynashiftError {
  const classified = classifyAwsError(error);
  const code = classified?.code === 'ENDPOINT_UNREACHABLE' ? 'ENDPOINT_UNREACHABLE' : 'AWS_ERROR';
  const side = roleOf(error)?.side ?? (['source', 'target', 'state'].includes(opts.side) ? (opts.side as Side) : undefined);
  const fix =
    code === 'ENDPOINT_UNREACHABLE' && classified?.hint
      ? `${classified.hint}; `
      : `check that the ${opts.side} endpoint answers (network, endpoint, service health); `;
  return new DynashiftError(
    code,
    `${opts.side}: ${opts.operation}${opts.table ? ` on ${opts.table}` : ''} kept failing for ${Math.round(failingForMs / 1000)} s ` +
      `(${isTimeout(error) ? 'no answer within the request timeout' : failureName(error)}); stopping instead of retrying forever`,
    {
      hint: `${fix}rerun the same command to resume from the last checkpoint`,
      cause: error,
      ...(side ? { side } : {}),
      details: { side: opts.side, operation: opts.operation, error: errorName(error), failingForMs },
    },
  );
}
