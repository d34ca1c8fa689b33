import { differingAttributes } from '../../core/equality.js';
import { toDdbJson } from '../../core/ddb-json.js';
import { extractKey, type AttributeMap } from '../../core/item.js';
import { MappingError, type RoutedItem } from '../../core/transform.js';
import { systemClock } from '../../core/clock.js';
import { RateLimiter, RateMeter } from '../../core/rate-limiter.js';
import { ScanSource } from '../../sources/scan/scan-source.js';
import type { VerifyContext, VerifySource } from './context.js';
import type { JsonlWriter } from './jsonl.js';
import { lookupByKey } from './lookup.js';
import { pickKey, type Suspect } from './suspect.js';
import type { TransformErrorFinding } from './types.js';

/** Each sampled segment should hold about this share of the sample, so a sample spans many hash ranges. */
const SEGMENTS_PER_SAMPLE = 16;
const MAX_SEGMENTS = 1_000_000;

export interface SampleCounters {
  sampled: number;
  expected: number;
  actual: number;
}

export interface SampleOptions {
  size: number;
  signal: AbortSignal;
  counters: SampleCounters;
  onTransformError(finding: TransformErrorFinding): void;
  random?: () => number;
}

/**
 * Checks about `size` random source items: scans randomly chosen segments of a parallel Scan split finely enough that
 * each holds a small part of the sample (a segment is a hash range of keys, so its items are a random subset), maps
 * them, and looks their target items up by key. Extra target items can't be found this way.
 */
export async function sampleSuspects(ctx: VerifyContext, out: JsonlWriter<Suspect>, opts: SampleOptions): Promise<void> {
  const sources = Object.values(ctx.sources);
  const total = Math.max(
    1,
    sources.reduce((n, s) => n + s.info.itemCount, 0),
  );
  for (const source of sources) {
    const share = sources.length === 1 ? opts.size : Math.max(1, Math.round((opts.size * source.info.itemCount) / total));
    await sampleSource(ctx, source, share, out, opts);
    if (opts.signal.aborted) return;
  }
}

/** TotalSegments for sampling `want` items of a table of about `items` items (1 when the table is small). */
export function sampleSegments(items: number, want: number): number {
  if (items <= want) return 1;
  const perSegment = Math.max(1, Math.ceil(want / SEGMENTS_PER_SAMPLE));
  return Math.min(MAX_SEGMENTS, Math.max(1, Math.ceil(items / perSegment)));
}

async function sampleSource(ctx: VerifyContext, source: VerifySource, want: number, out: JsonlWriter<Suspect>, opts: SampleOptions): Promise<void> {
  const random = opts.random ?? Math.random;
  const totalSegments = sampleSegments(source.info.itemCount, want);
  const scan = new ScanSource({
    name: source.name,
    client: source.client,
    table: source.ref.table,
    totalSegments,
    pageSize: 1000,
    consistentRead: true,
    limiter: new RateLimiter(ctx.config.backfill.maxReadUnitsPerSecond ?? Infinity, systemClock),
    meter: new RateMeter(systemClock),
  });
  const visited = new Set<number>();
  let taken = 0;
  while (taken < want && visited.size < totalSegments && !opts.signal.aborted) {
    let segment = Math.floor(random() * totalSegments);
    while (visited.has(segment)) segment = (segment + 1) % totalSegments;
    visited.add(segment);
    for await (const page of scan.read(String(segment), undefined, opts.signal)) {
      const items = page.items.slice(0, want - taken);
      taken += items.length;
      await checkItems(ctx, source, items, out, opts);
      if (taken >= want || opts.signal.aborted) break;
    }
  }
}

async function checkItems(
  ctx: VerifyContext,
  source: VerifySource,
  items: AttributeMap[],
  out: JsonlWriter<Suspect>,
  opts: SampleOptions,
): Promise<void> {
  opts.counters.sampled += items.length;
  const routed: { r: RoutedItem; sourceKey: AttributeMap }[] = [];
  for (const item of items) {
    const sourceKey = extractKey(item, source.keySchema) ?? {};
    try {
      for (const r of ctx.mapper.map(source.name, item)) routed.push({ r, sourceKey });
    } catch (err) {
      opts.onTransformError({
        source: source.name,
        sourceKey: toDdbJson(sourceKey),
        code: err instanceof MappingError ? err.code : 'TRANSFORM_FAILED',
        message: err instanceof Error ? err.message : String(err),
      });
    }
  }
  opts.counters.expected += routed.length;
  const byTarget = new Map<string, typeof routed>();
  for (const x of routed) (byTarget.get(x.r.target) ?? byTarget.set(x.r.target, []).get(x.r.target)!).push(x);
  for (const [target, group] of byTarget) {
    const t = ctx.targets[target]!;
    const found = await lookupByKey(
      t.reader,
      t.keySchema,
      group.map((x) => x.r.key),
    );
    for (const { r, sourceKey } of group) {
      const actual = found.get(r.keyId);
      const base = {
        t: target,
        k: r.keyId,
        key: pickKey(toDdbJson(r.key), t.keySchema),
        n: source.name,
        s: toDdbJson(sourceKey),
        e: toDdbJson(r.item),
      };
      if (!actual) {
        await out.write({ c: 'missing', ...base });
        continue;
      }
      opts.counters.actual++;
      const d = differingAttributes(r.item, actual);
      if (d.length) await out.write({ c: 'differing', ...base, a: toDdbJson(actual), d });
    }
  }
}
