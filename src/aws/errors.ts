import { DynashiftError, isDynashiftError, type Side } from '../errors.js';

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

/**
 * Which client a failed call went through: the source's, a target's or the state table's. The client tags its own
 * errors (see `tagErrorsWith` in clients.ts), so the side is known where the call was made, not guessed afterwards.
 */
export interface ClientRole {
  side: Side;
  /** The config path of the table reference: `source`, `sources.<name>`, `target`, `targets.<name>`. */
  setting: string;
  table: string;
  endpoint?: string;
  profile?: string;
  roleArn?: string;
}

const ROLE = Symbol.for('dynashift.clientRole');

/** The role of the client a map key names: `source` for the single source, `sources.<name>` in a merge. */
export function roleFor(
  side: 'source' | 'target',
  name: string,
  ref: { table: string; endpoint?: string; profile?: string; roleArn?: string },
): ClientRole {
  return {
    side,
    setting: name === side ? side : `${side}s.${name}`,
    table: ref.table,
    ...(ref.endpoint ? { endpoint: ref.endpoint } : {}),
    ...(ref.profile ? { profile: ref.profile } : {}),
    ...(ref.roleArn ? { roleArn: ref.roleArn } : {}),
  };
}

export function tagRole(err: unknown, role: ClientRole): void {
  if (typeof err !== 'object' || err === null || ROLE in err) return;
  try {
    Object.defineProperty(err, ROLE, { value: role, enumerable: false });
  } catch {
    /* a frozen error: reported without its side */
  }
}

export function roleOf(err: unknown): ClientRole | undefined {
  return typeof err === 'object' && err !== null ? (err as { [ROLE]?: ClientRole })[ROLE] : undefined;
}

/** Socket-level failures (the `code` Node sets on a system error): nothing answered at the endpoint. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ECONNRESET', 'EPIPE']);
/** The service did not accept the credentials themselves (as opposed to what they may do: AccessDenied). */
const CREDENTIALS_REJECTED = new Set([
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'IncompleteSignatureException',
  'MissingAuthenticationTokenException',
  'ExpiredTokenException',
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
  'InvalidAccessKeyId',
]);
const ACCESS_DENIED = new Set(['AccessDeniedException', 'AccessDenied']);

/**
 * An AWS SDK failure as a DynashiftError with its own code, the side it happened on and the setting to change —
 * decided by the error's name, system-error code, class and `$metadata`, never by its message. Undefined for what
 * is not an SDK/network failure (the caller reports it as it is).
 */
export function classifyAwsError(err: unknown): DynashiftError | undefined {
  if (isDynashiftError(err) || typeof err !== 'object' || err === null) return undefined;
  const role = roleOf(err);
  const meta = (err as { $metadata?: { httpStatusCode?: number } }).$metadata;
  if (!role && meta === undefined) return undefined;
  const side: Side = role?.side ?? 'config';
  const where = role ? `${role.side} ${role.setting === role.side ? '' : `(${role.setting}) `}table ${role.table}` : 'an AWS call';
  const at = role?.endpoint ? ` at ${role.endpoint}` : '';
  const setting = role?.setting ?? 'source/target';
  const name = errorName(err);
  const sysCode = (err as { code?: unknown }).code;
  const detail = (err as Error).message ?? String(err);
  const options = (hint: string, details: Record<string, unknown> = {}) => ({ hint, cause: err, side, details: { awsError: name, ...details } });

  if (typeof sysCode === 'string' && UNREACHABLE.has(sysCode)) {
    return new DynashiftError(
      'ENDPOINT_UNREACHABLE',
      `${where}: nothing answered${at || ' at the DynamoDB endpoint'} (${sysCode})`,
      options(
        role?.endpoint
          ? `check ${setting}.endpoint (${role.endpoint}): start the service there, or correct the host and port`
          : `check ${setting}.region and the network path to DynamoDB (proxy, VPC endpoint, DNS)`,
        { errno: sysCode },
      ),
    );
  }
  if (name === 'TimeoutError') {
    return new DynashiftError(
      'ENDPOINT_UNREACHABLE',
      `${where}: the endpoint${at} did not answer in time`,
      options(`check ${setting}.endpoint and ${setting}.region, and the network path to it`),
    );
  }
  if (err instanceof SyntaxError && meta !== undefined) {
    return new DynashiftError(
      'ENDPOINT_NOT_DYNAMODB',
      `${where}: the endpoint${at} answered HTTP ${meta.httpStatusCode ?? '?'} with something that is not the DynamoDB API (its body is not DynamoDB's JSON)`,
      options(
        `point ${setting}.endpoint at a DynamoDB API endpoint (DynamoDB, DynamoDB Local, ScyllaDB Alternator), or remove it to use AWS in ${setting}.region`,
        { httpStatusCode: meta.httpStatusCode },
      ),
    );
  }
  if (CREDENTIALS_REJECTED.has(name)) {
    return new DynashiftError(
      'CREDENTIALS_REJECTED',
      `${where}: the endpoint${at} rejected the ${side}'s credentials (${name})`,
      options(
        `give the ${side} valid credentials: ${setting}.profile, ${setting}.roleArn, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (DynamoDB Local accepts only letters and digits in the access key id)`,
      ),
    );
  }
  if (ACCESS_DENIED.has(name)) {
    return new DynashiftError(
      'ACCESS_DENIED',
      `${where}: the ${side}'s credentials may not do this (${name}): ${detail}`,
      options(
        `grant the ${side}'s identity the IAM actions \`dynashift plan\` lists for ${setting}, or set ${setting}.roleArn to a role that has them`,
      ),
    );
  }
  if (name === 'CredentialsProviderError') {
    return new DynashiftError(
      'CREDENTIALS_MISSING',
      `${where}: no credentials found for the ${side}`,
      options(
        `set ${setting}.profile or ${setting}.roleArn, or provide credentials the standard way (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, an instance or task role)`,
      ),
    );
  }
  if (meta === undefined && !name.endsWith('Exception')) return undefined; // a bug of ours, thrown inside a call: report it as it is
  return new DynashiftError(
    'AWS_ERROR',
    `${where}: ${name}: ${detail}`,
    options(
      `check ${setting}.table, ${setting}.region${role?.endpoint ? `, ${setting}.endpoint` : ''} and the ${side}'s credentials`,
      meta?.httpStatusCode ? { httpStatusCode: meta.httpStatusCode } : {},
    ),
  );
}
