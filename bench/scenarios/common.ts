import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { DescribeTableCommand, type DynamoDBClient, type WriteRequest } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { localClientConfig } from '../../src/local/dynamodb-local.js';
import { minimalCopy } from '../contenders/minimal-copier.js';
import { minimalDrain } from '../contenders/minimal-stream.js';
import { ROOT } from '../contenders/dynashift.js';
import { itemBytes, itemId, makeItem, mulberry32 } from '../lib/dataset.js';
import { batchWrite, createTable, dropTable, enableStream, freshLocal, seedTable, type BenchLocal } from '../lib/local.js';
import { limiter } from '../lib/limit.js';
import type { BenchOptions } from '../lib/options.js';
import { withoutSdkLogging } from '../../src/aws/sdk-logging.js';
import { CpuSampler, type CpuSplit } from '../lib/proc.js';

export interface Ctx {
  o: BenchOptions;
  /** Scratch folder for configs and state (under bench/results/, gitignored). */
  work: string;
  log: (msg: string) => void;
}

export const RESULTS_DIR = path.join(ROOT, 'bench/results');

export function workDir(ctx: Ctx, name: string): string {
  const dir = path.join(ctx.work, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

export interface Measured {
  items: number;
  seconds: number;
  itemsPerSecond: number;
  mbPerSecond?: number;
  cpu?: CpuSplit;
}

/** A fresh DynamoDB Local with a CPU sampler tracking the JVM and this process; stopped afterwards. */
export async function withLocal<T>(ctx: Ctx, what: string, fn: (local: BenchLocal, sampler: CpuSampler) => Promise<T>): Promise<T> {
  const local = await freshLocal();
  ctx.log(`  ${what}: fresh DynamoDB Local on ${local.endpoint} (jvm pid ${local.jvmPid ?? '?'})`);
  const sampler = new CpuSampler();
  if (local.jvmPid !== undefined) sampler.track('jvm', local.jvmPid);
  sampler.track('bench', process.pid);
  sampler.start();
  try {
    return await fn(local, sampler);
  } finally {
    sampler.stop();
    await local.stop();
  }
}

/** Source table of `count` dataset items with a NEW_AND_OLD_IMAGES stream enabled *after* seeding (an empty stream). */
export async function seededSource(ctx: Ctx, local: BenchLocal, table: string, count: number): Promise<{ bytes: number; seconds: number }> {
  const started = Date.now();
  await createTable(local.client, table);
  let lastLog = Date.now();
  const bytes = await seedTable(local.client, table, ctx.o.seed, count, {
    onProgress: (done) => {
      if (Date.now() - lastLog > 15_000) {
        lastLog = Date.now();
        ctx.log(`    seeding ${done.toLocaleString('en-US')}/${count.toLocaleString('en-US')}`);
      }
    },
  });
  await enableStream(local.client, table);
  const seconds = (Date.now() - started) / 1000;
  ctx.log(`    seeded ${count.toLocaleString('en-US')} items (${(bytes / 2 ** 20).toFixed(1)} MB) in ${seconds.toFixed(1)} s`);
  return { bytes, seconds };
}

/**
 * JIT warm-up of a fresh JVM: the first few thousand Scan / BatchWriteItem / stream calls are several times slower
 * than the rest, which would penalise whichever contender runs first.
 */
export async function warmUp(local: BenchLocal, opts: { streams?: boolean } = {}): Promise<void> {
  await createTable(local.client, 'warmup_source', opts.streams ? 'NEW_AND_OLD_IMAGES' : undefined);
  await seedTable(local.client, 'warmup_source', 7, 4000);
  await createTable(local.client, 'warmup_target');
  await minimalCopy(local.client, 'warmup_source', 'warmup_target', { segments: 4, writeConcurrency: 16, pageSize: 1000 });
  if (opts.streams) {
    const arn = (await local.client.send(new DescribeTableCommand({ TableName: 'warmup_source' }))).Table!.LatestStreamArn!;
    const streams = withoutSdkLogging(new DynamoDBStreamsClient(localClientConfig(local.endpoint)));
    await createTable(local.client, 'warmup_stream_target');
    await minimalDrain(local.client, streams, arn, 'warmup_stream_target', { writeConcurrency: 16 });
    streams.destroy();
    await dropTable(local.client, 'warmup_stream_target');
  }
  await dropTable(local.client, 'warmup_target');
  await dropTable(local.client, 'warmup_source');
}

/** Rotates a contender list so that each run starts with another contender (cancels order effects). */
export function rotate<T>(list: T[], run: number): T[] {
  const k = run % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}

export function rate(items: number, seconds: number, bytes?: number): Pick<Measured, 'items' | 'seconds' | 'itemsPerSecond' | 'mbPerSecond'> {
  return {
    items,
    seconds,
    itemsPerSecond: items / seconds,
    ...(bytes !== undefined ? { mbPerSecond: bytes / 2 ** 20 / seconds } : {}),
  };
}

/**
 * A backlog of `count` changes in the source's stream: 60% new items, 30% overwrites of existing ones, 10% deletes,
 * seeded, written by BatchWriteItem (distinct keys per batch). Returns the number of writes made.
 */
export async function writeBacklog(client: DynamoDBClient, table: string, seed: number, count: number): Promise<number> {
  const rng = mulberry32(seed ^ 0xbac1);
  const batches: WriteRequest[][] = [];
  let batch: WriteRequest[] = [];
  let keys = new Set<string>();
  let created = 0;
  for (let j = 0; j < count; j++) {
    const r = rng();
    let id: string;
    let req: WriteRequest;
    if (created < 100 || r < 0.6) {
      id = itemId(created);
      req = { PutRequest: { Item: makeItem(seed, created++) } };
    } else {
      const n = Math.floor(rng() * created);
      id = itemId(n);
      req = r < 0.9 ? { PutRequest: { Item: makeItem(seed, n, { rev: { N: String(j) } }) } } : { DeleteRequest: { Key: { id: { S: id } } } };
    }
    if (keys.has(id) || batch.length === 25) {
      batches.push(batch);
      batch = [];
      keys = new Set();
    }
    batch.push(req);
    keys.add(id);
  }
  if (batch.length) batches.push(batch);
  const gate = limiter(8);
  await Promise.all(batches.map((b) => gate(() => batchWrite(client, table, b))));
  return count;
}

export { itemBytes };
