import type {
  FinalizeHandler,
  FinalizeHandlerArguments,
  HandlerExecutionContext,
  MetadataBearer,
  Pluggable,
  RelativeMiddlewareOptions,
} from '@smithy/types';
import { failureName, isThrottling, isTimeout, isTransient } from './errors.js';
import { requestHealth, type RequestHealth } from './request-health.js';

/**
 * Which attempts the SDK retried inside one `send`, and why. The SDK's retry middleware only leaves a count
 * (`$metadata.attempts`); a throttle and a 503 look the same there. This middleware sits inside the retry loop
 * (right after `retryMiddleware`), so it sees every failed attempt's error: it classifies it the way the SDK does,
 * reports it (request-health.ts), and files the tally under the command's output (or final error) for the caller to
 * read with `sdkAttemptsOf` — so that only throttling lowers a rate limiter.
 */
export interface SdkAttempts {
  /** Attempts the service throttled. */
  throttled: number;
  /** Attempts that failed otherwise (5xx, timeouts, reset connections). */
  failed: number;
}

const NONE: SdkAttempts = Object.freeze({ throttled: 0, failed: 0 });
const tallies = new WeakMap<object, SdkAttempts>();
/**
 * The running tally of one `send`, by its command input (the same object in every attempt of that call). Not on the
 * handler context: a client with `cacheMiddleware` (aws/clients.ts) shares one context among all calls of a command.
 */
const running = new WeakMap<object, SdkAttempts>();
export const SDK_ATTEMPTS_MIDDLEWARE = 'dynashiftAttemptObserver';

/** The tally of retried attempts behind a command's output or final error; zeros when none failed. */
export function sdkAttemptsOf(outputOrError: unknown): SdkAttempts {
  return (typeof outputOrError === 'object' && outputOrError !== null && tallies.get(outputOrError)) || NONE;
}

interface StackOwner {
  middlewareStack: { use(pluggable: Pluggable<any, any>): void }; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export function observeSdkAttempts<T extends StackOwner>(
  client: T,
  where: { side?: string; setting?: string; table: string },
  health: RequestHealth = requestHealth,
): T {
  const middleware =
    <O extends MetadataBearer>(next: FinalizeHandler<object, O>, context: HandlerExecutionContext): FinalizeHandler<object, O> =>
    async (args: FinalizeHandlerArguments<object>) => {
      const call = args.input;
      let tally = running.get(call);
      if (!tally) running.set(call, (tally = { throttled: 0, failed: 0 }));
      try {
        const result = await next(args);
        if (tally.throttled + tally.failed > 0 && typeof result.output === 'object') tallies.set(result.output, tally);
        return result;
      } catch (err) {
        const throttled = isThrottling(err);
        if (throttled || isTransient(err)) {
          if (throttled) tally.throttled++;
          else tally.failed++;
          const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
          health.record({
            side: where.side ?? where.table,
            ...(where.setting ? { setting: where.setting } : {}),
            table: where.table,
            operation: (context.commandName ?? 'request').replace(/Command$/, ''),
            error: failureName(err),
            ...(status ? { status } : {}),
            throttled,
            timeout: isTimeout(err),
          });
        }
        if (typeof err === 'object' && err !== null) tallies.set(err, tally);
        throw err;
      }
    };
  const options: RelativeMiddlewareOptions = { name: SDK_ATTEMPTS_MIDDLEWARE, relation: 'after', toMiddleware: 'retryMiddleware', override: true };
  client.middlewareStack.use({ applyToStack: (stack) => stack.addRelativeTo(middleware, options) });
  return client;
}
