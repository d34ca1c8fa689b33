import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { toDdbJson } from '../../src/core/ddb-json.js';
import type { AttributeMap } from '../../src/core/item.js';
import { DecodePool, defaultDecodeWorkers } from '../../src/formats/ddb-export/decode-pool.js';
import type { ExportFormat } from '../../src/formats/ddb-export/export-record.js';
import { jsonTextPages, scanFile } from '../../src/formats/ddb-export/file-decoder.js';
import { readExportFile } from '../../src/formats/ddb-export/export-file-reader.js';
import { LocalStore } from '../../src/formats/ddb-export/export-store.js';

export interface DecodeBenchOptions {
  /** Items per synthetic data file (default 20,000, about 10 MB of JSON). */
  items?: number;
  format?: ExportFormat;
  /** Worker counts to measure the pool with (default [1, defaultDecodeWorkers()]). */
  workers?: number[];
  /** Repetitions of each single-thread measurement; the best is kept (default 3). */
  repeat?: number;
}

export interface Throughput {
  /** Uncompressed MB (10^6 bytes) of export text per second (per CPU-second for the single-core figures). */
  mbPerSecond: number;
  itemsPerSecond: number;
}

export interface DecodeBenchResult {
  format: ExportFormat;
  items: number;
  rawBytes: number;
  gzBytes: number;
  /** Plain gunzip + split + JSON.parse of the DYNAMODB_JSON text, one core: the floor any decoder pays. */
  baseline: Throughput;
  /** The verify pass a decode worker runs: MD5 + gunzip + strict decode of every line (+ ION → JSON text), one core. */
  verifyPerCore: Throughput;
  /** The main thread's share: verified text → AttributeMap pages, one core. */
  materializePerCore: Throughput;
  /** Both on one core: what one core decodes end to end. */
  decodePerCore: Throughput;
  /** decodePerCore / baseline. */
  relativeToBaseline: number;
  /** Several files at once through ExportSource's reader with N decode workers, items materialized on the main thread. */
  pool: (Throughput & { workers: number; files: number; perWorkerMbPerSecond: number })[];
}

/**
 * Benchmark helper for bench/: "export decode MB/s per core vs plain gunzip + JSON.parse".
 *
 * @example
 *   import { benchmarkExportDecode } from './scenarios/export-decode.js';
 *   console.log(await benchmarkExportDecode({ format: 'DYNAMODB_JSON', items: 20000, workers: [1, 2, 4] }));
 */
