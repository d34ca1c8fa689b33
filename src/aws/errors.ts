import { isServerError, isThrottlingError, isTransientError } from '@smithy/core/retry';
import type { RetryVerdict } from '../core/retry.js';

/**
 * Classifies AWS SDK errors the way the SDK's own retry strategy does (`@smithy/core/retry`, formerly
 * @smithy/service-error-classification): by the error's `name` (the service's error code), its HTTP status and Node's
 * network error codes — never by message text.
 */
type SdkLikeError = Parameters<typeof isThrottlingError>[0];

export function errorName(err: unknown): string {
  return typeof err === 'object' && err !== null && 'name' in err ? String((err as { name: unknown }).name) : '';
}

/**
 * The service asked the caller to slow down (ProvisionedThroughputExceededException, ThrottlingException,
 * RequestLimitExceeded, HTTP 429, …). Only this lowers a rate limiter; a 500 or a reset connection says nothing about
 * the rate the table can take.
 */
export function isThrottling(err: unknown): boolean {
  return isSdkError(err) && isThrottlingError(err);
}

/** A passing server or network failure: 5xx, timeouts, reset or refused connections. */
export function isTransient(err: unknown): boolean {
  if (!isSdkError(err)) return false;
  if (isTransientError(err) || isServerError(err)) return true;
  // Node's socket errors as thrown before any HTTP exchange (name "Error", the cause in `code`).
  return ['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'TimeoutError'].includes(errorName(err))
    || ['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN'].includes(String((err as { code?: unknown }).code ?? ''));
}

/** Errors worth retrying: throttling, and the transient server or network failures the SDK gave up on. */
export function isRetryable(err: unknown): boolean {
  return isThrottling(err) || isTransient(err);
}

/** How the one retry helper (core/retry.ts) treats an AWS error. */
export function awsRetryVerdict(err: unknown): RetryVerdict {
  if (isThrottling(err)) return 'throttled';
  return isTransient(err) ? 'retry' : 'fatal';
}

/** Node's socket error code behind a failed request, when there is one (ECONNRESET, EPIPE, ETIMEDOUT, …). */
export function socketErrorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /^E[A-Z_]+$/.test(code) ? code : undefined;
}

/**
 * The request timed out: no answer within the client's requestTimeout (ETIMEDOUT), no connection within
 * connectionTimeout, or a silent socket. The HTTP handler also names a reset connection "TimeoutError", with the code
 * ECONNRESET: that one is a reset, not a timeout.
 */
export function isTimeout(err: unknown): boolean {
  const code = socketErrorCode(err);
  return code === 'ETIMEDOUT' || (errorName(err) === 'TimeoutError' && code === undefined);
}

/** A short name for logs and errors: the socket error code for network failures, else the error's name. */
export function failureName(err: unknown): string {
  if (isTimeout(err)) return 'TimeoutError';
  return socketErrorCode(err) ?? (errorName(err) || 'Error');
}

function isSdkError(err: unknown): err is SdkLikeError {
  return typeof err === 'object' && err !== null;
}
