/**
 * DynamoDB Local for the benchmark: a fresh JVM per measurement group (semantics doc §8: stream writes slow down in a
 * JVM that already holds many stream records), -Xmx2g, and table helpers shared by every contender.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import {
  BatchWriteItemCommand,
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ScanCommand,
  UpdateTableCommand,
  waitUntilTableExists,
  waitUntilTableNotExists,
  type StreamViewType,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { Agent } from 'node:http';
import { findJarDir, localClientConfig, startDynamoDbLocal, type DynamoDbLocal } from '../../src/local/dynamodb-local.js';
import { KEY_NAME, itemBytes, makeItem } from './dataset.js';
import { withoutSdkLogging } from '../../src/aws/sdk-logging.js';

export const HEAP_MB = 2048;

export interface BenchLocal extends DynamoDbLocal {
  /** The JVM's pid, found by its -port argument in /proc (startDynamoDbLocal does not expose it). */
  jvmPid: number | undefined;
  client: DynamoDBClient;
}

export async function freshLocal(): Promise<BenchLocal> {
  const local = await startDynamoDbLocal({ heapMb: HEAP_MB });
  const client = benchClient(local.endpoint);
  return {
    endpoint: local.endpoint,
    port: local.port,
    jvmPid: findJvmPid(local.port),
    client,
    stop: async () => {
      client.destroy();
      await local.stop();
    },
  };
}

/**
 * A v3 client for DynamoDB Local with enough sockets for the widest concurrency the bench uses. Like dynashift's own
 * clients it has no logger middleware (a sixth of a copier's CPU, see src/aws/sdk-logging.ts), so the baselines are
 * as fast as a hand-written copier can be, not slowed by an SDK default dynashift avoids.
 */
export function benchClient(endpoint: string, maxSockets = 256): DynamoDBClient {
  return withoutSdkLogging(
    new DynamoDBClient({
      ...localClientConfig(endpoint),
      requestHandler: { httpAgent: new Agent({ keepAlive: true, maxSockets }) },
    }),
  );
}

export function findJvmPid(port: number): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      const i = args.indexOf('-port');
      if (args.some((a) => a.endsWith('DynamoDBLocal.jar')) && i >= 0 && args[i + 1] === String(port)) return Number(entry);
    } catch {
      // the process ended while we looked
    }
  }
  return undefined;
}

/** The dynamodb_local_<date> folder name of the jar in use, e.g. "2026-01-16". */
export function jarDate(): string {
  return path.basename(findJarDir()).replace(/^dynamodb_local_/, '');
}

export async function createTable(client: DynamoDBClient, table: string, stream?: StreamViewType): Promise<void> {
  await client.send(
    new CreateTableCommand({
      TableName: table,
      AttributeDefinitions: [{ AttributeName: KEY_NAME, AttributeType: 'S' }],
      KeySchema: [{ AttributeName: KEY_NAME, KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
      ...(stream ? { StreamSpecification: { StreamEnabled: true, StreamViewType: stream } } : {}),
    }),
  );
  await waitUntilTableExists({ client, maxWaitTime: 60, minDelay: 1, maxDelay: 2 }, { TableName: table });
}

export async function enableStream(client: DynamoDBClient, table: string, view: StreamViewType = 'NEW_AND_OLD_IMAGES'): Promise<string> {
  await client.send(new UpdateTableCommand({ TableName: table, StreamSpecification: { StreamEnabled: true, StreamViewType: view } }));
  for (;;) {
    const d = await client.send(new DescribeTableCommand({ TableName: table }));
    if (d.Table?.LatestStreamArn && d.Table.TableStatus === 'ACTIVE') return d.Table.LatestStreamArn;
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function dropTable(client: DynamoDBClient, table: string): Promise<void> {
  try {
    await client.send(new DeleteTableCommand({ TableName: table }));
  } catch (err) {
    if ((err as Error).name === 'ResourceNotFoundException') return;
    throw err;
  }
  await waitUntilTableNotExists({ client, maxWaitTime: 120, minDelay: 1, maxDelay: 2 }, { TableName: table });
}

/** Item count by a parallel COUNT scan (DescribeTable's ItemCount is not live on every store). */
export async function countItems(client: DynamoDBClient, table: string, segments = 8): Promise<number> {
  const counts = await Promise.all(
    Array.from({ length: segments }, async (_, segment) => {
      let n = 0;
      let start: Record<string, never> | undefined;
      do {
        const res = await client.send(
          new ScanCommand({
            TableName: table,
            Select: 'COUNT',
            Segment: segment,
            TotalSegments: segments,
            Limit: 5000,
            ...(start ? { ExclusiveStartKey: start } : {}),
          }),
        );
        n += res.Count ?? 0;
        start = res.LastEvaluatedKey as typeof start;
      } while (start);
      return n;
    }),
  );
  return counts.reduce((a, b) => a + b, 0);
}

export async function batchWrite(
  client: DynamoDBClient,
  table: string,
  requests: WriteRequest[],
  opts: { returnConsumedCapacity?: boolean } = {},
): Promise<void> {
  let pending = requests;
  for (let attempt = 0; pending.length > 0; attempt++) {
    if (attempt > 0) await new Promise((r) => setTimeout(r, Math.min(1000, 20 * 2 ** attempt)));
    if (attempt > 30) throw new Error(`BatchWriteItem left ${pending.length} items unprocessed`);
    const out = await client.send(
      new BatchWriteItemCommand({
        RequestItems: { [table]: pending },
        ...(opts.returnConsumedCapacity ? { ReturnConsumedCapacity: 'TOTAL' as const } : {}),
      }),
    );
    pending = out.UnprocessedItems?.[table] ?? [];
  }
}

/**
 * Seeds items 0…count-1 of the dataset. Items are generated as the writers need them, so memory stays flat at any
 * size. Returns the dataset's total size in bytes (DynamoDB's size rules).
 */
export async function seedTable(
  client: DynamoDBClient,
  table: string,
  seed: number,
  count: number,
  opts: { concurrency?: number; onProgress?: (done: number) => void } = {},
): Promise<number> {
  let next = 0;
  let done = 0;
  let bytes = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const from = next;
      const to = Math.min(count, from + 25);
      next = to;
      const requests: WriteRequest[] = [];
      for (let n = from; n < to; n++) {
        const item = makeItem(seed, n);
        bytes += itemBytes(item);
        requests.push({ PutRequest: { Item: item } });
      }
      await batchWrite(client, table, requests);
      done += to - from;
      if (done % 10_000 < 25) opts.onProgress?.(done);
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency ?? 12 }, worker));
  return bytes;
}
