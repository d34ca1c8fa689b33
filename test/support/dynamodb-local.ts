import { after, before } from 'node:test';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  UpdateTableCommand,
  type AttributeDefinition,
  type GlobalSecondaryIndex,
  type KeySchemaElement,
  type StreamViewType,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { localClientConfig, startDynamoDbLocal, type DynamoDbLocal } from '../../src/local/dynamodb-local.js';

/** What a test file gets from `withDynamoDbLocal`; reading it before the `before` hook ran throws. */
export interface LocalDynamo {
  readonly endpoint: string;
  readonly client: DynamoDBClient;
  readonly streams: DynamoDBStreamsClient;
}

/**
 * One DynamoDB Local per test file: a JVM that already holds many stream records slows down badly, so files don't
 * share one (semantics doc §8). Call at the top level of a test file.
 */
export function withDynamoDbLocal(opts: { heapMb?: number; startTimeoutMs?: number } = {}): LocalDynamo {
  let local: DynamoDbLocal | undefined;
  let client: DynamoDBClient | undefined;
  let streams: DynamoDBStreamsClient | undefined;

  before(
    async () => {
      local = await startDynamoDbLocal({ heapMb: opts.heapMb, ...(opts.startTimeoutMs ? { startTimeoutMs: opts.startTimeoutMs } : {}) });
      client = new DynamoDBClient(localClientConfig(local.endpoint));
      streams = new DynamoDBStreamsClient(localClientConfig(local.endpoint));
    },
    { timeout: Math.max(90_000, (opts.startTimeoutMs ?? 0) + 30_000) },
  );

  after(async () => {
    client?.destroy();
    streams?.destroy();
    await local?.stop();
  });

  const ready = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('DynamoDB Local is not running: use it inside a test or hook');
    return value;
  };
  return {
    get endpoint() {
      return ready(local).endpoint;
    },
    get client() {
      return ready(client);
    },
    get streams() {
      return ready(streams);
    },
  };
}

export type KeyAttributeType = 'S' | 'N' | 'B';

export interface KeyDef {
  name: string;
  type: KeyAttributeType;
}

export interface GsiDef {
  name: string;
  partitionKey: KeyDef;
  sortKey?: KeyDef;
  /** Default ALL. */
  projection?: 'ALL' | 'KEYS_ONLY';
}

export interface CreateTableSpec {
  name: string;
  partitionKey: KeyDef;
  sortKey?: KeyDef;
  /** No stream when omitted. */
  streamViewType?: StreamViewType;
  gsis?: GsiDef[];
}

/** Creates an on-demand table and waits until it and its indexes are ACTIVE. */
export async function createTable(client: DynamoDBClient, spec: CreateTableSpec): Promise<void> {
  const attributes = new Map<string, KeyAttributeType>();
  const addAttribute = (k: KeyDef): void => {
    const seen = attributes.get(k.name);
    if (seen !== undefined && seen !== k.type) throw new Error(`attribute ${k.name} declared as both ${seen} and ${k.type}`);
    attributes.set(k.name, k.type);
  };
  const keySchema = (pk: KeyDef, sk: KeyDef | undefined): KeySchemaElement[] => {
    addAttribute(pk);
    if (sk) addAttribute(sk);
    return sk
      ? [
          { AttributeName: pk.name, KeyType: 'HASH' },
          { AttributeName: sk.name, KeyType: 'RANGE' },
        ]
      : [{ AttributeName: pk.name, KeyType: 'HASH' }];
  };

  const tableKeys = keySchema(spec.partitionKey, spec.sortKey);
  const gsis: GlobalSecondaryIndex[] | undefined = spec.gsis?.map((g) => ({
    IndexName: g.name,
    KeySchema: keySchema(g.partitionKey, g.sortKey),
    Projection: { ProjectionType: g.projection ?? 'ALL' },
  }));
  const definitions: AttributeDefinition[] = [...attributes].map(([AttributeName, AttributeType]) => ({
    AttributeName,
    AttributeType,
  }));

  await client.send(
    new CreateTableCommand({
      TableName: spec.name,
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: tableKeys,
      AttributeDefinitions: definitions,
      GlobalSecondaryIndexes: gsis,
      StreamSpecification: spec.streamViewType ? { StreamEnabled: true, StreamViewType: spec.streamViewType } : undefined,
    }),
  );
  await waitActive(client, spec.name);
}

async function waitActive(client: DynamoDBClient, table: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: table }));
    const indexesActive = (Table?.GlobalSecondaryIndexes ?? []).every((i) => i.IndexStatus === 'ACTIVE');
    if (Table?.TableStatus === 'ACTIVE' && indexesActive) return;
    if (Date.now() > deadline) throw new Error(`table ${table} not ACTIVE after ${timeoutMs} ms (${Table?.TableStatus})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export async function latestStreamArn(client: DynamoDBClient, table: string): Promise<string> {
  const { Table } = await client.send(new DescribeTableCommand({ TableName: table }));
  const arn = Table?.LatestStreamArn;
  if (!arn) throw new Error(`table ${table} has no stream`);
  return arn;
}

/**
 * Enables a NEW_AND_OLD_IMAGES stream on an existing table and waits until DescribeTable names it: a table seeded first
 * holds items older than its stream, as a table that has held them for a while does.
 */
export async function enableStream(client: DynamoDBClient, table: string): Promise<void> {
  await client.send(new UpdateTableCommand({ TableName: table, StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' } }));
  await latestStreamArn(client, table);
}
