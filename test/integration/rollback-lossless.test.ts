/**
 * Rollback after `cutover writes` must not lose items whose target key moved shortly before `run` (issue 18, defect 1).
 *
 * Such an item's history is replayed by the forward catch-up after the backfill already wrote its newest version, so
 * the target's stream holds (backfill) INSERT new-key, then (catch-up) INSERT old-key and REMOVE old-key. Reverse
 * replication that started at the target stream's TRIM_HORIZON replayed those into the source: a MODIFY back to the
 * old value, then a REMOVE; rollback forwarded the REMOVE and the item was gone from both tables.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutItemCommand, UpdateItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createTable, withDynamoDbLocal } from '../support/dynamodb-local.js';
import { runCli, spawnCli } from '../support/cli.js';
import { command, waitForStatus } from '../support/control.js';
import { compareTables, formatDiff, isEmptyDiff, scanAll } from '../support/independent-scan.js';
import { mulberry32, seedItems } from '../support/workload.js';
import { writeLifecycleMigration } from '../support/lifecycle-migration.js';

// A patient start: DynamoDB Local's JVM can take minutes to answer on a loaded machine.
const local = withDynamoDbLocal({ startTimeoutMs: 180_000 });

const MOVED = ['moved-0', 'moved-1', 'moved-2', 'moved-3', 'moved-4'];

test('rollback after cutover writes keeps items whose target key moved just before run, in both tables', { timeout: 420_000 }, async () => {
  const { client, endpoint } = local;
  const dir = mkdtempSync(join(tmpdir(), 'dynashift-rollback-'));
  await createTable(client, { name: 'orders', partitionKey: { name: 'id', type: 'S' }, streamViewType: 'NEW_AND_OLD_IMAGES' });
  // The moved items' INSERT and MODIFY records land in different GetRecords pages (1,000 records apart), so the
  // catch-up can't compact them away.
  for (const id of MOVED) await client.send(new PutItemCommand({ TableName: 'orders', Item: { id: { S: id }, grp: { S: 'alpha' }, v: { N: '1' } } }));
  await seedItems(client, 'orders', 1000, mulberry32(31));
  for (const id of MOVED) {
    await client.send(
      new UpdateItemCommand({
        TableName: 'orders',
        Key: { id: { S: id } },
        UpdateExpression: 'SET grp = :g',
        ExpressionAttributeValues: { ':g': { S: 'bravo' } },
      }),
    );
  }
  const cfg = writeLifecycleMigration(dir, { name: 'rollback', endpoint });

  const runner = spawnCli(['run', '-c', cfg, '--no-progress']);
  try {
    const t0 = Date.now();
    const mark = (what: string) => console.log(`# ${what} after ${Date.now() - t0} ms`);
    await waitForStatus(cfg, (s) => s.phase === 'in-sync' && s.safeToCutOver === true, 300_000);
    mark('in sync');
    await command(cfg, 'cutover', 'reads');
    await command(cfg, 'cutover', 'writes', '--quiet-seconds', '1');
    mark('cutover writes');
    await waitForStatus(cfg, (s) => s.direction === 'reverse' && !s.draining, 60_000);
    mark('reverse');
    await command(cfg, 'rollback', '--quiet-seconds', '1');
    await waitForStatus(cfg, (s) => s.direction === 'forward' && !s.draining, 60_000);
    mark('forward again');
    await sleep(1500); // let forward apply whatever reverse wrote to the source

    const source = await scanAll(client, 'orders');
    assert.equal(source.length, 1005, 'no source item may be lost');
    for (const id of MOVED) {
      const item = source.find((i) => i.id!.S === id);
      assert.equal(item?.grp?.S, 'bravo', `${id} keeps its latest version in the source`);
    }
    const diff = await compareForward(client);
    assert.ok(isEmptyDiff(diff), formatDiff(diff));
    const verify = await runCli(['verify', '-c', cfg], { timeoutMs: 120_000 });
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    mark('verified');
  } finally {
    runner.kill('SIGTERM');
    await runner.result;
  }
});

async function compareForward(client: DynamoDBClient) {
  const expected = (await scanAll(client, 'orders')).map((i) => ({ ...i, gk: i.grp! }));
  return compareTables(expected, await scanAll(client, 'orders_v2'), ['gk', 'id']);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
