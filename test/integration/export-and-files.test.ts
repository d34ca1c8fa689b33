/**
 * The export paths through the CLI, as a user runs them against DynamoDB Local:
 * - a `files` target writes a DynamoDB-JSON export of the source (what ImportTable loads in another account);
 * - `--backfill export:<uri>` back-fills a new table from those files and catches up from the stream, under
 *   concurrent writes;
 * - `backfill.export.imported: true` (the table was loaded by ImportTable) only catches up from the stream;
 * - plan refuses an export the stream no longer covers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTable, withDynamoDbLocal } from '../support/dynamodb-local.js';
import { runCli } from '../support/cli.js';
import { compareTables, formatDiff, isEmptyDiff, scanAll } from '../support/independent-scan.js';
import { mulberry32, runWorkload, seedItems } from '../support/workload.js';
import { ExportSource } from '../../src/sources/export/index.js';
import { BatchWriteItemCommand } from '@aws-sdk/client-dynamodb';
import { createHash } from 'node:crypto';

const local = withDynamoDbLocal();
const ref = (table: string) => ({ table, endpoint: local.endpoint, region: 'us-east-1' });

function config(dir: string, body: Record<string, unknown>): string {
  const path = join(dir, `${String(body.name)}.json`);
  writeFileSync(path, JSON.stringify({ stream: { pollIntervalMs: 100, discoveryIntervalMs: 500 }, ...body }, null, 2));
  return path;
}

test('files target → export → backfill from it (round trip), then the stream catches up under concurrent writes', { timeout: 240_000 }, async () => {
  const { client } = local;
  const dir = mkdtempSync(join(tmpdir(), 'dynashift-export-'));
  await createTable(client, { name: 'orders', partitionKey: { name: 'id', type: 'S' }, streamViewType: 'NEW_AND_OLD_IMAGES' });
  await seedItems(client, 'orders', 1500, mulberry32(31));
  const exportsDir = join(dir, 'exports');

  // 1. Export-format sink: the snapshot as DynamoDB export files; no stream is involved.
  const toFiles = config(dir, {
    name: 'to-files',
    source: ref('orders'),
    target: { table: 'orders-export', kind: 'files', files: { uri: exportsDir } },
  });
  const exported = await runCli(['run', '-c', toFiles, '--no-progress'], { timeoutMs: 120_000 });
  assert.equal(exported.code, 0, exported.stderr);
  const status = JSON.parse((await runCli(['status', '--json', '-c', toFiles])).stdout);
  assert.equal(status.phase, 'exported');
  const folder = join(exportsDir, 'AWSDynamoDB', 'orders-export');
  assert.ok(readdirSync(folder).includes('manifest-summary.json'));
  const summary = JSON.parse(readFileSync(join(folder, 'manifest-summary.json'), 'utf8'));
  assert.equal(summary.itemCount, 1500);

  // 2. Writes continue on the source after the export was taken.
  const stop = new AbortController();
  const writes = runWorkload(client, 'orders', { rng: mulberry32(32), idSpace: 2000, concurrency: 2, signal: stop.signal });
  const fromExport = config(dir, {
    name: 'from-export',
    source: ref('orders'),
    target: ref('orders_copy'),
    backfill: { strategy: 'export', export: { uri: exportsDir } },
  });
  const plan = await runCli(['plan', '-c', fromExport]);
  assert.equal(plan.code, 0, plan.stderr);
  assert.match(plan.stdout, /1,500 items in \d+ file/);
  assert.match(plan.stdout, /reads no table capacity/);
  const first = await runCli(['run', '-c', fromExport, '--until-synced', '--no-progress'], { timeoutMs: 120_000 });
  assert.equal(first.code, 0, first.stderr);
  stop.abort();
  assert.ok((await writes).total > 50);
  const final = await runCli(['run', '-c', fromExport, '--until-synced', '--no-progress'], { timeoutMs: 120_000 });
  assert.equal(final.code, 0, final.stderr);
  const diff = compareTables(await scanAll(client, 'orders'), await scanAll(client, 'orders_copy'), ['id']);
  assert.ok(isEmptyDiff(diff), formatDiff(diff));

  // 3. As if ImportTable had loaded the export into a table: only the stream catch-up runs.
  await createTable(client, { name: 'orders_imported', partitionKey: { name: 'id', type: 'S' } });
  const source = new ExportSource({ name: 'source', uri: exportsDir });
  for (const partition of await source.partitions()) {
    for await (const page of source.read(partition, undefined)) {
      for (let i = 0; i < page.items.length; i += 25) {
        await client.send(
          new BatchWriteItemCommand({ RequestItems: { orders_imported: page.items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })) } }),
        );
      }
    }
  }
  const imported = config(dir, {
    name: 'imported',
    source: ref('orders'),
    target: ref('orders_imported'),
    backfill: { strategy: 'export', export: { uri: exportsDir, imported: true } },
  });
  const caughtUp = await runCli(['run', '-c', imported, '--until-synced', '--no-progress'], { timeoutMs: 120_000 });
  assert.equal(caughtUp.code, 0, caughtUp.stderr);
  const state = JSON.parse(readFileSync(join(dir, '.dynashift', 'imported', 'state.json'), 'utf8'));
  assert.equal(state.sources.source.backfill.itemsWritten, 0, 'nothing re-copied: the import already holds the items');
  const importedDiff = compareTables(await scanAll(client, 'orders'), await scanAll(client, 'orders_imported'), ['id']);
  assert.ok(isEmptyDiff(importedDiff), formatDiff(importedDiff));

  // 4. An export older than the stream's retention can't be followed: refused, not silently incomplete.
  const stale = join(dir, 'stale');
  const { cpSync } = await import('node:fs');
  cpSync(exportsDir, stale, { recursive: true });
  const staleSummary = join(stale, 'AWSDynamoDB', 'orders-export', 'manifest-summary.json');
  const old = { ...summary, exportTime: new Date(Date.now() - 30 * 3600_000).toISOString() };
  const body = JSON.stringify(old);
  writeFileSync(staleSummary, body);
  const md5 = createHash('md5').update(body).digest('base64');
  for (const ext of ['md5', 'checksum']) writeFileSync(staleSummary.replace(/\.json$/, `.${ext}`), md5);
  const refused = await runCli([
    'plan',
    '-c',
    config(dir, { name: 'stale', source: ref('orders'), target: ref('orders_stale'), backfill: { strategy: 'export', export: { uri: stale } } }),
  ]);
  assert.equal(refused.code, 2, refused.stdout + refused.stderr);
  assert.match(refused.stderr, /STREAM_NEWER_THAN_EXPORT|BACKFILL_EXCEEDS_RETENTION/);
});

test('--backfill export:<uri> on the command line overrides the config', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dynashift-export-'));
  const cfg = config(dir, { name: 'flag', source: ref('orders'), target: ref('orders_flag') });
  const r = await runCli(['plan', '-c', cfg, '--backfill', 'export:/definitely/not/here']);
  assert.equal(r.code, 2);
  assert.match(r.stdout + r.stderr, /export \/definitely\/not\/here/);
});
