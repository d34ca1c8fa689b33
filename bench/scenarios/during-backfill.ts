/**
 * Stream during the backfill: the same --items backfill under the same live writer, once with
 * `stream.duringBackfill: true` (the stream is applied while the backfill runs) and once with `false` (applied only
 * in the catch-up after it), each on a fresh DynamoDB Local, the order alternating between runs (A/B, B/A, …).
 *
 * Measured per mode: the lag of the writes acknowledged DURING the backfill (from the bench seeing "backfill started"
 * to seeing "backfill complete"), from the source's ack until the target first shows the write; and the time from
 * "backfill started" to "in sync". Without the stream during the backfill, those writes reach the target only in the
 * catch-up, or when the scan happens to read the key after the write.
 */
import { sleep } from '../lib/limit.js';
import { LiveWriter } from '../lib/live-writer.js';
import { percentile } from '../lib/stats.js';
import type { CpuSplit } from '../lib/proc.js';
import { assertOk, msgIs, msgStarts, spawnDynashift, writeConfig } from '../contenders/dynashift.js';
import { rotate, seededSource, warmUp, withLocal, workDir, type Ctx } from './common.js';

export type StreamMode = 'during' | 'after';

export interface DuringBackfillMode {
  mode: StreamMode;
  /** Writes/s asked of the writer. */
  rate: number;
  /** Writes/s acknowledged while the backfill ran (the rate the backfill shared the emulator with). */
  backfillWriteRate: number;
  /** Source writes that failed, and writer ticks skipped because 200 writes were already in flight. */
  failedWrites: number;
  skippedTicks: number;
  samples: number;
  unseen: number;
  superseded: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  pollCycleMs: number;
  backfillSeconds: number;
  /** "backfill complete" → "in sync". */
  catchUpSeconds: number;
  /** "backfill started" → "in sync". */
  totalSeconds: number;
  cpu: CpuSplit;
  peakRssBytes?: number;
}

export interface DuringBackfillRun {
  run: number;
  /** In the order they ran. */
  modes: DuringBackfillMode[];
}

export async function duringBackfillRun(ctx: Ctx, run: number): Promise<DuringBackfillRun> {
  const modes: DuringBackfillMode[] = [];
  for (const mode of rotate<StreamMode>(['during', 'after'], run)) modes.push(await oneMode(ctx, run, mode));
  return { run, modes };
}

async function oneMode(ctx: Ctx, run: number, mode: StreamMode): Promise<DuringBackfillMode> {
  const { o } = ctx;
  return withLocal(ctx, `stream during backfill run ${run + 1}/${o.duringRuns}, duringBackfill ${mode === 'during'}`, async (local, sampler) => {
    await warmUp(local, { streams: true });
    await seededSource(ctx, local, 'source', o.items);
    const dir = workDir(ctx, `ds-during-${mode}`);
    const configPath = writeConfig({
      dir, endpoint: local.endpoint, source: 'source', target: 'target_dynashift', settings: o.dynashift, duringBackfill: mode === 'during',
    });
    const writer = new LiveWriter({
      client: local.client, source: 'source', target: 'target_dynashift', seed: o.seed, rate: o.duringRate,
      existing: o.items, sampleEvery: o.duringSampleEvery, mode: o.lagWriter,
    });
    writer.start();
    const cli = spawnDynashift(['run', '-c', configPath, '--no-progress', '--log-format', 'json'], { cli: o.cli, workDir: dir });
    sampler.track('dynashift', () => cli.pids());
    try {
      const started = await cli.waitFor(msgIs('backfill started'), 1_800_000);
      writer.startSampling();
      const t0 = Date.now();
      const backfilled = await cli.waitFor(msgIs('backfill complete'), 3_600_000);
      writer.stopSampling();
      const t1 = Date.now();
      const synced = await cli.waitFor(msgStarts('in sync'), 3_600_000);
      const backfillWriteRate = writer.windowRate;
      // Every sampled write is older than "in sync", so all are on the target by now; the drain only waits for the poller.
      await writer.stop();
      const st = writer.stats();
      cli.kill('SIGTERM');
      const out = await cli.done;
      sampler.untrack('dynashift');
      assertOk(out, `dynashift run (duringBackfill ${mode === 'during'})`);
      const lags = writer.samples.filter((s) => s.seenAt !== undefined).map((s) => s.seenAt! - s.ackAt);
      const r: DuringBackfillMode = {
        mode, rate: o.duringRate, backfillWriteRate, failedWrites: st.failed, skippedTicks: st.skippedTicks,
        samples: lags.length, unseen: writer.samples.length - lags.length - writer.superseded, superseded: writer.superseded,
        p50Ms: percentile(lags, 50), p99Ms: percentile(lags, 99), maxMs: lags.length ? Math.max(...lags) : NaN, pollCycleMs: st.pollCycleMs,
        backfillSeconds: (backfilled.time - started.time) / 1000, catchUpSeconds: (synced.time - backfilled.time) / 1000,
        totalSeconds: (synced.time - started.time) / 1000,
        cpu: sampler.split(t0, t1),
        ...(out.time ? { peakRssBytes: out.time.maxRssBytes } : {}),
      };
      ctx.log(`    backfill ${r.backfillSeconds.toFixed(1)} s, in sync after ${r.totalSeconds.toFixed(1)} s; lag of writes during the backfill p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms over ${r.samples} samples; writer ${backfillWriteRate.toFixed(0)} writes/s during the backfill${st.failed ? `, ${st.failed} FAILED writes` : ''}`);
      return r;
    } catch (err) {
      cli.kill('SIGKILL');
      await writer.stop(0);
      throw err;
    }
  });
}
