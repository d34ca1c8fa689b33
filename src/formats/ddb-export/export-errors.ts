import { DynashiftError } from '../../errors.js';

/**
 * Why an export can't be used. `config` problems are the user's to fix by pointing at another export (wrong URI, an
 * unfinished or incremental export where a full one is needed): CONFIG_INVALID, exit 2. `corrupt` problems are the
 * export's own content failing its integrity checks at read time: AWS_ERROR, exit 1, raised before any item of the
 * affected file reaches a target. `details.reason` says which check failed (tests and logs key on it).
 */
export type ExportProblem =
  | 'not-found'
  | 'ambiguous'
  | 'unfinished'
  | 'wrong-type'
  | 'manifest-invalid'
  | 'manifest-checksum-mismatch'
  | 'summary-count-mismatch'
  | 'missing-file'
  | 'checksum-mismatch'
  | 'count-mismatch'
  | 'undecodable'
  | 'cursor-invalid'
  | 'chain-gap';

const CONFIG_PROBLEMS = new Set<ExportProblem>(['not-found', 'ambiguous', 'unfinished', 'wrong-type', 'chain-gap']);

export function exportError(
  reason: ExportProblem,
  message: string,
  hint: string,
  details: Record<string, unknown> = {},
  cause?: unknown,
): DynashiftError {
  const config = CONFIG_PROBLEMS.has(reason);
  return new DynashiftError(config ? 'CONFIG_INVALID' : 'AWS_ERROR', message, {
    hint,
    details: { reason, ...details },
    ...(config ? { exitCode: 2 } : {}),
    ...(cause === undefined ? {} : { cause }),
  });
}

/** A decoding failure inside one line; the file reader adds the file name and turns it into an `undecodable` error. */
export class LineDecodeError extends Error {
  override readonly name = 'LineDecodeError';
  constructor(
    message: string,
    readonly line?: number,
  ) {
    super(message);
  }
}
