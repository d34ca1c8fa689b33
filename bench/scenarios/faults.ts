/**
 * Throughput under transient server errors: per run, a fresh DynamoDB Local with a seeded source table and a backlog
 * of changes in its stream. dynashift migrates it twice — to two targets, with separate state — through the
 * fault-injecting proxy of the test suite (test/support/fault-proxy.ts): once with no faults, once with `faultRate`
 * (default 5%) of requests answered 500 or 503 at random. Both the backfill (items/s) and the stream catch-up
 * (records/s) are timed from dynashift's own log, and the ratio faulted ÷ fault-free is the figure (wanted ≥ 0.8×: a
 * retried 5xx must not slow the run down, only throttling may). The order of the two runs rotates from run to run.
 */
import { mulberry32 } from '../../src/core/random.js';
import { startFaultProxy } from '../../test/support/fault-proxy.js';
import { assertOk, msgIs, msgStarts, spawnDynashift, writeConfig, type LogEvent } from '../contenders/dynashift.js';
import { fmt } from './backfill.js';
import { rotate, seededSource, warmUp, withLocal, workDir, writeBacklog, type Ctx } from './common.js';

export interface FaultsVariant {
  faultRate: number;
  backfill: { items: number; seconds: number; itemsPerSecond: number };
  stream: { records: number; seconds: number; recordsPerSecond: number };
  requests: number;
  injected: number;
  /** Warnings dynashift logged about retried requests. */
  warnings: number;
}

export interface FaultsRun {
  run: number;
  order: string[];
  clean: FaultsVariant;
  faulted: FaultsVariant;
  backfillRatio: number;
  streamRatio: number;
}

export async function faultsRun(ctx: Ctx, run: number): Promise<FaultsRun> {
  const { o } = ctx;
  return withLocal(ctx, `faults run ${run + 1}/${o.faultsRuns}`, async (local) => {
    await warmUp(local, { streams: true });
    await seededSource(ctx, local, 'source', o.faultsItems);
    await writeBacklog(local.client, 'source', o.seed, o.faultsStreamRecords);
    const proxy = await startFaultProxy({ upstream: local.endpoint, rng: mulberry32(o.seed + run), rate: 0, faults: ['500', '503'] });
    try {
      const order = rotate(['clean', 'faulted'], run);
      const out: Partial<FaultsRun> = { run, order };
      for (const which of order) {
        const rate = which === 'clean' ? 0 : o.faultRate;
        proxy.setRate(rate);
        const before = { ...proxy.stats };
        const v = await migrateThrough(ctx, proxy.endpoint, `target_${which}`);
        const injected = proxy.stats['500'] + proxy.stats['503'] - before['500'] - before['503'];
        const variant: FaultsVariant = { faultRate: rate, ...v, requests: proxy.stats.requests - before.requests, injected };
        ctx.log(
          `    ${which.padEnd(8)} backfill ${fmt(variant.backfill.itemsPerSecond)} items/s, catch-up ${fmt(variant.stream.recordsPerSecond)} records/s` +
            `  (${variant.injected} of ${variant.requests} requests got a 5xx; ${variant.warnings} warnings)`,
        );
        out[which as 'clean' | 'faulted'] = variant;
      }
      out.backfillRatio = out.faulted!.backfill.itemsPerSecond / out.clean!.backfill.itemsPerSecond;
      out.streamRatio = out.faulted!.stream.recordsPerSecond / out.clean!.stream.recordsPerSecond;
      ctx.log(`    ratio faulted ÷ fault-free: backfill ${out.backfillRatio.toFixed(2)}×, catch-up ${out.streamRatio.toFixed(2)}×`);
      return out as FaultsRun;
    } finally {
      await proxy.close();
    }
  });
}

async function migrateThrough(ctx: Ctx, endpoint: string, target: string): Promise<Omit<FaultsVariant, 'faultRate' | 'requests' | 'injected'>> {
  const dir = workDir(ctx, `ds-${target}`);
  const configPath = writeConfig({ dir, endpoint, source: 'source', target, settings: ctx.o.dynashift });
  const cli = spawnDynashift(['run', '-c', configPath, '--until-synced', '--no-progress', '--log-format', 'json'], { cli: ctx.o.cli, workDir: dir });
  const out = await cli.done;
  assertOk(out, `dynashift run to ${target}`);
  const at = (pred: (e: LogEvent) => boolean, what: string): LogEvent => {
    const e = out.events.find(pred);
    if (!e) throw new Error(`dynashift log has no "${what}" line`);
    return e;
  };
  const b0 = at(msgIs('backfill started'), 'backfill started').time;
  const b1 = at(msgIs('backfill complete'), 'backfill complete');
  const s0 = at(msgStarts('applying the source stream'), 'applying the source stream').time;
  const synced = out.events.filter(msgStarts('in sync'));
  if (synced.length === 0) throw new Error('dynashift never reported "in sync"');
  const records = Number(synced.at(-1)!['appliedRecords'] ?? synced[0]!['records']);
  const items = Number(b1['items']);
  return {
    backfill: { items, seconds: (b1.time - b0) / 1000, itemsPerSecond: items / ((b1.time - b0) / 1000) },
    stream: { records, seconds: (synced[0]!.time - s0) / 1000, recordsPerSecond: records / ((synced[0]!.time - s0) / 1000) },
    warnings: out.events.filter((e) => typeof e.msg === 'string' && / failed with /.test(e.msg)).length,
  };
}
