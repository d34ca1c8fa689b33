/** Peak RSS of the dynashift process for a backfill of `items` items (fresh DynamoDB Local). */
import { seededSource, warmUp, withLocal, type Ctx } from './common.js';
import { dynashiftBackfill, type DynashiftBackfill } from './dynashift-runs.js';

export async function memoryRun(ctx: Ctx, items: number): Promise<DynashiftBackfill & { tableItems: number }> {
  return withLocal(ctx, `memory: ${items.toLocaleString('en-US')} items`, async (local, sampler) => {
    const seed = await seededSource(ctx, local, 'source', items);
    await warmUp(local);
    const r = await dynashiftBackfill(ctx, local, sampler, {
      source: 'source',
      target: 'target_dynashift',
      settings: ctx.o.dynashift,
      bytes: seed.bytes,
    });
    if (r.items !== items) throw new Error(`dynashift backfilled ${r.items} items, expected ${items}`);
    ctx.log(`    peak RSS ${r.peakRssBytes ? (r.peakRssBytes / 2 ** 20).toFixed(0) : '?'} MB, ${Math.round(r.itemsPerSecond)} items/s`);
    return { ...r, tableItems: items };
  });
}
