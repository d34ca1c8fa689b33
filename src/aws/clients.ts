import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { fromIni, fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { AwsCredentialIdentityProvider, Provider } from '@smithy/types';
import type { TableRefConfig } from '../config/schema.js';
import { tagRole, type ClientRole } from './errors.js';
import { isLoopback, profileExists, resolveRegion } from './region.js';
import { newCallStats, withCallStats, type CallStats } from './call-stats.js';
import { observeSdkAttempts } from './sdk-attempts.js';
import { withoutSdkLogging } from './sdk-logging.js';

/**
 * Builds SDK clients for one table reference: its Region, endpoint and credentials (profile, assumed role, or the
 * standard chain). Bulk work retries more than the SDK's default 3 attempts (throttling is expected, not exceptional).
 * Every error a client throws carries its role (source, target or state, and the config setting), so a failure is
 * reported with the side it happened on.
 *
 * Every request has a deadline. Without one, an endpoint that accepts a connection and then stops answering hangs the
 * call for as long as the socket lives (the SDK sets no timeout by default, and this version of the HTTP handler only
 * *warns* about a passed requestTimeout unless told to throw). A timed-out attempt is a transient error: the SDK
 * retries it, and sdk-attempts.ts reports it as a warning naming the side and the operation.
 */
export interface TableClients {
  dynamodb: DynamoDBClient;
  streams: DynamoDBStreamsClient;
  /** Requests, throttles and retries of both clients, for monitoring. */
  calls: CallStats;
}

/** DynamoDB answers in milliseconds; 20 s without response headers (or 20 s of silence mid-body) means it is stuck. */
export const REQUEST_TIMEOUT_MS = 20_000;
export const CONNECTION_TIMEOUT_MS = 5_000;

export interface ClientOptions {
  maxAttempts?: number;
  requestTimeoutMs?: number;
  connectionTimeoutMs?: number;
}

export function clientsFor(ref: TableRefConfig, role: ClientRole, opts: ClientOptions = {}): TableClients {
  const region = regionProvider(ref, role);
  const credentials = credentialsFor(ref, role, region);
  const common = {
    region,
    maxAttempts: opts.maxAttempts ?? 10,
    // Resolve each command's middleware stack once, not on every call (3% of a backfill's CPU): dynashift adds its
    // middleware when it builds a client, never later, and keeps nothing per call on the shared handler context.
    cacheMiddleware: true,
    ...(ref.endpoint ? { endpoint: ref.endpoint } : {}),
    ...(credentials ? { credentials } : {}),
  };
  const handler = () =>
    new NodeHttpHandler({
      connectionTimeout: opts.connectionTimeoutMs ?? CONNECTION_TIMEOUT_MS,
      requestTimeout: opts.requestTimeoutMs ?? REQUEST_TIMEOUT_MS,
      socketTimeout: opts.requestTimeoutMs ?? REQUEST_TIMEOUT_MS,
      throwOnRequestTimeout: true,
    });
  // Retried attempts are reported with the side and the config setting (targets.<name>, sources.<name>).
  const where = { side: role.side, setting: role.setting, table: role.table };
  const calls = newCallStats();
  return {
    dynamodb: tagErrorsWith(
      observeSdkAttempts(withCallStats(withoutSdkLogging(new DynamoDBClient({ ...common, requestHandler: handler() })), calls), where),
      role,
    ),
    streams: tagErrorsWith(
      observeSdkAttempts(withCallStats(withoutSdkLogging(new DynamoDBStreamsClient({ ...common, requestHandler: handler() })), calls), where),
      role,
    ),
    calls,
  };
}

/** The Region, resolved once on first use: explicit, the standard settings, or an error naming them (REGION_MISSING). */
export function regionProvider(ref: TableRefConfig, role: ClientRole): Provider<string> {
  let resolved: Promise<string> | undefined;
  return () => (resolved ??= resolveRegion(ref, role));
}

interface HasMiddlewareStack {
  middlewareStack: { add(mw: unknown, options: { step: 'initialize'; name: string; priority: 'high' }): void };
}

/** Outermost middleware: whatever a call throws (after the SDK's retries) leaves tagged with the client's role. */
export function tagErrorsWith<T extends HasMiddlewareStack>(client: T, role: ClientRole): T {
  client.middlewareStack.add(
    (next: (args: unknown) => Promise<unknown>) => async (args: unknown) => {
      try {
        return await next(args);
      } catch (err) {
        tagRole(err, role);
        throw err;
      }
    },
    { step: 'initialize', name: 'dynashiftClientRole', priority: 'high' },
  );
  return client;
}

/** Closes both clients' sockets. The owner (whoever called clientsFor) calls it once, when its run ends. */
export function destroyClients(clients: TableClients): void {
  clients.dynamodb.destroy();
  clients.streams.destroy();
}

/** Clients for one call (inspect, create, delete), destroyed when it settles. */
export async function withClients<T>(ref: TableRefConfig, role: ClientRole, fn: (clients: TableClients) => Promise<T>): Promise<T> {
  const clients = clientsFor(ref, role);
  try {
    return await fn(clients);
  } finally {
    destroyClients(clients);
  }
}

function credentialsFor(ref: TableRefConfig, role: ClientRole, region: Provider<string>): AwsCredentialIdentityProvider | undefined {
  let base: AwsCredentialIdentityProvider | undefined = ref.profile ? checkedProfile(ref.profile, role) : undefined;
  if (!base && !ref.roleArn && isLoopback(ref.endpoint) && !hasEnvCredentials()) {
    // DynamoDB Local accepts any credentials but the SDK insists on some; a developer laptop may have none.
    base = async () => ({ accessKeyId: 'local', secretAccessKey: 'local' });
  }
  if (!ref.roleArn) return base;
  return fromTemporaryCredentials({
    params: {
      RoleArn: ref.roleArn,
      RoleSessionName: 'dynashift',
      ...(ref.externalId ? { ExternalId: ref.externalId } : {}),
    },
    ...(base ? { masterCredentials: base } : {}),
    clientConfig: { region },
  });
}

/** A named profile, refused with PROFILE_NOT_FOUND when neither shared file has it (the SDK only says "could not"). */
function checkedProfile(profile: string, role: ClientRole): AwsCredentialIdentityProvider {
  const provider = fromIni({ profile });
  return async (identity) => {
    await profileExists(profile, role, `${role.setting}.profile`);
    return provider(identity);
  };
}

function hasEnvCredentials(): boolean {
  return Boolean(process.env.AWS_ACCESS_KEY_ID || process.env.AWS_PROFILE || process.env.AWS_WEB_IDENTITY_TOKEN_FILE);
}

export { isLoopback };
