/**
 * `finish --delete-source`: the source is deleted only when CloudWatch shows it idle since replication stopped.
 * DynamoDB Local has no CloudWatch, so these tests use a STUBBED CloudWatch client (MetricsClient) — the deletion
 * itself is real, against DynamoDB Local.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { deleteSources } from '../../src/engine/delete-source.js';
import type { MetricsClient, TrafficPoint } from '../../src/aws/table-traffic.js';
import type { ResolvedConfig } from '../../src/config/resolved-config.js';
import type { MigrationState } from '../../src/state/migration-state.js';
import { DynashiftError } from '../../src/errors.js';
import { createTable, withDynamoDbLocal } from '../support/dynamodb-local.js';

const local = withDynamoDbLocal();
const NOW = Date.parse('2026-11-23T12:00:00Z');

function config(table: string): ResolvedConfig {
  return { sources: { source: { table, endpoint: local.endpoint, region: 'us-east-1' } } } as unknown as ResolvedConfig;
}

function finishedState(minutesAgo: number): MigrationState {
  const finishedAt = new Date(NOW - minutesAgo * 60_000).toISOString();
  return { phase: 'finished', updatedAt: finishedAt, cutover: { direction: 'none', finishedAt, history: [] } } as unknown as MigrationState;
}

/** Stubbed CloudWatch client: returns the given points and records the window it was asked for. */
function stubMetrics(points: TrafficPoint[]): MetricsClient & { asked: { table: string; start: Date; end: Date }[] } {
  const asked: { table: string; start: Date; end: Date }[] = [];
  return {
    asked,
    async consumedCapacity(table, start, end) {
      asked.push({ table, start, end });
      return points;
    },
  };
}

async function exists(table: string): Promise<boolean> {
  try {
    await local.client.send(new DescribeTableCommand({ TableName: table }));
    return true;
  } catch {
    return false;
  }
}

const opts = (metrics: MetricsClient, extra: Partial<Parameters<typeof deleteSources>[2]> = {}) => ({
  windowMinutes: 60,
  force: false,
  metrics: () => metrics,
  confirm: async () => true,
  say: () => {},
  now: () => NOW,
  ...extra,
});

test('source with traffic since finish is kept (stubbed CloudWatch client)', async () => {
  await createTable(local.client, { name: 'busy', partitionKey: { name: 'id', type: 'S' } });
  const metrics = stubMetrics([{ at: new Date(NOW - 10 * 60_000).toISOString(), readUnits: 4, writeUnits: 0 }]);
  await assert.rejects(
    deleteSources(config('busy'), finishedState(30), opts(metrics)),
    (e: DynashiftError) => e.exitCode === 2 && /still sees traffic/.test(e.message) && /--force/.test(e.hint ?? ''),
  );
  assert.ok(await exists('busy'));
  // The window starts after replication stopped (plus settling), not before: dynashift's own writes don't count.
  assert.ok(metrics.asked[0]!.start.getTime() >= NOW - 30 * 60_000);
});

test('idle source is deleted after confirmation (stubbed CloudWatch client)', async () => {
  await createTable(local.client, { name: 'idle', partitionKey: { name: 'id', type: 'S' } });
  const metrics = stubMetrics([{ at: new Date(NOW - 10 * 60_000).toISOString(), readUnits: 0, writeUnits: 0 }]);
  const deleted = await deleteSources(config('idle'), finishedState(30), opts(metrics));
  assert.deepEqual(deleted, ['idle']);
  assert.equal(await exists('idle'), false);
});

test('a declined confirmation keeps the table (stubbed CloudWatch client)', async () => {
  await createTable(local.client, { name: 'declined', partitionKey: { name: 'id', type: 'S' } });
  const deleted = await deleteSources(config('declined'), finishedState(30), opts(stubMetrics([]), { confirm: async () => false }));
  assert.deepEqual(deleted, []);
  assert.ok(await exists('declined'));
});

test('too little metric history since finish is refused, --force overrides it (stubbed CloudWatch client)', async () => {
  await createTable(local.client, { name: 'recent', partitionKey: { name: 'id', type: 'S' } });
  await assert.rejects(deleteSources(config('recent'), finishedState(3), opts(stubMetrics([]))), /too little to tell/);
  assert.ok(await exists('recent'));
  const traffic = stubMetrics([{ at: new Date(NOW).toISOString(), readUnits: 9, writeUnits: 9 }]);
  assert.deepEqual(await deleteSources(config('recent'), finishedState(3), opts(traffic, { force: true })), ['recent']);
});

test('deleting before finish is refused', async () => {
  const state = { phase: 'writes-cutover', updatedAt: new Date(NOW).toISOString() } as unknown as MigrationState;
  await assert.rejects(deleteSources(config('x'), state, opts(stubMetrics([]))), /after `dynashift finish`/);
});

test('unreadable metrics refuse deletion unless forced (stubbed CloudWatch client)', async () => {
  await createTable(local.client, { name: 'nometrics', partitionKey: { name: 'id', type: 'S' } });
  const failing: MetricsClient = {
    async consumedCapacity() {
      throw new Error('AccessDenied');
    },
  };
  await assert.rejects(deleteSources(config('nometrics'), finishedState(30), opts(failing)), /could not read CloudWatch/);
  assert.ok(await exists('nometrics'));
});
