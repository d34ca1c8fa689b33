/**
 * Back-filling from DynamoDB's native export files. The exports are written here by a small builder that follows
 * AWS's layout (AWSDynamoDB/<ExportId>/ with _started, data/*.json.gz or *.ion.gz, manifest-files.json with
 * bucket-relative keys and base64 MD5s of the gzip bytes, manifest-summary.json, .md5 files), independently of the
 * code under test, in a local folder and in s3rver. Targets are compared item by item with the independent scanner.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { AttributeMap, KeySchema } from '../../src/core/item.js';
import { backfillWrites, changeWrites } from '../../src/core/protocol.js';
import { ItemMapper } from '../../src/core/transform.js';
import { DynashiftError } from '../../src/errors.js';
import { DynamoDbSink } from '../../src/sinks/dynamodb/dynamodb-sink.js';
import { ExportSource } from '../../src/sources/export/export-source.js';
import { IncrementalExports } from '../../src/sources/export/incremental.js';
import type { BackfillCursor } from '../../src/sources/source.js';
import { createTable, withDynamoDbLocal } from '../support/dynamodb-local.js';
import { compareTables, formatDiff, isEmptyDiff, scanAll } from '../support/independent-scan.js';
import { withS3rver } from '../support/s3rver.js';
import { generateSeedItems, makeItem, mulberry32 } from '../support/workload.js';

const local = withDynamoDbLocal();
const s3server = withS3rver();
const KEY: KeySchema = { partitionKey: { name: 'id', type: 'S' } };
const BUCKET = 'exports';
let dir: string;

// ---------------------------------------------------------------------------------------------------------------
// The export builder: AWS's layout, written without any code from src/.

type Put = (key: string, body: Buffer) => Promise<void>;
type Format = 'DYNAMODB_JSON' | 'ION';

interface Line {
  Item?: AttributeMap;
  Keys?: AttributeMap;
  OldImage?: AttributeMap;
  NewImage?: AttributeMap;
  micros?: bigint;
}

interface BuildOptions {
  /** Key prefix the export was requested with ('' for the bucket root). */
  prefix: string;
  format: Format;
  /** Data files, each a list of lines. */
  files: Line[][];
  incremental?: { from: string; to: string };
  exportTime?: string;
  /** Manifest itemCount adjustments per file index (to build a manifest that disagrees with its file). */
  countSkew?: Record<number, number>;
}

const localPut =
  (root: string): Put =>
  async (key, body) => {
    await mkdir(dirname(join(root, key)), { recursive: true });
    await writeFile(join(root, key), body);
  };
const s3Put = (): Put => async (key, body) => {
  await s3server.s3.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
};

