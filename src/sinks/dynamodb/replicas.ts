import { DescribeTableCommand, UpdateTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynashiftError } from '../../errors.js';
import { sleep } from '../../core/backoff.js';
import type { TableSpec } from './table-spec.js';

/**
 * Turns a freshly created (empty) table into a Global Table.
 * - EVENTUAL: one UpdateTable per Region, each waited for, as AWS recommends for replica changes.
 * - STRONG (multi-Region strong consistency): all Regions — two replicas, or one replica and a witness — in one
 *   UpdateTable with MultiRegionConsistency STRONG, which AWS accepts only while the table is empty.
 * Returns when every replica is ACTIVE.
 */
export async function addReplicas(
  client: DynamoDBClient,
  table: string,
  replicas: NonNullable<TableSpec['replicas']>,
  opts: { pollMs?: number; timeoutMs?: number } = {},
): Promise<void> {
  const existing = new Set((await describe(client, table)).Replicas?.map((r) => r.RegionName!) ?? []);
  const missing = replicas.regions.filter((r) => !existing.has(r));
  if (missing.length === 0) return waitForReplicas(client, table, replicas.regions, opts); // a resumed run
  if (replicas.consistency === 'STRONG') {
    await client.send(
      new UpdateTableCommand({
        TableName: table,
        ReplicaUpdates: missing.map((RegionName) => ({ Create: { RegionName } })),
        ...(replicas.witnessRegion ? { GlobalTableWitnessUpdates: [{ Create: { RegionName: replicas.witnessRegion } }] } : {}),
        MultiRegionConsistency: 'STRONG',
      }),
    );
    return waitForReplicas(client, table, replicas.regions, opts);
  }
  for (const RegionName of missing) {
    await client.send(new UpdateTableCommand({ TableName: table, ReplicaUpdates: [{ Create: { RegionName } }] }));
    await waitForReplicas(client, table, [RegionName], opts);
  }
}

async function waitForReplicas(
  client: DynamoDBClient,
  table: string,
  regions: string[],
  opts: { pollMs?: number; timeoutMs?: number },
): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 60 * 60_000);
  for (;;) {
    const desc = await describe(client, table);
    const status = new Map((desc.Replicas ?? []).map((r) => [r.RegionName!, r.ReplicaStatus]));
    const failed = regions.filter((r) => ['CREATION_FAILED', 'INACCESSIBLE_ENCRYPTION_CREDENTIALS', 'REGION_DISABLED'].includes(status.get(r) ?? ''));
    if (failed.length > 0) {
      throw new DynashiftError('AWS_ERROR', `replica creation failed in ${failed.map((r) => `${r} (${status.get(r)})`).join(', ')}`, {
        hint: 'check the Region is enabled for the account and supports the table settings, then rerun',
      });
    }
    if (desc.TableStatus === 'ACTIVE' && regions.every((r) => status.get(r) === 'ACTIVE')) return;
    if (Date.now() > deadline) {
      throw new DynashiftError(
        'AWS_ERROR',
        `replicas of ${table} not ACTIVE in time: ${regions.map((r) => `${r}=${status.get(r) ?? 'missing'}`).join(', ')}`,
        {
          hint: 'rerun the same command: it waits for the replicas again',
        },
      );
    }
    await sleep(opts.pollMs ?? 10_000);
  }
}

async function describe(client: DynamoDBClient, table: string) {
  const res = await client.send(new DescribeTableCommand({ TableName: table }));
  return res.Table!;
}
