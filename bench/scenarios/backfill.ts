/**
 * Backfill (and verify): per run, a fresh DynamoDB Local with the seeded source; then dynashift, the minimal copier,
 * the minimal copier asking for ConsumedCapacity, and copy-dynamodb-table copy it in turn (the first contender rotates from run to run), each into a new table that
 * is dropped afterwards. Verify is measured on dynashift's copy, before it is dropped.
 */
import { copyDynamodbTable } from '../contenders/copy-table.js';
import { minimalCopy } from '../contenders/minimal-copier.js';
import { minimalVerify } from '../contenders/minimal-verify.js';
import { countItems, createTable, dropTable } from '../lib/local.js';
import { rate, rotate, seededSource, warmUp, withLocal, type Ctx, type Measured } from './common.js';
import { dynashiftBackfill, dynashiftVerify, type DynashiftBackfill, type DynashiftVerify } from './dynashift-runs.js';
import { verifyAvailable } from './verify-available.js';

export interface BackfillRun {
  run: number;
  order: string[];
  seedSeconds: number;
  dynashift: DynashiftBackfill;
  minimal: Measured;
  /** The minimal copier asking for ConsumedCapacity, as dynashift does: what the question costs DynamoDB Local. */
  minimalCapacity?: Measured;
  copyTable?: Measured & { complete: boolean };
  verify?: { dynashift: DynashiftVerify; minimal: Measured & { identical: boolean } };
}

export async function backfillRun(
  ctx: Ctx,
  run: number,
  minimal: { segments: number; writeConcurrency: number },
  withVerify: boolean,
): Promise<BackfillRun> {
  const { o } = ctx;
  return withLocal(ctx, `backfill run ${run + 1}/${o.runs}`, async (local, sampler) => {
    const seed = await seededSource(ctx, local, 'source', o.items);
    await warmUp(local);
    const contenders = ['dynashift', 'minimal', 'minimal+capacity', ...(run < o.copyTableRuns ? ['copy-dynamodb-table'] : [])];
    const order = rotate(contenders, run);
    const result: Partial<BackfillRun> = { run, order, seedSeconds: seed.seconds };
    for (const who of order) {
      if (who === 'dynashift') {
        const r = await dynashiftBackfill(ctx, local, sampler, {
          source: 'source',
          target: 'target_dynashift',
          settings: o.dynashift,
          bytes: seed.bytes,
        });
        if (r.items !== o.items) throw new Error(`dynashift backfilled ${r.items} items, expected ${o.items}`);
        ctx.log(
          `    dynashift      ${fmt(r.itemsPerSecond)} items/s  (${r.seconds.toFixed(1)} s, peak RSS ${r.peakRssBytes ? (r.peakRssBytes / 2 ** 20).toFixed(0) : '?'} MB)`,
        );
        result.dynashift = r;
        if (withVerify) {
          // Both verifiers read the same pair of tables; alternate which goes first.
          const v: Partial<NonNullable<BackfillRun['verify']>> = {};
          for (const which of rotate(['dynashift', 'minimal'], run)) {
            if (which === 'dynashift') {
              v.dynashift = await dynashiftVerify(ctx, sampler, r.configPath);
              ctx.log(`    verify (dynashift)  ${fmt(v.dynashift.itemsPerSecond)} items/s  identical=${v.dynashift.identical}`);
            } else {
              const t0 = Date.now();
              const m = await minimalVerify(local.client, 'source', 'target_dynashift', 8);
              const t1 = Date.now();
              const identical = m.missing + m.extra + m.differing === 0;
              v.minimal = { ...rate(m.sourceItems, (t1 - t0) / 1000), identical, cpu: sampler.split(t0, t1) };
              ctx.log(`    verify (minimal)    ${fmt(v.minimal.itemsPerSecond)} items/s  identical=${identical}`);
            }
          }
          result.verify = v as BackfillRun['verify'];
        }
        await dropTable(local.client, 'target_dynashift');
      } else if (who === 'minimal' || who === 'minimal+capacity') {
        const capacity = who === 'minimal+capacity';
        await createTable(local.client, 'target_minimal');
        const t0 = Date.now();
        const copied = await minimalCopy(local.client, 'source', 'target_minimal', { ...minimal, pageSize: 1000, returnConsumedCapacity: capacity });
        const t1 = Date.now();
        if (copied !== o.items) throw new Error(`${who} copier copied ${copied} items, expected ${o.items}`);
        const m = { ...rate(copied, (t1 - t0) / 1000, seed.bytes), cpu: sampler.split(t0, t1) };
        if (capacity) result.minimalCapacity = m;
        else result.minimal = m;
        ctx.log(`    ${who.padEnd(16)} ${fmt(m.itemsPerSecond)} items/s  (${m.seconds.toFixed(1)} s)`);
        await dropTable(local.client, 'target_minimal');
      } else {
        await createTable(local.client, 'target_copy_table');
        const t0 = Date.now();
        const r = await copyDynamodbTable(local.endpoint, 'source', 'target_copy_table', { maxSeconds: o.copyTableSeconds });
        const t1 = Date.now();
        if (r.complete && r.copied !== o.items) throw new Error(`copy-dynamodb-table copied ${r.copied} items, expected ${o.items}`);
        if (!r.complete && (await countItems(local.client, 'target_copy_table')) !== r.copied) {
          throw new Error('copy-dynamodb-table: the target does not hold the items it reported');
        }
        result.copyTable = { ...rate(r.copied, r.seconds, (seed.bytes * r.copied) / o.items), complete: r.complete, cpu: sampler.split(t0, t1) };
        ctx.log(
          `    copy-dynamodb-table ${fmt(result.copyTable.itemsPerSecond)} items/s  (${r.copied} items in ${r.seconds.toFixed(1)} s${r.complete ? '' : ', capped'})`,
        );
        await dropTable(local.client, 'target_copy_table');
      }
    }
    return result as BackfillRun;
  });
}

export const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

export { verifyAvailable };
