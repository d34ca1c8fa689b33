/**
 * Replication lag: a fresh DynamoDB Local with a small seeded source; a writer puts full items at a steady rate
 * (default 500/s) from before dynashift starts, through its backfill and catch-up, until the end. Once dynashift says
 * "in sync" (plus 2 s to settle), every Nth write is followed until the target shows it, for `lagSeconds`.
 */
import { sleep } from '../lib/limit.js';
import { LiveWriter } from '../lib/live-writer.js';
import { percentile } from '../lib/stats.js';
import type { CpuSplit } from '../lib/proc.js';
import { assertOk, msgIs, msgStarts, spawnDynashift, writeConfig } from '../contenders/dynashift.js';
import { seededSource, warmUp, withLocal, workDir, type Ctx } from './common.js';

export interface LagRun {
  run: number;
  rate: number;
  /** Writes/s acknowledged during the measuring window. */
  achievedRate: number;
  /** Writes/s over the whole run, backfill and catch-up included (the emulator is shared with them). */
  wholeRunRate: number;
  samples: number;
  unseen: number;
  superseded: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Source PutItem latency (send → ack). */
  writeP50Ms: number;
  writeP99Ms: number;
  pollCycleMs: number;
  backfillSeconds: number;
  /** From the end of the backfill to "in sync", with the writer running: the backlog it had to catch up. */
  catchUpSeconds: number;
  cpu: CpuSplit;
  peakRssBytes?: number;
}

export async function lagRun(ctx: Ctx, run: number): Promise<LagRun> {
  const { o } = ctx;
  return withLocal(ctx, `lag run ${run + 1}/${o.lagRuns}`, async (local, sampler) => {
    await warmUp(local, { streams: true });
    await seededSource(ctx, local, 'source', o.lagSeedItems);
    const dir = workDir(ctx, 'ds-lag');
    const configPath = writeConfig({ dir, endpoint: local.endpoint, source: 'source', target: 'target_dynashift', settings: o.dynashift });
    const writer = new LiveWriter({
      client: local.client,
      source: 'source',
      target: 'target_dynashift',
      seed: o.seed,
      rate: o.lagRate,
      existing: o.lagSeedItems,
      sampleEvery: o.lagSampleEvery,
      mode: o.lagWriter,
    });
    writer.start();
    const cli = spawnDynashift(['run', '-c', configPath, '--no-progress', '--log-format', 'json'], { cli: o.cli, workDir: dir });
    sampler.track('dynashift', () => cli.pids());
    try {
      const started = await cli.waitFor(msgIs('backfill started'), 600_000);
      const backfilled = await cli.waitFor(msgIs('backfill complete'), 600_000);
      const synced = await cli.waitFor(msgStarts('in sync'), 600_000).catch((err: unknown) => {
        // Say how far it got: the backfill's time and the rate the writer reached (an emulator too slow for the writer shows there).
        throw new Error(
          `dynashift was not in sync 600 s after its backfill (${((backfilled.time - started.time) / 1000).toFixed(0)} s) with the writer at ${writer.stats().achievedRate.toFixed(0)} writes/s: ${err instanceof Error ? err.message : String(err)}`,
        );
      });
      ctx.log(
        `    backfill ${((backfilled.time - started.time) / 1000).toFixed(1)} s, caught up ${((synced.time - backfilled.time) / 1000).toFixed(1)} s later; measuring lag for ${o.lagSeconds} s`,
      );
      await sleep(2000);
      const t0 = Date.now();
      writer.startSampling();
      await sleep(o.lagSeconds * 1000);
      writer.stopSampling();
      const t1 = Date.now();
      await writer.stop();
      const lags = writer.samples.filter((s) => s.seenAt !== undefined).map((s) => s.seenAt! - s.ackAt);
      const st = writer.stats();
      cli.kill('SIGTERM');
      const out = await cli.done;
      sampler.untrack('dynashift');
      assertOk(out, 'dynashift run (lag)');
      // A failed source write never becomes a sample, so it would lower the rate and hide from the lag unnoticed.
      if (st.failed > 0) throw new Error(`lag writer: ${st.failed} source writes failed; the lag measured would not be at ${o.lagRate} writes/s`);
      const r: LagRun = {
        run,
        rate: o.lagRate,
        achievedRate: writer.windowRate,
        wholeRunRate: st.achievedRate,
        samples: lags.length,
        unseen: writer.samples.length - lags.length - writer.superseded,
        superseded: writer.superseded,
        p50Ms: percentile(lags, 50),
        p90Ms: percentile(lags, 90),
        p99Ms: percentile(lags, 99),
        maxMs: Math.max(...lags),
        writeP50Ms: st.writeLatencyP50,
        writeP99Ms: st.writeLatencyP99,
        pollCycleMs: st.pollCycleMs,
        backfillSeconds: (backfilled.time - started.time) / 1000,
        catchUpSeconds: (synced.time - backfilled.time) / 1000,
        cpu: sampler.split(t0, t1),
        ...(out.time ? { peakRssBytes: out.time.maxRssBytes } : {}),
      };
      ctx.log(
        `    lag p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms, max ${r.maxMs} ms over ${r.samples} samples; writer ${r.achievedRate.toFixed(0)} writes/s`,
      );
      return r;
    } catch (err) {
      cli.kill('SIGKILL');
      await writer.stop(0);
      throw err;
    }
  });
}
