import { extractKey, keyId, type AttributeMap } from '../../core/item.js';
import { toDdbJson, type DdbJsonMap } from '../../core/ddb-json.js';
import { MappingError } from '../../core/transform.js';
import { systemClock } from '../../core/clock.js';
import { RateLimiter, RateMeter } from '../../core/rate-limiter.js';
import { ScanSource } from '../../sources/scan/scan-source.js';
import type { BucketFiles } from './bucket-files.js';
import type { VerifyContext, VerifySource } from './context.js';
import { itemText } from './item-text.js';
import { runPool } from './pool.js';
import { bucketOf, formatLine, lineHeader } from './spill-line.js';
import type { TwinPairing } from './twin-pairing.js';
import type { TransformErrorFinding } from './types.js';

export interface CollectCounters {
  sourceItems: number;
  expected: number;
  actual: number;
}

export interface CollectOptions {
  segments: number;
  concurrency: number;
  signal: AbortSignal;
  counters: CollectCounters;
  onTransformError(finding: TransformErrorFinding): void;
  /** Settles identical pairs in memory before they are spilled (twin-pairing.ts); absent: every item is spilled. */
  pairing?: TwinPairing;
}

/**
 * Reads every source with a parallel, strongly consistent Scan, maps each item with the migration's transform and
 * spills each routed item `{n, s, i}` to its bucket. Nothing is kept in memory beyond one page per segment.
 */
export async function spillExpected(ctx: VerifyContext, files: BucketFiles, opts: CollectOptions): Promise<void> {
  const backfill = ctx.config.backfill;
  await Promise.all(
    Object.values(ctx.sources).map(async (source) => {
      const ceiling =
        backfill.maxReadUnitsPerSecond ??
        (source.info.billingMode === 'PROVISIONED' && source.info.readCapacityUnits ? source.info.readCapacityUnits * backfill.readShare : Infinity);
      const scan = new ScanSource({
        name: source.name,
        client: source.client,
        table: source.ref.table,
        totalSegments: opts.segments,
        // Limit 1000 at most: DynamoDB Local slows down badly on unlimited pages (semantics doc §8).
        pageSize: Math.min(backfill.pageSize, 1000),
        consistentRead: true,
        limiter: new RateLimiter(ceiling, systemClock),
        meter: new RateMeter(systemClock),
      });
      await runPool(
        await scan.partitions(),
        opts.concurrency,
        async (partition) => {
          for await (const page of scan.read(partition, undefined, opts.signal)) {
            for (const item of page.items) await spillSourceItem(ctx, source, item, files, opts);
            if (opts.signal.aborted) return;
          }
        },
        opts.signal,
      );
    }),
  );
}

async function spillSourceItem(
  ctx: VerifyContext,
  source: VerifySource,
  item: AttributeMap,
  files: BucketFiles,
  opts: CollectOptions,
): Promise<void> {
  opts.counters.sourceItems++;
  const sourceKey = extractKey(item, source.keySchema) ?? {};
  let routed;
  try {
    routed = ctx.mapper.map(source.name, item);
  } catch (err) {
    opts.onTransformError({
      source: source.name,
      sourceKey: toDdbJson(sourceKey),
      code: err instanceof MappingError ? err.code : 'TRANSFORM_FAILED',
      message: err instanceof Error ? err.message : String(err),
    });
    return;
  }
  if (routed.length === 0) return;
  let s: DdbJsonMap | undefined; // the source key's JSON, once per source item, and only for what is spilled
  for (const r of routed) {
    const header = lineHeader(r.target, r.keyId);
    opts.counters.expected++;
    const line = (): string => formatLine(header, itemText(r.item), { n: source.name, s: (s ??= toDdbJson(sourceKey)) });
    if (opts.pairing) await opts.pairing.offer('expected', header, r.item, line);
    else await files.append(bucketOf(header, files.count), line());
  }
}

/** Reads every target through its TargetReader partitions, in parallel, and spills each item `{i}` to its bucket. */
export async function spillActual(ctx: VerifyContext, files: BucketFiles, opts: CollectOptions): Promise<void> {
  const work = Object.values(ctx.targets).flatMap((target) =>
    target.reader.readPartitions(opts.segments).map((partition) => ({ target, partition })),
  );
  await runPool(
    work,
    opts.concurrency * Math.max(1, Object.keys(ctx.targets).length),
    async ({ target, partition }) => {
      for await (const page of target.reader.readPartition(partition, opts.signal)) {
        for (const item of page) {
          const header = lineHeader(target.name, keyId(item, target.keySchema));
          opts.counters.actual++;
          const line = (): string => formatLine(header, itemText(item));
          if (opts.pairing) await opts.pairing.offer('actual', header, item, line);
          else await files.append(bucketOf(header, files.count), line());
        }
        if (opts.signal.aborted) return;
      }
    },
    opts.signal,
  );
}
