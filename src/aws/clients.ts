import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { fromIni, fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import type { TableRefConfig } from '../config/schema.js';
import { observeSdkAttempts } from './sdk-attempts.js';
import { withoutSdkLogging } from './sdk-logging.js';

/**
 * Builds SDK clients for one table reference: its Region, endpoint and credentials (profile, assumed role, or the
 * standard chain). Bulk work retries more than the SDK's default 3 attempts (throttling is expected, not exceptional).
 *
 * Every request has a deadline. Without one, an endpoint that accepts a connection and then stops answering hangs the
 * call for as long as the socket lives (the SDK sets no timeout by default, and this version of the HTTP handler only
 * *warns* about a passed requestTimeout unless told to throw). A timed-out attempt is a transient error: the SDK
 * retries it, and sdk-attempts.ts reports it as a warning naming the side and the operation.
 */
export interface TableClients {
  dynamodb: DynamoDBClient;
  streams: DynamoDBStreamsClient;
  region: string;
}

/** DynamoDB answers in milliseconds; 20 s without response headers (or 20 s of silence mid-body) means it is stuck. */
export const REQUEST_TIMEOUT_MS = 20_000;
export const CONNECTION_TIMEOUT_MS = 5_000;

export interface ClientOptions {
  maxAttempts?: number;
  /** Which side the clients serve (source, target, state), for the warnings about retried requests. */
  side?: string;
  requestTimeoutMs?: number;
  connectionTimeoutMs?: number;
}

export function clientsFor(ref: TableRefConfig, opts: ClientOptions = {}): TableClients {
  const region = ref.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
  const credentials = credentialsFor(ref, region);
  const common = {
    region,
    maxAttempts: opts.maxAttempts ?? 10,
    ...(ref.endpoint ? { endpoint: ref.endpoint } : {}),
    ...(credentials ? { credentials } : {}),
  };
  const handler = () => new NodeHttpHandler({
    connectionTimeout: opts.connectionTimeoutMs ?? CONNECTION_TIMEOUT_MS,
    requestTimeout: opts.requestTimeoutMs ?? REQUEST_TIMEOUT_MS,
    socketTimeout: opts.requestTimeoutMs ?? REQUEST_TIMEOUT_MS,
    throwOnRequestTimeout: true,
  });
  const where = { table: ref.table, ...(opts.side ? { side: opts.side } : {}) };
  return {
    dynamodb: observeSdkAttempts(withoutSdkLogging(new DynamoDBClient({ ...common, requestHandler: handler() })), where),
    streams: observeSdkAttempts(withoutSdkLogging(new DynamoDBStreamsClient({ ...common, requestHandler: handler() })), where),
    region,
  };
}

function credentialsFor(ref: TableRefConfig, region: string): AwsCredentialIdentityProvider | undefined {
  let base: AwsCredentialIdentityProvider | undefined = ref.profile ? fromIni({ profile: ref.profile }) : undefined;
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

function hasEnvCredentials(): boolean {
  return Boolean(process.env.AWS_ACCESS_KEY_ID || process.env.AWS_PROFILE || process.env.AWS_WEB_IDENTITY_TOKEN_FILE);
}

export function isLoopback(endpoint: string | undefined): boolean {
  if (!endpoint) return false;
  try {
    const host = new URL(endpoint).hostname;
    return host === 'localhost' || host === '[::1]' || host.startsWith('127.');
  } catch {
    return false;
  }
}
