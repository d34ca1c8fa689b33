import type { BackfillSource } from '../../sources/source.js';
import { runBackfill } from '../backfill.js';
import type { StrategyRun } from './backfill-strategy.js';

/** Copies a snapshot source partition by partition (scan segments, export files), each resumable from its cursor. */
export function copySnapshot(input: StrategyRun, source: BackfillSource, signal: AbortSignal): Promise<boolean> {
  const { ctx, source: name } = input;
  const { config } = ctx;
  const ttlAttribute = ctx.plan.sources[name]!.ttlAttribute;
  return runBackfill(
    {
      source,
      sourceName: name,
      sourceKeySchema: ctx.sourceKeys[name]!,
      mapper: ctx.mapper,
      sinks: ctx.sinks,
      state: input.state.backfill,
      concurrency: config.backfill.concurrency,
      failures: input.failures,
      onProgress: (items) => input.meter.add(items),
      onCheckpoint: () => {},
      log: input.log,
      // Twice the write slots: each slice's writes go out soon after it is admitted, and no slot waits for a slice.
      ...(input.gate ? { gate: input.gate, gateSlices: 2 * config.write.concurrency } : {}),
      ...(config.backfill.skipExpired && ttlAttribute ? { skipExpired: { ttlAttribute, now: () => Date.now() } } : {}),
    },
    signal,
  );
}
