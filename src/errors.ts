/**
 * Every failure dynashift reports has a stable code (scenario tests assert on it) and a hint that says what to
 * change. Exit codes: 2 for refusals of a config that can't migrate safely, 1 for everything else.
 */
export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'CONFIG_NOT_FOUND'
  | 'TRANSFORM_LOAD_FAILED'
  | 'TRANSFORM_FAILED'
  | 'TRANSFORM_OUTPUT_INVALID'
  | 'PLAN_REFUSED'
  | 'SOURCE_TABLE_NOT_FOUND'
  | 'TARGET_TABLE_MISMATCH'
  | 'STREAM_DISABLED'
  | 'STREAM_VIEW_INSUFFICIENT'
  | 'STREAM_CHANGED'
  | 'STREAM_GAP'
  | 'STREAM_RECORD_INCOMPLETE'
  | 'ITEM_REJECTED'
  | 'STATE_LOCKED'
  | 'STATE_CORRUPT'
  | 'STATE_CONFIG_MISMATCH'
  | 'AWS_ERROR'
  | 'DYNAMODB_LOCAL_FAILED'
  | 'NOT_RUNNING'
  | 'CONFIG_NOT_A_FILE'
  | 'CDK_NOT_INSTALLED'
  | 'DEPLOY_BUNDLE_FAILED'
  | 'TABLE_NAME_INVALID'
  | 'REGION_MISSING'
  | 'PROFILE_NOT_FOUND'
  | 'CREDENTIALS_MISSING'
  | 'CREDENTIALS_REJECTED'
  | 'ACCESS_DENIED'
  | 'ENDPOINT_UNREACHABLE'
  | 'ENDPOINT_NOT_DYNAMODB'
  | 'STATE_DIR_UNWRITABLE'
  | 'CUTOVER_REFUSED'
  | 'NOT_IN_SYNC'
  | 'DELETE_SOURCE_REFUSED'
  | 'CONFIRMATION_REQUIRED'
  | 'VERIFY_UNSUPPORTED'
  | 'TRANSFORM_CHANGED'
  | 'METRICS_PORT_UNAVAILABLE'
  | 'TARGET_NOT_DEPLOYABLE'
  | 'EXPORT_IN_PROGRESS';

/** Which part of the migration a failure is about: the fix names a setting of that side. */
export type Side = 'source' | 'target' | 'state' | 'config';

export interface DynashiftErrorOptions {
  hint?: string;
  cause?: unknown;
  details?: Record<string, unknown>;
  exitCode?: number;
  side?: Side;
}

export class DynashiftError extends Error {
  override readonly name: string = 'DynashiftError';
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown> | undefined;
  readonly exitCode: number;
  readonly side: Side | undefined;

  constructor(code: ErrorCode, message: string, options: DynashiftErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.hint = options.hint;
    this.details = options.details;
    this.exitCode = options.exitCode ?? 1;
    this.side = options.side;
  }
}

/** A config the planner can't migrate safely. Always exit code 2. */
export class PlanRefusedError extends DynashiftError {
  override readonly name = 'PlanRefusedError';
  readonly refusals: Refusal[];

  constructor(refusals: Refusal[]) {
    super(
      'PLAN_REFUSED',
      `dynashift can't migrate this safely:\n${refusals.map((r) => `  - [${r.code}] ${r.message}\n    fix: ${r.hint}`).join('\n')}`,
      { exitCode: 2, details: { refusals } },
    );
    this.refusals = refusals;
  }
}

export interface Refusal {
  code: ErrorCode | RefusalCode;
  message: string;
  hint: string;
}

export type RefusalCode =
  | 'STREAM_DISABLED'
  | 'STREAM_NEWER_THAN_EXPORT'
  | 'STREAM_VIEW_INSUFFICIENT'
  | 'BACKFILL_EXCEEDS_RETENTION'
  | 'TARGET_KEY_MISSING'
  | 'TARGET_KEY_MISMATCH'
  | 'SOURCE_TABLE_NOT_FOUND'
  | 'TTL_NOT_ENABLED'
  | 'BACKFILL_NONE_UNSAFE'
  | 'REPLICAS_INVALID'
  | 'GUARD_INVALID'
  | 'GUARD_UNSUPPORTED'
  | 'REVERSE_UNSUPPORTED'
  | 'TARGET_IS_SOURCE'
  | 'TARGET_NOT_FOUND'
  | 'WRITE_ONCE_NEEDS_BACKFILL'
  | 'WRITE_ONCE_MIXED'
  | 'PITR_DISABLED'
  | 'EXPORT_LOCATION_MISSING'
  | 'EXPORT_INVALID'
  | 'STREAM_APPLY_TOO_SLOW'
  | 'TRANSFORM_NONDETERMINISTIC';

/** The stream lost data we had not applied yet: the only safe continuation is a fresh backfill. */
export class StreamGapError extends DynashiftError {
  override readonly name = 'StreamGapError';
  constructor(message: string, details?: Record<string, unknown>) {
    super('STREAM_GAP', `${message} Changes may be missing from the target; it is NOT in sync.`, {
      hint: "Start the migration again from a fresh backfill: remove the migration's state folder (.dynashift/<name>) and empty or drop the target, then run again.",
      details,
    });
  }
}

/** A runner waited its share for an export that is still running; the Step Functions Prepare is retried on this name. */
export class ExportInProgressError extends DynashiftError {
  override readonly name = 'ExportInProgressError';
  constructor(message: string, exportArn: string) {
    super('EXPORT_IN_PROGRESS', message, {
      side: 'source',
      hint: 'nothing to fix: the state machine retries Prepare, which finds the same export by its idempotency token; an export that takes longer than 8 hours needs backfill.export.uri set to it (its ARN is in the Prepare log)',
      details: { exportArn },
    });
  }
}

export function isDynashiftError(err: unknown): err is DynashiftError {
  return err instanceof DynashiftError;
}
