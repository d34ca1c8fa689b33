import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { fromIni, fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import type { TableRefConfig } from '../config/schema.js';
import { withoutSdkLogging } from './sdk-logging.js';

/**
 * Builds SDK clients for one table reference: its Region, endpoint and credentials (profile, assumed role, or the
 * standard chain). Bulk work retries more than the SDK's default 3 attempts (throttling is expected, not exceptional).
 */
export interface TableClients {
  dynamodb: DynamoDBClient;
  streams: DynamoDBStreamsClient;
  region: string;
}

export function clientsFor(ref: TableRefConfig, opts: { maxAttempts?: number } = {}): TableClients {
  const region = ref.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
  const credentials = credentialsFor(ref, region);
  const common = {
    region,
    maxAttempts: opts.maxAttempts ?? 10,
    ...(ref.endpoint ? { endpoint: ref.endpoint } : {}),
    ...(credentials ? { credentials } : {}),
  };
  return { dynamodb: withoutSdkLogging(new DynamoDBClient(common)), streams: withoutSdkLogging(new DynamoDBStreamsClient(common)), region };
}

/** Closes both clients' sockets. The owner (whoever called clientsFor) calls it once, when its run ends. */
export function destroyClients(clients: TableClients): void {
  clients.dynamodb.destroy();
  clients.streams.destroy();
}

/** Clients for one call (inspect, create, delete), destroyed when it settles. */
export async function withClients<T>(ref: TableRefConfig, fn: (clients: TableClients) => Promise<T>): Promise<T> {
  const clients = clientsFor(ref);
  try {
    return await fn(clients);
  } finally {
    destroyClients(clients);
  }
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