/** Writes an export; returns its folder key (relative to the bucket root) and the data file keys. */
async function buildExport(put: Put, opts: BuildOptions): Promise<{ folder: string; dataKeys: string[]; exportId: string }> {
  const exportId = `${String(Date.now()).padStart(14, '0')}-${randomBytes(4).toString('hex')}`;
  const folder = `${opts.prefix ? `${opts.prefix}/` : ''}AWSDynamoDB/${exportId}/`;
  await put(`${folder}_started`, Buffer.alloc(0));
  const manifest: string[] = [];
  const dataKeys: string[] = [];
  let total = 0;
  for (const [i, lines] of opts.files.entries()) {
    const text = lines.map((l) => (opts.format === 'ION' ? ionLine(l) : jsonLine(l))).join('\n') + (lines.length ? '\n' : '');
    const gz = gzipSync(Buffer.from(text));
    const key = `${folder}data/${randomBytes(13).toString('hex').slice(0, 26)}${opts.format === 'ION' ? '.ion.gz' : '.json.gz'}`;
    await put(key, gz);
    dataKeys.push(key);
    const itemCount = lines.length + (opts.countSkew?.[i] ?? 0);
    total += itemCount;
    const md5 = createHash('md5').update(gz).digest();
    manifest.push(
      JSON.stringify({
        itemCount,
        md5Checksum: md5.toString('base64'),
        etag: `${createHash('md5').update(md5).digest('hex')}-1`,
        dataFileS3Key: key,
      }),
    );
  }
  const filesText = manifest.join('\n') + '\n';
  await put(`${folder}manifest-files.json`, Buffer.from(filesText));
  await put(`${folder}manifest-files.md5`, Buffer.from(createHash('md5').update(filesText).digest('base64')));
  const now = new Date().toISOString();
  const summary = JSON.stringify({
    version: '2020-06-30',
    exportArn: `arn:aws:dynamodb:us-east-1:123456789012:table/Source/export/${exportId}`,
    startTime: now,
    endTime: now,
    tableArn: 'arn:aws:dynamodb:us-east-1:123456789012:table/Source',
    tableId: '12345a12-abcd-123a-ab12-1234abc12345',
    exportTime: opts.exportTime ?? opts.incremental?.to ?? now,
    s3Bucket: BUCKET,
    s3Prefix: opts.prefix || null,
    s3SseAlgorithm: 'AES256',
    s3SseKmsKeyId: null,
    manifestFilesS3Key: `${folder}manifest-files.json`,
    billedSizeBytes: 0,
    itemCount: total,
    outputFormat: opts.format,
    ...(opts.incremental
      ? {
          exportType: 'INCREMENTAL_EXPORT',
          exportFromTime: opts.incremental.from,
          exportToTime: opts.incremental.to,
          outputView: 'NEW_AND_OLD_IMAGES',
        }
      : { exportType: 'FULL_EXPORT' }),
  });
  await put(`${folder}manifest-summary.json`, Buffer.from(summary));
  await put(`${folder}manifest-summary.md5`, Buffer.from(createHash('md5').update(summary).digest('base64')));
  return { folder, dataKeys, exportId };
}

function jsonLine(l: Line): string {
  const b64 = (_k: string, v: unknown): unknown => (v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v);
  if (l.Item) return JSON.stringify({ Item: l.Item }, b64);
  return JSON.stringify(
    {
      Metadata: { WriteTimestampMicros: { N: String(l.micros ?? 0n) } },
      Keys: l.Keys,
      ...(l.OldImage ? { OldImage: l.OldImage } : {}),
      ...(l.NewImage ? { NewImage: l.NewImage } : {}),
    },
    b64,
  );
}

function ionLine(l: Line): string {
  if (l.Item) return `$ion_1_0 {Item:${ionMap(l.Item)}}`;
  const parts = [`Metadata:{WriteTimestampMicros:${l.micros ?? 0n}.}`, `Keys:${ionMap(l.Keys!)}`];
  if (l.OldImage) parts.push(`OldImage:${ionMap(l.OldImage)}`);
  if (l.NewImage) parts.push(`NewImage:${ionMap(l.NewImage)}`);
  return `$ion_1_0 {${parts.join(',')}}`;
}

function ionMap(m: AttributeMap): string {
  return `{${Object.entries(m)
    .map(([k, v]) => `'${k.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}':${ionValue(v)}`)
    .join(',')}}`;
}

function ionValue(v: AttributeValue): string {
  if (v.S !== undefined) return JSON.stringify(v.S);
  if (v.N !== undefined) return ionDecimal(v.N);
  if (v.B !== undefined) return `{{${Buffer.from(v.B).toString('base64')}}}`;
  if (v.BOOL !== undefined) return v.BOOL ? 'true' : 'false';
  if (v.NULL !== undefined) return 'null';
  if (v.SS !== undefined) return `$dynamodb_SS::[${v.SS.map((s) => JSON.stringify(s)).join(',')}]`;
  if (v.NS !== undefined) return `$dynamodb_NS::[${v.NS.map(ionDecimal).join(',')}]`;
  if (v.BS !== undefined) return `$dynamodb_BS::[${v.BS.map((b) => `{{${Buffer.from(b).toString('base64')}}}`).join(',')}]`;
  if (v.L !== undefined) return `[${v.L.map(ionValue).join(',')}]`;
  if (v.M !== undefined) return ionMap(v.M);
  throw new Error(`unsupported value ${JSON.stringify(v)}`);
}

