import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromDdbJson, toDdbJson, type DdbJsonMap } from '../../src/core/ddb-json.js';
import { keyId, type AttributeMap, type KeySchema } from '../../src/core/item.js';
import { BucketFiles } from '../../src/engine/verify/bucket-files.js';
import { chooseBucketCount, MAX_BUCKETS, TARGET_BUCKET_BYTES } from '../../src/engine/verify/bucket-count.js';
import { compareBuckets } from '../../src/engine/verify/compare.js';
import { JsonlWriter, readJsonl, readLines } from '../../src/engine/verify/jsonl.js';
import { itemText } from '../../src/engine/verify/item-text.js';
import { bucketOf, formatLine, lineHeader, splitLine } from '../../src/engine/verify/spill-line.js';
import type { Suspect } from '../../src/engine/verify/suspect.js';

const dirs: string[] = [];
const scratch = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'dynashift-verify-unit-'));
  dirs.push(d);
  return d;
};
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('bucket count', () => {
  test('grows with the table size, from 1 up to the cap', () => {
    assert.equal(chooseBucketCount(0, 0), 1);
    assert.equal(chooseBucketCount(1e6, 1e6), 1);
    const sizes = [1e6, 1e8, 1e9, 1e10, 1e11, 1e12, 1e14];
    const counts = sizes.map((b) => chooseBucketCount(b, b));
    for (let i = 1; i < counts.length; i++) assert.ok(counts[i]! >= counts[i - 1]!, `monotone: ${counts.join(', ')}`);
    assert.ok(counts[3]! > counts[1]!, counts.join(', '));
    assert.equal(chooseBucketCount(1e14, 0), MAX_BUCKETS);
    // 10 GB of items: each bucket's share of the spill stays about TARGET_BUCKET_BYTES.
    const b = chooseBucketCount(1e10, 1e10);
    assert.ok((2 * 1e10 * 2.5) / b <= TARGET_BUCKET_BYTES, String(b));
    // The larger side decides (a split can write more target bytes than the source holds).
    assert.equal(chooseBucketCount(1e9, 5e9), chooseBucketCount(5e9, 0));
  });

  test('keys spread evenly over buckets, and a salt gives an independent spread', () => {
    const headers = Array.from({ length: 20_000 }, (_, i) => lineHeader('t', JSON.stringify([`S:item-${i}`])));
    const counts = new Array<number>(16).fill(0);
    for (const h of headers) counts[bucketOf(h, 16)]!++;
    for (const c of counts) assert.ok(c > 1250 * 0.85 && c < 1250 * 1.15, counts.join(','));
    const inBucket0 = headers.filter((h) => bucketOf(h, 16) === 0);
    const resplit = new Array<number>(4).fill(0);
    for (const h of inBucket0) resplit[bucketOf(h, 4, 1)]!++;
    for (const c of resplit) assert.ok(c > (inBucket0.length / 4) * 0.8, `salted re-split: ${resplit.join(',')}`);
  });
});

describe('bucket files', () => {
  test('every appended line lands in its own bucket, once', async () => {
    const files = new BucketFiles(scratch(), 'x', 7);
    const lines = Array.from({ length: 5000 }, (_, i) => formatLine(lineHeader('t', `k${i}`), itemText({ n: { N: String(i) } })));
    for (const l of lines) await files.append(bucketOf(splitLine(l).header, 7), l);
    await files.close();
    const seen: string[] = [];
    for (let b = 0; b < 7; b++) {
      for await (const l of readLines(files.path(b))) {
        assert.equal(bucketOf(splitLine(l).header, 7), b);
        seen.push(l);
      }
    }
    assert.deepEqual(seen.sort(), [...lines].sort());
  });
});

