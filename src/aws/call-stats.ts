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
