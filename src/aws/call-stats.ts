import type { FinalizeHandler, FinalizeRequestMiddleware, MetadataBearer } from '@smithy/types';
import { isRetryable, isThrottling } from './errors.js';

/**
 * How one table's SDK clients fared, for monitoring: every attempt the SDK sends is counted, including the ones its
 * own retry loop makes (the middleware sits inside the retry step), so a throttle absorbed by the SDK still shows.
 */
export interface CallStats {
  /** HTTP attempts sent. */
  requests: number;
  /** Attempts DynamoDB throttled: a throttling error, or a BatchWriteItem that came back with UnprocessedItems. */
  throttles: number;
  /** Attempts that will be sent again: throttled, a transient failure, or UnprocessedItems (resent by the sink). */
  retries: number;
}

export const CALL_STATS_MIDDLEWARE = 'dynashiftCallStats';

interface HasMiddlewareStack {
  middlewareStack: {
    add(middleware: FinalizeRequestMiddleware<object, MetadataBearer>, options: { step: 'finalizeRequest'; priority: 'low'; name: string }): void;
  };
}

export function newCallStats(): CallStats {
  return { requests: 0, throttles: 0, retries: 0 };
}

export function withCallStats<T extends HasMiddlewareStack>(client: T, stats: CallStats): T {
  const middleware: FinalizeRequestMiddleware<object, MetadataBearer> = (next: FinalizeHandler<object, MetadataBearer>) => async (args) => {
    stats.requests++;
    try {
      const out = await next(args);
      if (hasUnprocessed(out.output)) {
        stats.throttles++;
        stats.retries++;
      }
      return out;
    } catch (err) {
      if (isThrottling(err)) stats.throttles++;
      if (isRetryable(err)) stats.retries++;
      throw err;
    }
  };
  client.middlewareStack.add(middleware, { step: 'finalizeRequest', priority: 'low', name: CALL_STATS_MIDDLEWARE });
  return client;
}

function hasUnprocessed(output: unknown): boolean {
  const unprocessed = (output as { UnprocessedItems?: Record<string, unknown[] | undefined> } | undefined)?.UnprocessedItems;
  return unprocessed !== undefined && Object.values(unprocessed).some((requests) => (requests?.length ?? 0) > 0);
}

/**
 * For a thread that reports its requests to another (a backfill worker to the main thread): each call returns what
 * the named counters gained since the previous call (undefined when nothing did).
 */
export function callDeltas(counters: () => Record<string, CallStats | undefined>): () => Record<string, CallStats> | undefined {
  const last = new Map<string, CallStats>();
  return () => {
    let out: Record<string, CallStats> | undefined;
    for (const [name, now] of Object.entries(counters())) {
      if (!now) continue;
      const before = last.get(name) ?? newCallStats();
      const delta = { requests: now.requests - before.requests, throttles: now.throttles - before.throttles, retries: now.retries - before.retries };
      if (delta.requests === 0 && delta.throttles === 0 && delta.retries === 0) continue;
      last.set(name, { ...now });
      (out ??= {})[name] = delta;
    }
    return out;
  };
}

/** Adds counts another thread reported (callDeltas) into these counters. */
export function addCalls(into: CallStats, delta: CallStats): void {
  into.requests += delta.requests;
  into.throttles += delta.throttles;
  into.retries += delta.retries;
}
