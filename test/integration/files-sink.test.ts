/**
 * The export-format files sink: a table written as a DynamoDB-JSON export (local folder and s3rver) reads back
 * through ExportSource into a new table identical to the source; a crash before finalize loses and duplicates
 * nothing; the sink is write-once and says so.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { FilesTargetConfig as TargetConfig } from '../../src/sinks/files/files-config.js';
import { systemClock } from '../../src/core/clock.js';
import { keyId, type AttributeMap, type KeySchema } from '../../src/core/item.js';
import { backfillWrites } from '../../src/core/protocol.js';
import { RateLimiter, RateMeter } from '../../src/core/rate-limiter.js';
import { ItemMapper } from '../../src/core/transform.js';
import type { WriteOp } from '../../src/core/write-op.js';
import { DynashiftError } from '../../src/errors.js';
import { DynamoDbSink } from '../../src/sinks/dynamodb/dynamodb-sink.js';
import { filesDriver } from '../../src/sinks/files/files-driver.js';
import { FilesSink } from '../../src/sinks/files/files-sink.js';
import { exportLocation, filesSettings } from '../../src/sinks/files/files-settings.js';
import { driverFor } from '../../src/sinks/drivers.js';
import { ExportSource } from '../../src/sources/export/export-source.js';
import { ScanSource } from '../../src/sources/scan/scan-source.js';
import { createTable, withDynamoDbLocal } from '../support/dynamodb-local.js';
import { compareTables, formatDiff, isEmptyDiff, scanAll } from '../support/independent-scan.js';
import { withS3rver } from '../support/s3rver.js';
import { generateSeedItems, mulberry32, seedItems } from '../support/workload.js';

const local = withDynamoDbLocal();
const s3server = withS3rver();
const KEY: KeySchema = { partitionKey: { name: 'id', type: 'S' } };
const BUCKET = 'targets';
const SOURCE = 'files-source';
const mapper = new ItemMapper({ targets: { target: KEY }, singleTarget: 'target' });
let dir: string;

/** A files target config as the user will write it (`files` is read loosely until the schema has it). */
function target(table: string, uri: string, extra: Record<string, unknown> = {}): TargetConfig {
  return { table, kind: 'files', files: { uri, maxFileBytes: 64 * 1024, ...extra } } as unknown as TargetConfig;
}

/** The sink the driver opens, with s3rver's credentials (the config has no place for test credentials). */
function openSink(t: TargetConfig): FilesSink {
  const settings = filesSettings(t);
  if (settings.uri.startsWith('s3://')) settings.access = s3server.s3.access;
  return new FilesSink({ name: 'target', location: exportLocation(settings), keySchema: KEY, maxFileBytes: settings.maxFileBytes, concurrency: 4 });
}

/** The engine's backfill, reduced: parallel scan segments → backfillWrites → sink.write. */
async function backfillFromTable(table: string, sink: FilesSink, segments = 4): Promise<number> {
  const source = new ScanSource({
    name: 'source',
    client: local.client,
    table,
    totalSegments: segments,
    pageSize: 100,
    consistentRead: true,
    limiter: new RateLimiter(Infinity, systemClock),
    meter: new RateMeter(systemClock),
  });
  let written = 0;
  await Promise.all(
    (await source.partitions()).map(async (p) => {
      for await (const page of source.read(p, undefined)) {
        const { ops } = backfillWrites(mapper, 'source', KEY, page.items);
        const res = await sink.write(ops);
        assert.deepEqual(res.rejected, []);
        written += res.stats.written;
      }
    }),
  );
  return written;
}

async function loadInto(uri: string, table: string): Promise<void> {
  await createTable(local.client, { name: table, partitionKey: { name: 'id', type: 'S' } });
  const source = new ExportSource({ name: 'source', uri, access: s3server.s3.access });
  const sink = new DynamoDbSink({ name: 'target', client: local.client, table, concurrency: 8 });
  for (const p of await source.partitions()) {
    for await (const page of source.read(p, undefined)) await sink.write(backfillWrites(mapper, 'source', KEY, page.items).ops);
  }
}

