import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { fromIni, fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import type { TableRefConfig } from '../config/schema.js';
import { newCallStats, withCallStats, type CallStats } from './call-stats.js';
import { withoutSdkLogging } from './sdk-logging.js';

/**
 * Builds SDK clients for one table reference: its Region, endpoint and credentials (profile, assumed role, or the
 * standard chain). Bulk work retries more than the SDK's default 3 attempts (throttling is expected, not exceptional).
 */
export interface TableClients {
  dynamodb: DynamoDBClient;
  streams: DynamoDBStreamsClient;
  region: string;
  /** Requests, throttles and retries of both clients, for monitoring. */
  calls: CallStats;
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
  const calls = newCallStats();
  return {
    dynamodb: withCallStats(withoutSdkLogging(new DynamoDBClient(common)), calls),
    streams: withCallStats(withoutSdkLogging(new DynamoDBStreamsClient(common)), calls),
    region, calls,
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
