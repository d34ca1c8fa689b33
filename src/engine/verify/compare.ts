import { rm } from 'node:fs/promises';
import { differingAttributes } from '../../core/equality.js';
import { fromDdbJson, type DdbJsonMap } from '../../core/ddb-json.js';
import type { KeySchema } from '../../core/item.js';
import { BucketFiles } from './bucket-files.js';
import { fileBytes, readLines, type JsonlWriter } from './jsonl.js';
import { bucketOf, parseActual, parseExpected, parseHeader, splitLine, splitPayload } from './spill-line.js';
import { pickKey, type Suspect } from './suspect.js';
import type { VerifyHooks } from './types.js';

export const DEFAULT_MAX_BUCKET_BYTES = 64 * 1024 * 1024;
const MAX_SPLIT_DEPTH = 6;

export interface CompareOptions {
  targetKeys: Record<string, KeySchema>;
  /** Scratch folder for re-split buckets. */
  workDir: string;
  /** An expected-side bucket file above this is split again (by another hash) before it is loaded. */
  maxBucketBytes: number;
  signal: AbortSignal;
  hooks?: Pick<VerifyHooks, 'onBucketLoaded'>;
}

export interface CompareStats {
  buckets: number;
  /** Buckets (or sub-buckets) loaded into memory, and the most held at once (always 1). */
  loaded: number;
  maxHeld: number;
  /** Largest expected-side file loaded. */
  maxLoadedBytes: number;
  /** Oversized buckets split again. */
  splits: number;
  /** Target keys that more than one source item produces (assumption A1 violated). */
  collisions: number;
  matched: number;
}

/**
 * Compares the spilled sides bucket by bucket. Only one bucket's expected lines are in memory at a time (as raw
 * strings keyed by their header); its actual lines are streamed past them. Differences go to `out` as suspects.
 */
export async function compareBuckets(
  expected: BucketFiles,
  actual: BucketFiles,
  out: JsonlWriter<Suspect>,
  opts: CompareOptions,
): Promise<CompareStats> {
  if (expected.count !== actual.count) throw new Error('both sides must have the same bucket count');
  const stats: CompareStats = { buckets: expected.count, loaded: 0, maxHeld: 0, maxLoadedBytes: 0, splits: 0, collisions: 0, matched: 0 };
  const state = { held: 0 };
  for (let b = 0; b < expected.count && !opts.signal.aborted; b++) {
    await comparePair(expected.path(b), actual.path(b), String(b), 0, out, opts, stats, state);
  }
  return stats;
}

async function comparePair(
  expectedPath: string,
  actualPath: string,
  label: string,
  depth: number,
  out: JsonlWriter<Suspect>,
  opts: CompareOptions,
  stats: CompareStats,
  state: { held: number },
): Promise<void> {
  const bytes = await fileBytes(expectedPath);
  if (bytes > opts.maxBucketBytes && depth < MAX_SPLIT_DEPTH) {
    await splitAndCompare(expectedPath, actualPath, bytes, label, depth, out, opts, stats, state);
    return;
  }
  const wanted = new Map<string, string>();
  for await (const line of readLines(expectedPath)) {
    const { header, payload } = splitLine(line);
    if (wanted.has(header)) stats.collisions++;
    wanted.set(header, payload);
  }
  state.held++;
  stats.loaded++;
  stats.maxHeld = Math.max(stats.maxHeld, state.held);
  stats.maxLoadedBytes = Math.max(stats.maxLoadedBytes, bytes);
  opts.hooks?.onBucketLoaded?.(label, bytes, state.held);
  try {
    for await (const line of readLines(actualPath)) {
      const { header, payload } = splitLine(line);
      const exp = wanted.get(header);
      if (exp !== undefined) {
        wanted.delete(header);
        // Equal canonical texts are equal items: most pairs are settled without parsing either side.
        if (splitPayload(exp).item === payload) {
          stats.matched++;
          continue;
        }
      }
      const { target, keyId } = parseHeader(header);
      const act = parseActual(payload).i;
      const schema = opts.targetKeys[target]!;
      if (exp === undefined) {
        await out.write({ c: 'extra', t: target, k: keyId, key: pickKey(act, schema), a: act });
        continue;
      }
      const e = parseExpected(exp);
      const d = differences(e.i, act);
      if (d.length === 0) stats.matched++;
      else await out.write({ c: 'differing', t: target, k: keyId, key: pickKey(e.i, schema), n: e.n, s: e.s, e: e.i, a: act, d });
    }
    for (const [header, payload] of wanted) {
      const { target, keyId } = parseHeader(header);
      const e = parseExpected(payload);
      await out.write({ c: 'missing', t: target, k: keyId, key: pickKey(e.i, opts.targetKeys[target]!), n: e.n, s: e.s, e: e.i });
    }
  } finally {
    wanted.clear();
    state.held--;
  }
}

async function splitAndCompare(
  expectedPath: string,
  actualPath: string,
  bytes: number,
  label: string,
  depth: number,
  out: JsonlWriter<Suspect>,
  opts: CompareOptions,
  stats: CompareStats,
  state: { held: number },
): Promise<void> {
  stats.splits++;
  const parts = Math.min(256, Math.max(2, Math.ceil((bytes / opts.maxBucketBytes) * 2)));
  const salt = depth + 1;
  const prefix = `split-${label.replace(/\./g, '_')}`;
  const e = new BucketFiles(opts.workDir, `${prefix}-e`, parts);
  const a = new BucketFiles(opts.workDir, `${prefix}-a`, parts);
  try {
    for (const [from, to] of [
      [expectedPath, e],
      [actualPath, a],
    ] as const) {
      for await (const line of readLines(from)) await to.append(bucketOf(splitLine(line).header, parts, salt), line);
      await to.close();
    }
    for (let p = 0; p < parts && !opts.signal.aborted; p++) {
      await comparePair(e.path(p), a.path(p), `${label}.${p}`, depth + 1, out, opts, stats, state);
    }
  } finally {
    await Promise.all([...e.paths(), ...a.paths()].map((p) => rm(p, { force: true })));
  }
}

export function differences(expected: DdbJsonMap, actual: DdbJsonMap): string[] {
  return differingAttributes(fromDdbJson(expected), fromDdbJson(actual));
}
