/**
 * The SDK's logger middleware builds a redacted copy of every request and response *before* it asks its logger to log
 * them (`logger?.info?.(…filter(input)…)`), and the default no-op logger has an `info` method. For a Scan page or a
 * BatchWriteItem that copy walks every attribute of every item: measured at 16% of dynashift's CPU in a backfill.
 * dynashift never hands the SDK a logger (request bodies hold user data), so the middleware can only cost time.
 */
interface HasMiddlewareStack {
  middlewareStack: { remove(toRemove: string): boolean };
}

export const SDK_LOGGER_MIDDLEWARE = 'loggerMiddleware';

export function withoutSdkLogging<T extends HasMiddlewareStack>(client: T): T {
  client.middlewareStack.remove(SDK_LOGGER_MIDDLEWARE);
  return client;
}
