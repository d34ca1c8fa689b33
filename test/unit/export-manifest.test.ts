/**
 * Export manifests and integrity checks: parsing both manifests, mapping dataFileS3Key onto the export folder,
 * locating an export under a prefix, and refusing (with a typed error, before any item) a file whose MD5 or item
 * count doesn't match the manifest, or manifests that disagree.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { DynashiftError } from '../../src/errors.js';
import { DecodePool } from '../../src/formats/ddb-export/decode-pool.js';
import { readExportFile } from '../../src/formats/ddb-export/export-file-reader.js';
import { LocalStore } from '../../src/formats/ddb-export/export-store.js';
import { checkChain, toChangeRecord } from '../../src/sources/export/incremental.js';
import { loadExport } from '../../src/formats/ddb-export/locate-export.js';
import {
  checksumMatches,
  md5,
  parseManifestFiles,
  parseSummary,
  relativeDataKey,
  singlePartMultipartEtag,
} from '../../src/formats/ddb-export/manifest.js';
import { exportStreamRefusals, streamLabelFromArn, streamLabelTime } from '../../src/sources/export/plan-checks.js';
import type { ExportDescription } from '../../src/sources/export/export-source.js';

const ID = '01700000000000-abcd1234';
const reason =
  (r: string) =>
  (err: unknown): boolean => {
    assert.ok(err instanceof DynashiftError, `expected a DynashiftError, got ${String(err)}`);
    assert.equal(err.details?.['reason'], r, err.message);
    assert.ok(err.hint, 'every refusal carries a hint');
    return true;
  };

describe('manifest parsing', () => {
  test('manifest-summary.json: the AWS example, defaults for older summaries without exportType', () => {
    const s = parseSummary(
      JSON.stringify({
        version: '2020-06-30',
        exportArn: 'arn:aws:dynamodb:us-east-1:123456789012:table/ProductCatalog/export/01234567890123-a1b2c3d4',
        startTime: '2020-11-04T07:28:34.028Z',
        endTime: '2020-11-04T07:33:43.897Z',
        tableArn: 'arn:aws:dynamodb:us-east-1:123456789012:table/ProductCatalog',
        tableId: '12345a12-abcd-123a-ab12-1234abc12345',
        exportTime: '2020-11-04T07:28:34.028Z',
        s3Bucket: 'ddb-productcatalog-export',
        s3Prefix: '2020-Nov',
        s3SseAlgorithm: 'AES256',
        s3SseKmsKeyId: null,
        manifestFilesS3Key: 'AWSDynamoDB/01345678901234-abc12345/manifest-files.json',
        billedSizeBytes: 0,
        itemCount: 8,
        outputFormat: 'DYNAMODB_JSON',
      }),
      'summary',
    );
    assert.equal(s.itemCount, 8);
    assert.equal(s.exportType, 'FULL_EXPORT');
    assert.equal(s.outputFormat, 'DYNAMODB_JSON');
    assert.equal(s.s3Prefix, '2020-Nov');
  });

  test('an incremental summary needs its window', () => {
    assert.throws(
      () => parseSummary(JSON.stringify({ exportTime: '2024-01-01T00:00:00Z', itemCount: 1, exportType: 'INCREMENTAL_EXPORT' }), 's'),
      reason('manifest-invalid'),
    );
    const s = parseSummary(
      JSON.stringify({
        exportTime: '2024-01-01T01:00:00Z',
        itemCount: 1,
        exportType: 'INCREMENTAL_EXPORT',
        exportFromTime: '2024-01-01T00:00:00Z',
        exportToTime: '2024-01-01T01:00:00Z',
        outputView: 'NEW_AND_OLD_IMAGES',
      }),
      's',
    );
    assert.equal(s.exportFromTime, '2024-01-01T00:00:00Z');
  });

  test('summaries with an unknown format, a missing item count or no time are refused', () => {
    assert.throws(() => parseSummary('{"exportTime":"2024-01-01T00:00:00Z","itemCount":1,"outputFormat":"CSV"}', 's'), reason('manifest-invalid'));
    assert.throws(() => parseSummary('{"exportTime":"2024-01-01T00:00:00Z"}', 's'), reason('manifest-invalid'));
    assert.throws(() => parseSummary('{"itemCount":1}', 's'), reason('manifest-invalid'));
    assert.throws(() => parseSummary('not json', 's'), reason('manifest-invalid'));
  });

  test('manifest-files.json: JSON lines, keys mapped onto the export folder whatever the original prefix', () => {
    const text =
      [
        { itemCount: 8, md5Checksum: 'sQMSpEILNgoQmarvDFonGQ==', etag: 'af4b8c-1', dataFileS3Key: `2020-Nov/AWSDynamoDB/${ID}/data/abc.json.gz` },
        { itemCount: 0, md5Checksum: '1B2M2Y8AsgTpgAmY7PhCfg==', etag: 'x-1', dataFileS3Key: `AWSDynamoDB/${ID}/data/empty.json.gz` },
      ]
        .map((l) => JSON.stringify(l))
        .join('\n') + '\n';
    const files = parseManifestFiles(text, 'm', ID);
    assert.deepEqual(
      files.map((f) => f.relativeKey),
      ['data/abc.json.gz', 'data/empty.json.gz'],
    );
    assert.equal(files[0]!.md5Checksum, 'sQMSpEILNgoQmarvDFonGQ==');
  });

  test('a key of another export, a path escaping the folder, a duplicate or a missing count is refused', () => {
    assert.throws(() => relativeDataKey('AWSDynamoDB/other-id/data/x.json.gz', ID), reason('manifest-invalid'));
    assert.throws(() => relativeDataKey(`AWSDynamoDB/${ID}/../x.json.gz`, ID), reason('manifest-invalid'));
    const line = JSON.stringify({ itemCount: 1, dataFileS3Key: `AWSDynamoDB/${ID}/data/a.json.gz` });
    assert.throws(() => parseManifestFiles(`${line}\n${line}\n`, 'm', ID), reason('manifest-invalid'));
    assert.throws(() => parseManifestFiles(JSON.stringify({ dataFileS3Key: 'data/a.json.gz' }), 'm', ID), reason('manifest-invalid'));
  });

  test('checksums: base64 (AWS) or hex; the single-part multipart ETag', () => {
    const digest = md5(Buffer.from('hello'));
    assert.ok(checksumMatches('XUFAKrxLKna5cZ2REBfFkg==', digest));
    assert.ok(checksumMatches('5d41402abc4b2a76b9719d911017c592', digest));
    assert.ok(!checksumMatches('XUFAKrxLKna5cZ2REBfFkA==', digest));
    assert.match(singlePartMultipartEtag(digest), /^[0-9a-f]{32}-1$/);
  });
});

describe('export folders on disk', () => {
  let dir: string;
  const pool = new DecodePool(0); // in-thread: these tests are about the checks, not the threads
  const lines = (n: number, from = 0): string =>
    Array.from({ length: n }, (_, i) => JSON.stringify({ Item: { id: { S: `i${from + i}` } } })).join('\n') + '\n';

  async function writeExport(
    root: string,
    files: { name: string; body: Buffer; itemCount?: number; md5?: string }[],
    summaryCount?: number,
  ): Promise<string> {
    const folder = join(root, 'AWSDynamoDB', ID);
    await mkdir(join(folder, 'data'), { recursive: true });
    const manifest: string[] = [];
    let total = 0;
    for (const f of files) {
      await writeFile(join(folder, 'data', f.name), f.body);
      const count = f.itemCount ?? 0;
      total += count;
      manifest.push(
        JSON.stringify({
          itemCount: count,
          md5Checksum: f.md5 ?? createHash('md5').update(f.body).digest('base64'),
          etag: 'e-1',
          dataFileS3Key: `AWSDynamoDB/${ID}/data/${f.name}`,
        }),
      );
    }
    const filesText = manifest.join('\n') + '\n';
    await writeFile(join(folder, 'manifest-files.json'), filesText);
    await writeFile(join(folder, 'manifest-files.md5'), createHash('md5').update(filesText).digest('base64'));
    await writeFile(
      join(folder, 'manifest-summary.json'),
      JSON.stringify({
        exportTime: '2024-01-01T00:00:00.000Z',
        itemCount: summaryCount ?? total,
        outputFormat: 'DYNAMODB_JSON',
        manifestFilesS3Key: `AWSDynamoDB/${ID}/manifest-files.json`,
      }),
    );
    await writeFile(join(root, 'AWSDynamoDB', ID, '_started'), '');
    return folder;
  }

  const read = async (folder: string, entryIndex: number, fromLine = 0, keepLimitBytes = 1 << 20) => {
    const loaded = await loadExport(folder);
    const ids: string[] = [];
    for await (const page of readExportFile({
      store: new LocalStore(folder),
      entry: loaded.files[entryIndex]!,
      format: 'DYNAMODB_JSON',
      mode: 'item',
      fromLine,
      pageSize: 7,
      pool,
      keepLimitBytes,
      memoryLimitBytes: 0,
    })) {
      ids.push(...page.records.map((r) => r.Item!['id']!.S!));
    }
    return ids;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dynashift-manifest-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('an export is found from its folder, from the prefix above it, and from AWSDynamoDB/', async () => {
    const root = join(dir, 'find');
    const folder = await writeExport(root, [{ name: 'a.json.gz', body: gzipSync(lines(3)), itemCount: 3 }]);
    for (const uri of [folder, root, join(root, 'AWSDynamoDB'), `export:${root}`]) {
      const loaded = await loadExport(uri);
      assert.equal(loaded.exportId, ID);
      assert.equal(loaded.files.length, 1);
    }
  });

  test('a prefix with two exports is ambiguous; one without any is not found; an unfinished one is refused', async () => {
    const root = join(dir, 'two');
    await writeExport(root, [{ name: 'a.json.gz', body: gzipSync(lines(1)), itemCount: 1 }]);
    await mkdir(join(root, 'AWSDynamoDB', 'another-export'), { recursive: true });
    await assert.rejects(loadExport(root), reason('ambiguous'));
    await assert.rejects(loadExport(join(dir, 'nothing-here')), reason('not-found'));
    const unfinished = join(dir, 'unfinished', 'AWSDynamoDB', ID);
    await mkdir(unfinished, { recursive: true });
    await writeFile(join(unfinished, '_started'), '');
    await assert.rejects(loadExport(unfinished), reason('unfinished'));
  });

  test('the summary item count must equal the sum over manifest-files.json', async () => {
    const folder = await writeExport(join(dir, 'sum'), [{ name: 'a.json.gz', body: gzipSync(lines(3)), itemCount: 3 }], 4);
    await assert.rejects(loadExport(folder), reason('summary-count-mismatch'));
  });

  test('a manifest that no longer matches its .md5 file is refused', async () => {
    const folder = await writeExport(join(dir, 'md5'), [{ name: 'a.json.gz', body: gzipSync(lines(3)), itemCount: 3 }]);
    await writeFile(join(folder, 'manifest-files.md5'), 'AAAAAAAAAAAAAAAAAAAAAA==');
    await assert.rejects(loadExport(folder), reason('manifest-checksum-mismatch'));
  });

  test('a file whose MD5 differs from md5Checksum is refused before yielding anything', async () => {
    const folder = await writeExport(join(dir, 'bad-md5'), [
      { name: 'a.json.gz', body: gzipSync(lines(20)), itemCount: 20, md5: 'AAAAAAAAAAAAAAAAAAAAAA==' },
    ]);
    await assert.rejects(read(folder, 0), reason('checksum-mismatch'));
  });

  test('a damaged gzip file is reported as a checksum mismatch (the clearer cause), not a decoder error', async () => {
    const good = gzipSync(lines(200));
    const folder = await writeExport(join(dir, 'damaged'), [{ name: 'a.json.gz', body: good, itemCount: 200 }]);
    const damaged = Buffer.from(good);
    for (let i = 20; i < 40; i++) damaged[i] = damaged[i]! ^ 0xff;
    await writeFile(join(folder, 'data', 'a.json.gz'), damaged);
    await assert.rejects(read(folder, 0), reason('checksum-mismatch'));
  });

  test('a file holding another number of items than itemCount is refused before yielding anything', async () => {
    const folder = await writeExport(join(dir, 'count'), [{ name: 'a.json.gz', body: gzipSync(lines(20)), itemCount: 21 }], 21);
    await assert.rejects(read(folder, 0), reason('count-mismatch'));
  });

  test('a listed file that is missing is refused', async () => {
    const folder = await writeExport(join(dir, 'missing'), [{ name: 'a.json.gz', body: gzipSync(lines(2)), itemCount: 2 }]);
    await rm(join(folder, 'data', 'a.json.gz'));
    await assert.rejects(read(folder, 0), reason('missing-file'));
  });

  test('a cursor resumes after the records already applied, in both the held and the streamed path', async () => {
    const folder = await writeExport(join(dir, 'resume'), [{ name: 'a.json.gz', body: gzipSync(lines(30)), itemCount: 30 }]);
    const all = Array.from({ length: 30 }, (_, i) => `i${i}`);
    assert.deepEqual(await read(folder, 0), all);
    assert.deepEqual(await read(folder, 0, 12), all.slice(12));
    assert.deepEqual(await read(folder, 0, 12, 10), all.slice(12), 'streamed second pass (file larger than keepLimitBytes)');
    assert.deepEqual(await read(folder, 0, 30), []);
    await assert.rejects(read(folder, 0, 31), reason('cursor-invalid'));
  });

  test('an empty data file gives one empty, final page', async () => {
    const folder = await writeExport(join(dir, 'empty'), [{ name: 'e.json.gz', body: gzipSync(Buffer.alloc(0)), itemCount: 0 }]);
    const loaded = await loadExport(folder);
    const pages = [];
    for await (const p of readExportFile({
      store: new LocalStore(folder),
      entry: loaded.files[0]!,
      format: 'DYNAMODB_JSON',
      mode: 'item',
      fromLine: 0,
      pageSize: 7,
      pool,
      keepLimitBytes: 1024,
      memoryLimitBytes: 0,
    }))
      pages.push(p);
    assert.deepEqual(pages, [{ records: [], nextLine: 0, done: true }]);
  });
});

describe('incremental exports and plan checks', () => {
  const inc = (id: string, from: string, to: string): ExportDescription => ({
    uri: `/x/${id}`,
    exportId: id,
    exportTime: Date.parse(to),
    itemCount: 0,
    format: 'DYNAMODB_JSON',
    exportType: 'INCREMENTAL_EXPORT',
    exportFromTime: Date.parse(from),
    exportToTime: Date.parse(to),
    files: 0,
  });

  test('a chain must start in time, have no gaps and no nested windows', () => {
    const a = inc('a', '2024-01-01T00:00:00Z', '2024-01-01T01:00:00Z');
    const b = inc('b', '2024-01-01T01:00:00Z', '2024-01-01T02:00:00Z');
    const c = inc('c', '2024-01-01T02:30:00Z', '2024-01-01T03:00:00Z');
    const nested = inc('n', '2024-01-01T00:10:00Z', '2024-01-01T00:50:00Z');
    checkChain([a, b], Date.parse('2024-01-01T00:00:00Z'));
    assert.throws(() => checkChain([a, b], Date.parse('2023-12-31T23:59:00Z')), reason('chain-gap'));
    assert.throws(() => checkChain([a, b, c]), reason('chain-gap'));
    assert.throws(() => checkChain([a, nested]), reason('chain-gap'));
  });

  test('incremental lines become change records; no NewImage means REMOVE; write time in ms', () => {
    const keys = { id: { S: 'a' } };
    assert.deepEqual(toChangeRecord({ Keys: keys, NewImage: { ...keys, v: { N: '1' } }, writeTimestampMicros: '1700000000123456' }, '1', false), {
      sequenceNumber: '1',
      eventName: 'INSERT',
      keys,
      newImage: { ...keys, v: { N: '1' } },
      createdAt: 1700000000123,
    });
    assert.equal(toChangeRecord({ Keys: keys, OldImage: keys, NewImage: keys }, '2', false).eventName, 'MODIFY');
    const del = toChangeRecord({ Keys: keys, OldImage: keys }, '3', false);
    assert.equal(del.eventName, 'REMOVE');
    assert.equal(del.newImage, undefined);
    assert.equal(toChangeRecord({ Keys: keys, NewImage: keys }, '4', true).eventName, 'MODIFY');
  });

  test('plan refuses an export older than the stream, or one whose stream records expire before the backfill ends', () => {
    const now = Date.parse('2024-01-02T00:00:00Z');
    const exportTime = Date.parse('2024-01-01T12:00:00Z');
    assert.deepEqual(exportStreamRefusals({ exportTime, streamLabel: '2024-01-01T00:00:00.000', now, estimatedBackfillMs: 3600_000 }), []);
    assert.deepEqual(
      exportStreamRefusals({ exportTime, streamLabel: '2024-01-01T11:58:00.000', now, estimatedBackfillMs: 3600_000 }).map((r) => r.code),
      ['STREAM_NEWER_THAN_EXPORT'],
    );
    // Older than the export is not enough: the replay starts 5 minutes before the export time.
    const justBefore = exportStreamRefusals({ exportTime, streamLabel: '2024-01-01T11:57:00.000', now, estimatedBackfillMs: 3600_000 });
    assert.deepEqual(
      justBefore.map((r) => r.code),
      ['STREAM_NEWER_THAN_EXPORT'],
    );
    assert.match(justBefore[0]!.message, /after 2024-01-01T11:55:00\.000Z \(the export time 2024-01-01T12:00:00\.000Z minus the 5-minute margin\)/);
    assert.deepEqual(exportStreamRefusals({ exportTime, streamLabel: '2024-01-01T11:54:59.000', now, estimatedBackfillMs: 3600_000 }), []);
    assert.deepEqual(
      exportStreamRefusals({ exportTime, streamLabel: '2024-01-01T00:00:00.000', now, estimatedBackfillMs: 12 * 3600_000 }).map((r) => r.code),
      ['BACKFILL_EXCEEDS_RETENTION'],
    );
    assert.deepEqual(
      exportStreamRefusals({ exportTime, streamLabel: undefined, now, estimatedBackfillMs: 0 }).map((r) => r.code),
      ['STREAM_DISABLED'],
    );
    assert.equal(streamLabelTime('2024-01-01T00:00:00.000'), Date.parse('2024-01-01T00:00:00.000Z'));
    assert.equal(
      streamLabelFromArn('arn:aws:dynamodb:us-east-1:123456789012:table/Orders/stream/2024-01-01T00:00:00.000'),
      '2024-01-01T00:00:00.000',
    );
  });
});