const putOp = (item: AttributeMap, via = 'backfill'): WriteOp => ({
  kind: 'put',
  target: 'target',
  key: { id: item['id']! },
  keyId: keyId({ id: item['id']! }, KEY),
  item,
  origin: { source: 'source', sourceKey: { id: item['id']! }, via },
});

// Root-level before hooks run concurrently with each other; this suite's hooks run after them (servers are up).
describe('files sink', () => {
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dynashift-files-sink-'));
    await s3server.s3.createBucket(BUCKET);
    await createTable(local.client, { name: SOURCE, partitionKey: { name: 'id', type: 'S' } });
    await seedItems(local.client, SOURCE, 600, mulberry32(5));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  describe('round trip: files sink → export → ExportSource → new table is identical', () => {
    for (const where of ['local', 's3'] as const) {
      test(`in ${where === 'local' ? 'a local folder' : 's3rver'}, with AWS's layout and manifests`, async (t) => {
        const started = Date.now();
        const uri = where === 'local' ? join(dir, 'rt') : `s3://${BUCKET}/exports/rt`;
        const config = target(`orders-${where}`, uri);
        const driver = await driverFor(config);
        assert.equal(driver, filesDriver, 'kind "files" is registered');
        await driver.prepare('target', config, await inspect(config));
        const sink = openSink(config);
        const written = await backfillFromTable(SOURCE, sink);
        assert.equal(written, 600);
        const done = await sink.finalize();
        assert.equal(done.itemCount, 600);
        assert.ok(done.files > 1, 'data files are bounded by maxFileBytes');

        // The layout: what ImportTable and other export readers expect, and none of our staging left behind.
        const keys = await listExport(where, uri, config.table);
        for (const k of ['_started', 'manifest-summary.json', 'manifest-summary.md5', 'manifest-files.json', 'manifest-files.md5'])
          assert.ok(keys.includes(k), `${k} missing from ${keys.join(', ')}`);
        assert.equal(keys.filter((k) => k.startsWith('data/') && k.endsWith('.json.gz')).length, done.files);
        assert.ok(!keys.some((k) => k.startsWith('_dynashift')), `staging left behind: ${keys.join(', ')}`);
        const manifest = (await readExportObject(where, uri, config.table, 'manifest-files.json'))
          .toString('utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as Record<string, unknown>);
        const prefix = where === 's3' ? `exports/rt/AWSDynamoDB/${config.table}/data/` : `AWSDynamoDB/${config.table}/data/`;
        for (const m of manifest) {
          assert.ok(String(m['dataFileS3Key']).startsWith(prefix), `dataFileS3Key ${m['dataFileS3Key']} is relative to the bucket root`);
          assert.match(String(m['md5Checksum']), /^[A-Za-z0-9+/]{22}==$/);
          assert.ok(m['etag']);
        }

        await loadInto(uri, `roundtrip-${where}`);
        const diff = compareTables(await scanAll(local.client, SOURCE), await scanAll(local.client, `roundtrip-${where}`), ['id']);
        assert.ok(isEmptyDiff(diff), formatDiff(diff));

        // Verify's view of the target: partitions cover every item once; point lookups find items by key.
        const seen: string[] = [];
        for (const p of sink.readPartitions(3)) for await (const items of sink.readPartition(p)) seen.push(...items.map((i) => i['id']!.S!));
        assert.equal(seen.length, 600);
        assert.equal(new Set(seen).size, 600);
        const got = await sink.getItems([{ id: { S: 'item-000123' } }, { id: { S: 'no-such-item' } }]);
        assert.equal(got[0]?.['id']?.S, 'item-000123');
        assert.equal(got[1], undefined);
        t.diagnostic(`${where}: 600 items, ${done.files} data files, round trip ${Date.now() - started} ms`);
      });
    }
  });

  describe('crash safety', () => {
    test('a crash before finalize loses no acknowledged write and duplicates none', async () => {
      const uri = join(dir, 'crash');
      const config = target('crashed', uri);
      const items = generateSeedItems(900, mulberry32(77));
      const first = openSink(config);
      // 600 items acknowledged: some sealed into data files, the rest only in staging / the open data file.
      for (let i = 0; i < 600; i += 50) await first.write(items.slice(i, i + 50).map((item) => putOp(item)));
      // The process dies here: no finalize, no close. A half-uploaded file from a sealing cut short lies in data/.
      const folder = join(uri, 'AWSDynamoDB', 'crashed');
      await writeFile(join(folder, 'data', 'cut-short.json.gz'), gzipSync('{"Item":{"id":{"S":"ghost"}}}\n'));

      // The restarted migration opens the sink again, writes the rest (the engine re-sends the last unsaved page too).
      const second = openSink(config);
      for (let i = 550; i < 900; i += 50) await second.write(items.slice(i, i + 50).map((item) => putOp(item)));
      const done = await second.finalize();

      const source = new ExportSource({ name: 'source', uri });
      const ids: string[] = [];
      for (const p of await source.partitions()) for await (const page of source.read(p, undefined)) ids.push(...page.items.map((i) => i['id']!.S!));
      const counts = new Map<string, number>();
      for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
      assert.ok(!counts.has('ghost'), 'a data file without a part record is never listed');
      assert.deepEqual([...counts.keys()].sort(), items.map((i) => i['id']!.S!).sort(), 'every acknowledged item is in the export');
      const twice = [...counts]
        .filter(([, n]) => n > 1)
        .map(([id]) => id)
        .sort();
      assert.deepEqual(
        twice,
        items
          .slice(550, 600)
          .map((i) => i['id']!.S!)
          .sort(),
        'only the page the engine itself re-sent appears twice',
      );
      assert.equal(done.itemCount, 950);
      assert.ok(!(await readdir(folder)).includes('_dynashift'));
    });
  });

  describe('large data files', () => {
    test('a data file larger than one multipart part goes to S3 through lib-storage and reads back whole', async (t) => {
      const started = Date.now();
      const uri = `s3://${BUCKET}/exports/large`;
      const sink = openSink(target('large', uri, { maxFileBytes: 64 * 1024 * 1024 }));
      // Incompressible payloads, so the gzip file really exceeds the 8 MiB part size.
      const { randomBytes } = await import('node:crypto');
      const items: AttributeMap[] = Array.from({ length: 1200 }, (_, i) => ({
        id: { S: `big-${String(i).padStart(5, '0')}` },
        payload: { B: new Uint8Array(randomBytes(8 * 1024)) },
      }));
      for (let i = 0; i < items.length; i += 100) await sink.write(items.slice(i, i + 100).map((item) => putOp(item)));
      const done = await sink.finalize();
      assert.equal(done.files, 1);
      const { GetObjectCommand, HeadObjectCommand } = await import('@aws-sdk/client-s3');
      const manifest = await s3server.s3.client.send(
        new GetObjectCommand({ Bucket: BUCKET, Key: 'exports/large/AWSDynamoDB/large/manifest-files.json' }),
      );
      const entry = JSON.parse(await manifest.Body!.transformToString()) as { dataFileS3Key: string };
      // (s3rver gives multipart objects a plain MD5 ETag, so the size shows the upload needed several 8 MiB parts.)
      const head = await s3server.s3.client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: entry.dataFileS3Key }));
      assert.ok((head.ContentLength ?? 0) > 8 * 1024 * 1024, `data file is ${head.ContentLength} bytes`);
      const source = new ExportSource({
        name: 'source',
        uri,
        access: s3server.s3.access,
        memoryLimitBytes: 1024 * 1024,
        keepLimitBytes: 1024 * 1024,
      });
      const ids: string[] = [];
      for (const p of await source.partitions()) for await (const page of source.read(p, undefined)) ids.push(...page.items.map((i) => i['id']!.S!));
      assert.deepEqual(
        ids.sort(),
        items.map((i) => i['id']!.S!),
      );
      t.diagnostic(`1 data file of ~${Math.round((1200 * 8 * 1024 * 4) / 3 / 1024 / 1024)} MiB JSON, ${Date.now() - started} ms`);
    });
  });

  describe('write-once', () => {
    test('deletes, stream changes and writes after finalize are refused; oversized items are rejected, not dropped', async () => {
      const config = target('write-once', join(dir, 'once'));
      const sink = openSink(config);
      const [item] = generateSeedItems(1, mulberry32(3));
      const refused = (err: unknown): boolean =>
        err instanceof DynashiftError && err.code === 'CONFIG_INVALID' && /write-once/.test(err.message) && err.hint !== undefined;
      await assert.rejects(
        sink.write([
          { kind: 'delete', target: 'target', key: { id: item!['id']! }, keyId: 'x', origin: { source: 'source', sourceKey: {}, via: 'shard-1' } },
        ]),
        refused,
      );
      await assert.rejects(sink.write([putOp(item!, 'shardId-0001')]), refused);
      const huge: AttributeMap = { id: { S: 'huge' }, blob: { S: 'x'.repeat(410 * 1024) } };
      const res = await sink.write([putOp(item!), putOp(huge)]);
      assert.deepEqual(
        res.rejected.map((r) => r.error.code),
        ['ItemTooLarge'],
      );
      assert.equal(res.stats.written, 1);
      await sink.finalize();
      await sink.finalize(); // idempotent
      await assert.rejects(sink.write([putOp(item!)]), (err: unknown) => err instanceof DynashiftError && /complete/.test(err.message));
      assert.equal(sink.capabilities.writeOnce, true);
      assert.equal(sink.capabilities.conditionalWrites, false);
    });

    test('inspect tells plan it is write-once, where ImportTable should read, and what it needs', async () => {
      const config = target('planned', `s3://${BUCKET}/exports/plan`);
      const inspection = await inspect(config);
      assert.deepEqual(inspection.refusals, []);
      assert.equal((inspection.detail as { writeOnce: boolean }).writeOnce, true);
      assert.ok(inspection.describe.some((l) => /write-once/.test(l)));
      assert.ok(inspection.notes.some((n) => /S3KeyPrefix exports\/plan\/AWSDynamoDB\/planned\/data\//.test(n)));
      assert.ok(inspection.permissions.actions.includes('s3:PutObject'));
      const missing = await filesDriver.inspect('target', { table: 'x', kind: 'files' } as unknown as TargetConfig, {});
      assert.deepEqual(
        missing.refusals.map((r) => r.code),
        ['CONFIG_INVALID'],
      );
    });
  });
});