describe('bucket comparison', () => {
  const schema: KeySchema = { partitionKey: { name: 'id', type: 'S' } };
  const item = (i: number, extra: AttributeMap = {}): AttributeMap => ({
    id: { S: `id-${i}` },
    n: { N: `${i}.50` },
    pad: { S: 'x'.repeat(40) },
    ...extra,
  });

  async function spill(dir: string, count: number, expected: AttributeMap[], actual: AttributeMap[]): Promise<[BucketFiles, BucketFiles]> {
    const e = new BucketFiles(dir, 'expected', count);
    const a = new BucketFiles(dir, 'actual', count);
    for (const it of expected) {
      const h = lineHeader('target', keyId(it, schema));
      await e.append(bucketOf(h, count), formatLine(h, itemText(it), { n: 'source', s: toDdbJson({ id: it['id']! }) }));
    }
    for (const it of actual) {
      const h = lineHeader('target', keyId(it, schema));
      await a.append(bucketOf(h, count), formatLine(h, itemText(it)));
    }
    await Promise.all([e.close(), a.close()]);
    return [e, a];
  }

  async function run(
    maxBucketBytes: number,
  ): Promise<{ suspects: Suspect[]; loads: { bytes: number; held: number }[]; splits: number; buckets: number }> {
    const dir = scratch();
    const expected = Array.from({ length: 6000 }, (_, i) => item(i));
    const actual = expected.filter((_, i) => i !== 17).map((it, i) => (i === 100 ? { ...it, n: { N: '-1' } } : it));
    // Equal by value, spelled differently: not a difference.
    actual[200] = { ...actual[200]!, n: { N: actual[200]!['n']!.N!.replace(/0$/, '') } };
    actual.push(item(99_999));
    const [e, a] = await spill(dir, 8, expected, actual);
    const out = new JsonlWriter<Suspect>(join(dir, 'suspects.jsonl'));
    const loads: { bytes: number; held: number }[] = [];
    const stats = await compareBuckets(e, a, out, {
      targetKeys: { target: schema },
      workDir: dir,
      maxBucketBytes,
      signal: new AbortController().signal,
      hooks: { onBucketLoaded: (_label, bytes, held) => loads.push({ bytes, held }) },
    });
    await out.close();
    const suspects: Suspect[] = [];
    for await (const s of readJsonl<Suspect>(out.path)) suspects.push(s);
    assert.equal(stats.maxHeld, 1);
    return { suspects, loads, splits: stats.splits, buckets: stats.buckets };
  }

  const summary = (suspects: Suspect[]) =>
    suspects.map((s) => `${s.c} ${s.key['id'] && (s.key['id'] as { S: string }).S} ${(s.d ?? []).join(',')}`).sort();

  test('finds missing, extra and differing keys, holding one bucket at a time', async () => {
    const r = await run(64 * 1024 * 1024);
    assert.deepEqual(summary(r.suspects), ['differing id-101 n', 'extra id-99999 ', 'missing id-17 ']);
    assert.equal(r.loads.length, 8);
    assert.ok(r.loads.every((l) => l.held === 1));
    assert.equal(r.splits, 0);
    const missing = r.suspects.find((s) => s.c === 'missing')!;
    assert.deepEqual([missing.t, missing.n, missing.s], ['target', 'source', { id: { S: 'id-17' } }]);
  });

  test('splits a bucket larger than the limit again, so no loaded bucket exceeds it; same findings', async () => {
    const limit = 48 * 1024;
    const r = await run(limit);
    assert.deepEqual(summary(r.suspects), ['differing id-101 n', 'extra id-99999 ', 'missing id-17 ']);
    assert.ok(r.splits > 0);
    assert.ok(r.loads.length > r.buckets, `${r.loads.length} loads`);
    assert.ok(
      r.loads.every((l) => l.held === 1 && l.bytes <= limit),
      JSON.stringify(r.loads.filter((l) => l.bytes > limit)),
    );
  });
});

describe('canonical item text (what verify spills and compares)', () => {
  const bytes = (...b: number[]): Uint8Array => new Uint8Array(b);

  test('the same item read back in another attribute and set order has the same text', () => {
    const a: AttributeMap = {
      id: { S: 'k' },
      big: { N: '12345678901234567890123456789012345678' },
      tags: { SS: ['b', 'a'] },
      nums: { NS: ['2', '1.5'] },
      blobs: { BS: [bytes(2), bytes(1)] },
      m: { M: { z: { BOOL: false }, a: { L: [{ NULL: true }, { B: bytes(0, 255) }] } } },
    };
    const b: AttributeMap = {
      m: { M: { a: { L: [{ NULL: true }, { B: bytes(0, 255) }] }, z: { BOOL: false } } },
      blobs: { BS: [bytes(1), bytes(2)] },
      nums: { NS: ['1.5', '2'] },
      tags: { SS: ['a', 'b'] },
      big: { N: '12345678901234567890123456789012345678' },
      id: { S: 'k' },
    };
    assert.equal(itemText(a), itemText(b));
  });

  test('the text is DynamoDB JSON that reads back to the same item, numbers exactly as written', () => {
    const it: AttributeMap = {
      id: { S: 'tab\there "q" \\ 🚀' },
      big: { N: '-0.00000000000000000000000000000000000001' },
      b: { B: bytes(0, 1, 2, 255) },
      l: { L: [{ M: {} }, { L: [] }, { SS: ['x'] }] },
    };
    assert.deepEqual(fromDdbJson(JSON.parse(itemText(it)) as DdbJsonMap), it);
  });

  test('items that differ have different texts', () => {
    assert.notEqual(itemText({ a: { N: '1' } }), itemText({ a: { S: '1' } }));
    assert.notEqual(itemText({ a: { SS: ['x', 'y'] } }), itemText({ a: { SS: ['x'] } }));
    assert.notEqual(itemText({ a: { M: { b: { N: '1' } } } }), itemText({ a: { M: { c: { N: '1' } } } }));
  });
});