export async function benchmarkExportDecode(opts: DecodeBenchOptions = {}): Promise<DecodeBenchResult> {
  const format = opts.format ?? 'DYNAMODB_JSON';
  const n = opts.items ?? 20_000;
  const repeat = opts.repeat ?? 3;
  const items = Array.from({ length: n }, (_, i) => benchItem(i));
  const jsonText = items.map((item) => JSON.stringify({ Item: toDdbJson(item) })).join('\n') + '\n';
  const text = format === 'ION' ? items.map((item) => `$ion_1_0 {Item:${ionStruct(item)}}`).join('\n') + '\n' : jsonText;
  const raw = Buffer.from(text);
  const gz = gzipSync(raw);
  const jsonGz = gzipSync(Buffer.from(jsonText));

  const baselineMs = best(repeat, () => {
    const lines = gunzipSync(jsonGz).toString('utf8').split('\n');
    let parsed = 0;
    for (const line of lines) if (line !== '') parsed += JSON.parse(line) ? 1 : 0;
    if (parsed !== n) throw new Error('baseline parsed the wrong number of lines');
  });
  let kept: Uint8Array | undefined;
  let plain = false;
  const verifyMs = await bestAsync(repeat, async () => {
    const res = await scanFile({ bytes: gz, format, mode: 'item', keepLimitBytes: Infinity });
    if (res.count !== n || !res.text) throw new Error('decoder counted the wrong number of items');
    kept = res.text;
    plain = res.plain;
  });
  const materializeMs = best(repeat, () => {
    let count = 0;
    for (const page of jsonTextPages(kept!, 'item', 0, 1000, plain)) count += page.length;
    if (count !== n) throw new Error('materialized the wrong number of items');
  });

  const dir = await mkdtemp(join(tmpdir(), 'dynashift-bench-'));
  const pool: DecodeBenchResult['pool'] = [];
  try {
    for (const workers of opts.workers ?? [...new Set([1, defaultDecodeWorkers()])]) {
      const files = workers * 2;
      const paths = await Promise.all(
        Array.from({ length: files }, async (_, i) => {
          const path = join(dir, `f${workers}-${i}.gz`);
          await writeFile(path, gz);
          return path;
        }),
      );
      const p = new DecodePool(workers);
      try {
        await p.scan({ path: paths[0]!, format, mode: 'item', keepLimitBytes: Infinity }); // start the workers
        const store = new LocalStore(dir);
        const started = performance.now();
        await Promise.all(
          paths.map(async (path) => {
            let count = 0;
            for await (const page of readExportFile({
              store,
              entry: { itemCount: n, dataFileS3Key: path, relativeKey: basename(path) },
              format,
              mode: 'item',
              fromLine: 0,
              pageSize: 1000,
              pool: p,
              keepLimitBytes: 256 * 1024 * 1024,
              memoryLimitBytes: 0,
            }))
              count += page.records.length;
            if (count !== n) throw new Error('pool read the wrong number of items');
          }),
        );
        const ms = performance.now() - started;
        const t = throughput(raw.length * files, n * files, ms);
        pool.push({ workers, files, ...t, perWorkerMbPerSecond: t.mbPerSecond / workers });
      } finally {
        await p.close();
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const baseline = throughput(Buffer.byteLength(jsonText), n, baselineMs);
  const decodePerCore = throughput(raw.length, n, verifyMs + materializeMs);
  return {
    format,
    items: n,
    rawBytes: raw.length,
    gzBytes: gz.length,
    baseline,
    verifyPerCore: throughput(raw.length, n, verifyMs),
    materializePerCore: throughput(raw.length, n, materializeMs),
    decodePerCore,
    relativeToBaseline: decodePerCore.mbPerSecond / baseline.mbPerSecond,
    pool,
  };
}

function throughput(bytes: number, items: number, ms: number): Throughput {
  return { mbPerSecond: bytes / 1e6 / (ms / 1000), itemsPerSecond: items / (ms / 1000) };
}

/**
 * The best of `repeat` runs, in CPU milliseconds of this process (user + sys): the single-core figures are about
 * work per core, and on a shared machine wall time mostly measures the neighbours.
 */
function best(repeat: number, fn: () => void): number {
  let min = Infinity;
  for (let i = 0; i < repeat; i++) {
    const t = process.cpuUsage();
    fn();
    min = Math.min(min, cpuMs(t));
  }
  return min;
}

async function bestAsync(repeat: number, fn: () => Promise<void>): Promise<number> {
  let min = Infinity;
  for (let i = 0; i < repeat; i++) {
    const t = process.cpuUsage();
    await fn();
    min = Math.min(min, cpuMs(t));
  }
  return min;
}

function cpuMs(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
}

/** A ~500-byte item with every type, deterministic. */
function benchItem(i: number): AttributeMap {
  const d = (k: number): string => String((i * 7919 + k * 104729) % 1_000_000_007);
  return {
    pk: { S: `customer#${String(i).padStart(8, '0')}` },
    sk: { S: `order#${d(1)}` },
    amount: { N: `${d(2)}.${d(3).padStart(10, '0')}` },
    big: { N: `1${d(4).padStart(18, '0')}${d(5).padStart(18, '0')}` },
    status: { S: ['new', 'paid', 'shipped', 'returned'][i % 4]! },
    flag: { BOOL: i % 2 === 0 },
    none: { NULL: true },
    bin: { B: new Uint8Array(Buffer.from(d(6).repeat(3))) },
    tags: { SS: ['red', 'green', `t${i % 10}`] },
    nums: { NS: ['1.5', d(7), '-0.25'] },
    address: { M: { street: { S: `${d(8)} Main Street` }, city: { S: 'Springfield' }, zip: { S: d(9).slice(0, 5) } } },
    lines: { L: [{ M: { sku: { S: `sku-${d(10)}` }, qty: { N: String(i % 7) } } }, { M: { sku: { S: `sku-${d(11)}` }, qty: { N: '1' } } }] },
    note: { S: 'x'.repeat(120) },
  };
}

function ionValue(v: AttributeValue): string {
  if (v.S !== undefined) return JSON.stringify(v.S);
  if (v.N !== undefined) return ionDecimal(v.N);
  if (v.B !== undefined) return `{{${Buffer.from(v.B).toString('base64')}}}`;
  if (v.BOOL !== undefined) return String(v.BOOL);
  if (v.NULL !== undefined) return 'null';
  if (v.SS !== undefined) return `$dynamodb_SS::[${v.SS.map((s) => JSON.stringify(s)).join(',')}]`;
  if (v.NS !== undefined) return `$dynamodb_NS::[${v.NS.map(ionDecimal).join(',')}]`;
  if (v.BS !== undefined) return `$dynamodb_BS::[${v.BS.map((b) => `{{${Buffer.from(b).toString('base64')}}}`).join(',')}]`;
  if (v.L !== undefined) return `[${v.L.map(ionValue).join(',')}]`;
  if (v.M !== undefined) return ionStruct(v.M);
  throw new Error('unsupported value');
}

function ionStruct(m: AttributeMap): string {
  return `{${Object.entries(m)
    .map(([k, v]) => `${JSON.stringify(k)}:${ionValue(v)}`)
    .join(',')}}`;
}

/** DynamoDB number text → Ion decimal literal (`103` → `103.`, `1.5E-3` → `1.5d-3`). */
function ionDecimal(n: string): string {
  const [mantissa, exp] = n.split(/[eE]/) as [string, string | undefined];
  const m = mantissa.includes('.') ? mantissa : `${mantissa}.`;
  return exp === undefined ? m : `${m}d${exp}`;
}