/** DynamoDB number text → Ion decimal: `5` → `5.`, `1.5E-37` → `1.5d-37` (AWS writes `103.`, `6d2`). */
function ionDecimal(n: string): string {
  const [mantissa, exponent] = n.split(/[eE]/) as [string, string | undefined];
  const m = mantissa.includes('.') ? mantissa : `${mantissa}.`;
  return exponent === undefined ? m : `${m}d${exponent}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Back-filling with the modules the engine will wire: ExportSource pages → backfillWrites → DynamoDbSink.

const mapper = new ItemMapper({ targets: { target: KEY }, singleTarget: 'target' });

function sinkFor(table: string): DynamoDbSink {
  return new DynamoDbSink({ name: 'target', client: local.client, table, concurrency: 8 });
}

async function applyPage(sink: DynamoDbSink, items: AttributeMap[]): Promise<void> {
  const { ops, failures } = backfillWrites(mapper, 'source', KEY, items);
  assert.deepEqual(failures, []);
  const { rejected } = await sink.write(ops);
  assert.deepEqual(rejected, []);
}

async function backfillAll(source: ExportSource, table: string, partitions?: string[]): Promise<number> {
  const sink = sinkFor(table);
  let n = 0;
  for (const p of partitions ?? (await source.partitions())) {
    for await (const page of source.read(p, undefined)) {
      await applyPage(sink, page.items);
      n += page.items.length;
    }
  }
  return n;
}

async function newTable(name: string): Promise<string> {
  await createTable(local.client, { name, partitionKey: { name: 'id', type: 'S' } });
  return name;
}

async function assertTableEquals(table: string, expected: AttributeMap[]): Promise<void> {
  const diff = compareTables(expected, await scanAll(local.client, table), ['id']);
  assert.ok(isEmptyDiff(diff), formatDiff(diff));
}

const split = <T>(xs: T[], parts: number): T[][] => Array.from({ length: parts }, (_, i) => xs.filter((_, j) => j % parts === i));

// Root-level before hooks run concurrently with each other; this suite's hooks run after them (servers are up).
describe('export source', () => {
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dynashift-export-src-'));
    await s3server.s3.createBucket(BUCKET);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  describe('a full export back-fills a table item by item with 0 differences', () => {
    const items = generateSeedItems(400, mulberry32(11));
    // One empty file: AWS writes those for empty partitions.
    const files = [...split(items, 3).map((f) => f.map((Item) => ({ Item }))), []];

    for (const where of ['local', 's3'] as const) {
      for (const format of ['DYNAMODB_JSON', 'ION'] as const) {
        test(`${format} in ${where === 'local' ? 'a local folder' : 's3rver'}`, async (t) => {
          const started = Date.now();
          const prefix = `full/${format.toLowerCase()}`;
          const put = where === 'local' ? localPut(dir) : s3Put();
          await buildExport(put, { prefix, format, files });
          // The prefix the export was requested with: it holds exactly one AWSDynamoDB/<id>/.
          const uri = where === 'local' ? `export:${join(dir, prefix)}` : `export:s3://${BUCKET}/${prefix}`;
          const source = new ExportSource({
            name: 'source',
            uri,
            access: s3server.s3.access,
            // S3 objects go through the spool-to-disk path; ION files through the streamed second pass.
            ...(where === 's3' ? { memoryLimitBytes: 0 } : {}),
            ...(format === 'ION' ? { keepLimitBytes: 16 * 1024 } : {}),
          });
          const d = await source.describe();
          assert.equal(d.itemCount, items.length);
          assert.equal(d.format, format);
          assert.equal((await source.partitions()).length, 4);
          const table = await newTable(`full-${where}-${format.toLowerCase()}`);
          assert.equal(await backfillAll(source, table), items.length);
          await assertTableEquals(table, items);
          t.diagnostic(`${items.length} items from ${format} in ${where}: ${Date.now() - started} ms`);
        });
      }
    }
  });

  describe('damaged exports stop with a typed error before any item of the bad file is applied', () => {
    test('a corrupted data file and a file whose count disagrees with the manifest', async () => {
      const items = generateSeedItems(300, mulberry32(21));
      const [good, corrupt, skewed] = split(items, 3).map((f) => f.map((Item) => ({ Item })));
      const { dataKeys } = await buildExport(localPut(dir), {
        prefix: 'damaged',
        format: 'DYNAMODB_JSON',
        files: [good!, corrupt!, skewed!],
        countSkew: { 2: 1 },
      });
      // Flip bytes in the middle of the second file, as a bad copy would.
      const path = join(dir, dataKeys[1]!);
      const bytes = await readFile(path);
      for (let i = Math.floor(bytes.length / 2); i < Math.floor(bytes.length / 2) + 8; i++) bytes[i] = bytes[i]! ^ 0x5a;
      await writeFile(path, bytes);

      const source = new ExportSource({ name: 'source', uri: join(dir, 'damaged') });
      const table = await newTable('damaged');
      const partitions = await source.partitions();
      const outcomes: string[] = [];
      for (const p of partitions) {
        try {
          await backfillAll(source, table, [p]);
          outcomes.push('ok');
        } catch (err) {
          assert.ok(err instanceof DynashiftError, String(err));
          assert.match(err.message, new RegExp(p.replace(/[.]/g, '\\.')));
          assert.ok(err.hint);
          outcomes.push(String(err.details?.['reason']));
        }
      }
      assert.deepEqual(outcomes, ['ok', 'checksum-mismatch', 'count-mismatch']);
      // Exactly the good file's items: nothing from either bad file.
      await assertTableEquals(
        table,
        good!.map((l) => l.Item!),
      );
    });
  });

  describe('resuming from a cursor', () => {
    test('a partition restarted mid-file applies exactly the records after the cursor', async () => {
      const items = generateSeedItems(250, mulberry32(31));
      await buildExport(s3Put(), { prefix: 'resume', format: 'ION', files: [items.map((Item) => ({ Item }))] });
      const uri = `s3://${BUCKET}/resume`;
      const table = await newTable('resume');
      const sink = sinkFor(table);

      // First run: three pages of 40, then the process "dies"; the engine saved the cursor of the last applied page.
      const first = new ExportSource({ name: 'source', uri, access: s3server.s3.access, pageSize: 40 });
      const [partition] = await first.partitions();
      let cursor: BackfillCursor | undefined;
      let pages = 0;
      for await (const page of first.read(partition!, undefined)) {
        await applyPage(sink, page.items);
        cursor = page.cursor;
        if (++pages === 3) break;
      }
      assert.deepEqual(cursor, { line: 120 });

      // Second run, a fresh source: it re-verifies the file, then hands out records 120… only.
      const second = new ExportSource({ name: 'source', uri, access: s3server.s3.access, pageSize: 40 });
      const resumed: string[] = [];
      let last: BackfillCursor | undefined = cursor;
      for await (const page of second.read(partition!, cursor)) {
        resumed.push(...page.items.map((i) => i['id']!.S!));
        await applyPage(sink, page.items);
        last = page.cursor;
      }
      assert.equal(last, undefined, 'the final page ends the partition');
      assert.deepEqual(
        resumed,
        items.slice(120).map((i) => i['id']!.S!),
      );
      await assertTableEquals(table, items);
    });
  });

  describe('incremental exports', () => {
    test('applied after a full export in exportFromTime order, they converge to the final state (deletes included)', async () => {
      const rng = mulberry32(41);
      const seed = generateSeedItems(200, rng);
      const model = new Map(seed.map((i) => [i['id']!.S!, i]));
      const t0 = Date.parse('2026-11-01T10:00:00Z');
      const iso = (ms: number): string => new Date(ms).toISOString();
      await buildExport(localPut(dir), {
        prefix: 'chain/full',
        format: 'DYNAMODB_JSON',
        files: split(seed, 2).map((f) => f.map((Item) => ({ Item }))),
        exportTime: iso(t0),
      });

      // Each window holds the final state per changed key (AWS compacts them): update, insert, delete.
      const window = (from: number, ids: number[], micros: bigint): Line[] =>
        ids.map((n) => {
          const id = `item-${String(n).padStart(6, '0')}`;
          const before = model.get(id);
          const after = rng() < 0.3 && before ? undefined : makeItem(id, rng);
          if (after) model.set(id, after);
          else model.delete(id);
          return {
            Keys: { id: { S: id } },
            ...(before ? { OldImage: before } : {}),
            ...(after ? { NewImage: after } : {}),
            micros: micros + BigInt(n),
          };
        });
      const first = window(
        t0,
        [...Array(60).keys()].map((i) => i * 4),
        BigInt(t0) * 1000n,
      );
      const second = window(t0 + 3600_000, [...Array(60).keys()].map((i) => i * 5 + 1).concat([250, 251, 0, 4]), BigInt(t0 + 3600_000) * 1000n);
      await buildExport(localPut(dir), {
        prefix: 'chain/inc2',
        format: 'ION',
        files: split(second, 2),
        incremental: { from: iso(t0 + 3600_000), to: iso(t0 + 7200_000) },
      });
      await buildExport(localPut(dir), {
        prefix: 'chain/inc1',
        format: 'DYNAMODB_JSON',
        files: split(first, 3),
        incremental: { from: iso(t0 - 300_000), to: iso(t0 + 3600_000) },
      });

      const table = await newTable('incremental');
      await backfillAll(new ExportSource({ name: 'source', uri: join(dir, 'chain/full') }), table);
      // Listed out of order on purpose: the chain is sorted by exportFromTime.
      const chain = await IncrementalExports.open([join(dir, 'chain/inc2'), join(dir, 'chain/inc1')], {
        source: 'source',
        startNoLaterThan: t0 - 300_000,
        pageSize: 25,
      });
      assert.deepEqual(
        chain.exports.map((e) => e.exportFromTime),
        [t0 - 300_000, t0 + 3600_000],
      );
      const sink = sinkFor(table);
      let records = 0;
      let lastCursor: unknown = 'unset';
      for await (const { page, cursor } of chain.pages()) {
        const { ops, failures } = changeWrites(mapper, page);
        assert.deepEqual(failures, []);
        await sink.write(ops);
        records += page.records.length;
        lastCursor = cursor;
      }
      assert.equal(records, first.length + second.length);
      assert.equal(lastCursor, undefined);
      await assertTableEquals(table, [...model.values()]);
    });

    test('a chain that starts after the full export, or an incremental export given as a backfill, is refused', async () => {
      const t0 = Date.parse('2026-11-02T10:00:00Z');
      await buildExport(localPut(dir), {
        prefix: 'late/inc',
        format: 'DYNAMODB_JSON',
        files: [[]],
        incremental: { from: new Date(t0 + 60_000).toISOString(), to: new Date(t0 + 3600_000).toISOString() },
      });
      await assert.rejects(
        IncrementalExports.open([join(dir, 'late/inc')], { source: 'source', startNoLaterThan: t0 }),
        (err: unknown) => err instanceof DynashiftError && err.details?.['reason'] === 'chain-gap',
      );
      await assert.rejects(
        new ExportSource({ name: 'source', uri: join(dir, 'late/inc') }).partitions(),
        (err: unknown) => err instanceof DynashiftError && err.details?.['reason'] === 'wrong-type' && err.exitCode === 2,
      );
    });
  });
});
