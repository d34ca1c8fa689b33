import { classifyAwsError } from '../../aws/errors.js';
import { DynashiftError, type ErrorCode, type Side } from '../../errors.js';
import { ItemFailureHalt } from '../failure-policy.js';
import type { ThreadError } from './protocol.js';

/**
 * An error as a message (structured clone keeps neither an Error subclass nor its own fields). An SDK error is
 * classified here first, while its client's role tag is still on it: the main thread gets the DynashiftError the CLI
 * would have made of it (side, table, fix).
 */
export function toThreadError(thrown: unknown): ThreadError {
  const err = classifyAwsError(thrown) ?? thrown;
  if (!(err instanceof Error)) return { name: 'Error', message: String(err) };
  const out: ThreadError = { name: err.name, message: err.message, ...(err.stack ? { stack: err.stack } : {}) };
  if (err instanceof DynashiftError) {
    out.code = err.code;
    out.exitCode = err.exitCode;
    if (err.hint !== undefined) out.hint = err.hint;
    if (err.details !== undefined) out.details = err.details;
    if (err.side !== undefined) out.side = err.side;
  }
  return out;
}

/**
 * The error the in-thread path would have raised: a DynashiftError (an ItemFailureHalt when it was one) with the same
 * code, hint, details, side and exit code; any other error keeps its name and message. The worker's stack is kept.
 */
export function fromThreadError(e: ThreadError): Error {
  let err: Error;
  if (e.code !== undefined) {
    const opts = {
      ...(e.hint !== undefined ? { hint: e.hint } : {}),
      ...(e.details !== undefined ? { details: e.details } : {}),
      ...(e.exitCode !== undefined ? { exitCode: e.exitCode } : {}),
      ...(e.side !== undefined ? { side: e.side as Side } : {}),
    };
    err =
      e.name === 'ItemFailureHalt'
        ? new ItemFailureHalt(e.code as ErrorCode, e.message, opts)
        : new DynashiftError(e.code as ErrorCode, e.message, opts);
  } else {
    err = new Error(e.message);
    err.name = e.name;
  }
  if (e.stack) err.stack = e.stack;
  return err;
}