/** inspect with s3rver's endpoint and credentials for S3 URIs. */
async function inspect(config: TargetConfig) {
  const files = (config as unknown as { files: Record<string, unknown> }).files;
  if (String(files['uri']).startsWith('s3://')) {
    Object.assign(files, { endpoint: s3server.s3.endpoint });
    process.env.AWS_ACCESS_KEY_ID ??= 'S3RVER';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'S3RVER';
  }
  return filesDriver.inspect('target', config, { source: { keySchema: KEY } as never });
}

async function listExport(where: 'local' | 's3', uri: string, exportId: string): Promise<string[]> {
  if (where === 'local') {
    const root = join(uri, 'AWSDynamoDB', exportId);
    const entries = await readdir(root, { recursive: true, withFileTypes: true });
    return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath ?? (e as unknown as { path: string }).path, e.name).slice(root.length + 1));
  }
  const prefix = `exports/rt/AWSDynamoDB/${exportId}/`;
  const res = await s3server.s3.client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
  return (res.Contents ?? []).map((o) => o.Key!.slice(prefix.length));
}

async function readExportObject(where: 'local' | 's3', uri: string, exportId: string, name: string): Promise<Buffer> {
  if (where === 'local') return readFile(join(uri, 'AWSDynamoDB', exportId, name));
  const { GetObjectCommand } = await import('@aws-sdk/client-s3');
  const res = await s3server.s3.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: `exports/rt/AWSDynamoDB/${exportId}/${name}` }));
  return Buffer.from(await res.Body!.transformToByteArray());
}
