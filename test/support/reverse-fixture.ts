/**
 * The reverse applier over a "grouped orders" migration, as the reverse-replication tests and bench/reverse-rate.ts
 * drive it: a source keyed by `id`, a target keyed by (`gk`, `id`) whose `gk` is the item's `grp` (so moving an item to
 * another group moves its target key), and the inverse that drops `gk`.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { ChangePage } from '../../src/core/change.js';
import type { AttributeMap, KeySchema } from '../../src/core/item.js';
import { ItemMapper } from '../../src/core/transform.js';
import { FailurePolicy } from '../../src/engine/failure-policy.js';
import type { Logger } from '../../src/engine/logger.js';
import { reverseApplier } from '../../src/engine/reverse-applier.js';
import { dynamoDbDriver } from '../../src/sinks/dynamodb/dynamodb-driver.js';
import { FileStateStore } from '../../src/state/file-state-store.js';

export const SOURCE_KEY: KeySchema = { partitionKey: { name: 'id', type: 'S' } };
export const TARGET_KEY: KeySchema = { partitionKey: { name: 'gk', type: 'S' }, sortKey: { name: 'id', type: 'S' } };
export const forward = new ItemMapper({
  transform: (item) => ({ ...item, gk: item['grp'] }),
  targets: { target: TARGET_KEY },
  singleTarget: 'target',
});
export const inverse = new ItemMapper({ transform: ({ gk: _gk, ...item }) => item, targets: { source: SOURCE_KEY }, singleTarget: 'source' });

const quiet = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {}, child: () => quiet } as unknown as Logger;

export type ReverseStats = { records: number; skipped: number; writes: number; ownerSkips?: number; stalePutSkips?: number };

/**
 * A reverse applier from table `target` into table `source` (halting on a failed item), with its stats; `close` frees
 * the source writer's sockets.
 */
export function groupedReverse(opts: { client: DynamoDBClient; endpoint: string; source: string; target: string; concurrency: number }): {
  apply: (page: ChangePage) => Promise<void>;
  stats: ReverseStats;
  close: () => Promise<void>;
} {
  const sink = dynamoDbDriver.open(
    'source',
    { table: opts.source, endpoint: opts.endpoint, region: 'us-east-1', kind: 'dynamodb' },
    { keySchema: SOURCE_KEY, concurrency: 16, side: 'source' },
  );
  const stats: ReverseStats = { records: 0, skipped: 0, writes: 0 };
  const apply = reverseApplier({
    inverse,
    forward,
    target: 'target',
    targetKey: TARGET_KEY,
    source: { name: 'source', client: opts.client, table: opts.source, keySchema: SOURCE_KEY },
    targetTable: { client: opts.client, table: opts.target },
    sink,
    failures: new FailurePolicy(new FileStateStore(mkdtempSync(join(tmpdir(), 'dynashift-reverse-'))), 'halt', quiet),
    concurrency: opts.concurrency,
    stats,
  });
  return { apply, stats, close: async () => sink.close?.() };
}

/** The source item a target item stands for (what the inverse transform gives). */
export function sourceItemOf(item: AttributeMap): AttributeMap {
  const { gk: _gk, ...rest } = item;
  return rest;
}
