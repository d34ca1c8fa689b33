import type { StrategyRun } from '../strategies/backfill-strategy.js';
import { runBackfillInWorkers } from './worker-pool.js';
import { readBudgetOf } from './worker-thread.js';
import { sinksRefusal, transformRef, workerCount } from './worker-count.js';

/**
 * A scan backfill in worker threads when `backfill.workers` (or its default) is more than one and the run allows it.
 * @returns undefined when the backfill runs in this thread (workers: 1, or a reason logged), else the backfill's result
 */
export function scanInWorkers(input: StrategyRun, totalSegments: number, signal: AbortSignal): Promise<boolean> | undefined {
  const { ctx, source: name, log } = input;
  const { config } = ctx;
  const count = workerCount({ backfill: { ...config.backfill, segments: totalSegments }, write: config.write });
  if (count <= 1) return undefined;
  const transform = transformRef(config);
  const refusal = typeof transform === 'string' ? transform : sinksRefusal(ctx.sinks);
  if (refusal) {
    log.info({ source: name, workers: count, reason: refusal }, 'backfill runs in one thread');
    return undefined;
  }
  const { transform: _t, inverseTransform: _i, ...plainConfig } = config;
  const ttlAttribute = ctx.plan.sources[name]!.ttlAttribute;
  const targetKeys = Object.fromEntries(Object.entries(ctx.sinks).map(([t, sink]) => [t, sink.keySchema]));
  return runBackfillInWorkers(
    {
      workers: count,
      concurrency: config.backfill.concurrency,
      partitions: Array.from({ length: totalSegments }, (_, i) => String(i)),
      writeConcurrency: config.write.concurrency,
      init: {
        config: plainConfig,
        transform: transform as Exclude<typeof transform, string>,
        source: name,
        table: input.state.table,
        sourceKeySchema: ctx.sourceKeys[name]!,
        targetKeys,
        totalSegments,
        budgetedTargets: Object.keys(ctx.sinks),
        gated: input.gate !== undefined,
        trackLanded: input.failures.count > 0,
        ...(config.backfill.skipExpired && ttlAttribute ? { skipExpired: { ttlAttribute } } : {}),
      },
      sourceName: name,
      state: input.state.backfill,
      failures: input.failures,
      ...(input.gate ? { gate: input.gate, gateSlices: 2 * config.write.concurrency } : {}),
      readBudget: readBudgetOf(ctx.readLimiters[name]!),
      sinks: ctx.sinks,
      sourceCalls: ctx.sourceClients[name]!.calls,
      onProgress: (items) => input.meter.add(items),
      log,
    },
    signal,
  );
}
