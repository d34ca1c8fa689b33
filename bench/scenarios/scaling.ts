/**
 * Scaling: backfill items/s against the number of Scan segments, for dynashift (all segments at once, 16 writes in
 * flight) and for the minimal copier (same segments, 16 writes in flight). One fresh DynamoDB Local per run; the
 * minimal copier's best segment count is what the backfill comparison then uses.
 */
import { minimalCopy } from '../contenders/minimal-copier.js';
import { createTable, dropTable } from '../lib/local.js';
import { rate, seededSource, warmUp, withLocal, type Ctx, type Measured } from './common.js';
import { fmt } from './backfill.js';
import { dynashiftBackfill, type DynashiftBackfill } from './dynashift-runs.js';

export interface ScalingRun {
  run: number;
  points: { segments: number; dynashift: DynashiftBackfill; minimal: Measured }[];
}

export async function scalingRun(ctx: Ctx, run: number): Promise<ScalingRun> {
  const { o } = ctx;
  return withLocal(ctx, `scaling run ${run + 1}/${o.scalingRuns}`, async (local, sampler) => {
    const seed = await seededSource(ctx, local, 'source', o.items);
    await warmUp(local);
    const points: ScalingRun['points'] = [];
    for (const [i, segments] of o.segmentsList.entries()) {
      let dyn: DynashiftBackfill | undefined;
      let min: Measured | undefined;
      const both = (i + run) % 2 === 0 ? ['dynashift', 'minimal'] : ['minimal', 'dynashift'];
      for (const who of both) {
        if (who === 'dynashift') {
          dyn = await dynashiftBackfill(ctx, local, sampler, {
            source: 'source',
            target: 'target_dynashift',
            bytes: seed.bytes,
            settings: { ...o.dynashift, segments, concurrency: segments },
          });
          await dropTable(local.client, 'target_dynashift');
        } else {
          await createTable(local.client, 'target_minimal');
          const t0 = Date.now();
          const copied = await minimalCopy(local.client, 'source', 'target_minimal', {
            segments,
            writeConcurrency: o.minimalWriteConcurrency,
            pageSize: 1000,
          });
          const t1 = Date.now();
          min = { ...rate(copied, (t1 - t0) / 1000, seed.bytes), cpu: sampler.split(t0, t1) };
          await dropTable(local.client, 'target_minimal');
        }
      }
      ctx.log(
        `    ${String(segments).padStart(2)} segments: dynashift ${fmt(dyn!.itemsPerSecond)} items/s, minimal ${fmt(min!.itemsPerSecond)} items/s`,
      );
      points.push({ segments, dynashift: dyn!, minimal: min! });
    }
    return { run, points };
  });
}
