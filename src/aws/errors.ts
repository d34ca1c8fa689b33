/** Classifies AWS SDK errors by their `name` (the service's error code), never by message text. */
const THROTTLING = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'LimitExceededException',
  'TooManyRequestsException',
]);

export function errorName(err: unknown): string {
  return typeof err === 'object' && err !== null && 'name' in err ? String((err as { name: unknown }).name) : '';
}

export function isThrottling(err: unknown): boolean {
  return THROTTLING.has(errorName(err));
}

/** Errors worth retrying: throttling, and the transient server or network failures the SDK gave up on. */
export function isRetryable(err: unknown): boolean {
  if (isThrottling(err)) return true;
  const name = errorName(err);
  if (['InternalServerError', 'ServiceUnavailable', 'TimeoutError', 'ECONNRESET', 'ECONNREFUSED', 'EPIPE'].includes(name)) return true;
  const status = (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
  return status !== undefined && status >= 500;
}
