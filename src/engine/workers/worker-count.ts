import { availableParallelism } from 'node:os';
import type { ResolvedConfig } from '../../config/resolved-config.js';
import type { Sink } from '../../sinks/sink.js';
import type { TransformRef } from './protocol.js';

/** The default's cap: past this, one process's network and the main thread's share of the work bound the gain. */
export const MAX_DEFAULT_WORKERS = 8;

/**
 * How many worker threads a backfill uses: `backfill.workers`, by default the cores available but one (at least 1, at
 * most 8), and never more than there are segments, segments read at once (backfill.concurrency) or write slots to
 * share (write.concurrency). 1 is the in-thread path.
 *
 * Why one core is left: a copying thread keeps more than one core busy. Against the null DynamoDB one thread used 11.6
 * CPU-s on itself and 4.4 on V8's garbage-collector threads per 100,000 items; the main thread (gate, stream applier,
 * state saves) runs beside the workers. On 2 cores, 2 workers copied at 0.93–1.05× one thread's items/s for 1.3–1.5×
 * the CPU and 140 MB more RSS (BENCHMARKS.md, "Where two workers' time goes").
 */
export function workerCount(config: Pick<ResolvedConfig, 'backfill' | 'write'>, cores = availableParallelism()): number {
  const wanted = config.backfill.workers ?? Math.min(Math.max(1, cores - 1), MAX_DEFAULT_WORKERS);
  return Math.max(1, Math.min(wanted, config.backfill.segments, config.backfill.concurrency, config.write.concurrency));
}

/** Where a worker loads the transform from, or why it can't (a function handed to the engine, not from a file). */
export function transformRef(config: Pick<ResolvedConfig, 'transform' | 'transformSource' | 'configPath'>): TransformRef | string {
  if (!config.transform) return { kind: 'none' };
  if (config.transformSource === 'inline') return { kind: 'config', configPath: config.configPath };
  if (config.transformSource) return { kind: 'module', path: config.transformSource };
  return 'the transform was handed over as a function, not loaded from the config file';
}

/** Why the targets can't be written from worker threads under one budget each, if they can't. */
export function sinksRefusal(sinks: Record<string, Sink>): string | undefined {
  const unbudgeted = Object.values(sinks).filter((s) => !s.writeBudget);
  if (unbudgeted.length === 0) return undefined;
  return `target ${unbudgeted.map((s) => s.name).join(', ')} keeps no write budget other threads can share (only DynamoDB-API targets do)`;
}
