/**
 * Stream lag during a backfill (issue 14): per run, a fresh DynamoDB Local with `backfillLagItems` seeded items and a
 * writer putting single items at a steady rate from before dynashift starts. dynashift runs once, with
 * `stream.duringBackfill` true (new: the stream is applied while the backfill runs, through the snapshot gate) or
 * false (old: applied only after it). Every Nth write acknowledged from "backfill started" to "in sync" is followed
 * until the target shows it; its lag is counted in the phase it was acknowledged in: during the backfill, or after it
 * until "in sync". dynashift is stopped once every sampled write has been seen (or 30 s after "in sync"). In the old
 * mode a write made during the backfill waits for the catch-up (or for the Scan to reach its key): that wait is what
 * the comparison is about.
 *
 * Lag is timed on the benchmark's clock (ack → first seen by a consistent BatchGetItem), so DynamoDB Local's
 * minute-rounded ApproximateCreationDateTime does not enter it.
 */
import { LiveWriter, type LagSample } from '../lib/live-writer.js';
import { benchClient } from '../lib/local.js';
import { percentile } from '../lib/stats.js';
import type { CpuSplit } from '../lib/proc.js';
import { assertOk, msgIs, msgStarts, spawnDynashift, writeConfig } from '../contenders/dynashift.js';
import { seededSource, warmUp, withLocal, workDir, type Ctx } from './common.js';

export type BackfillLagMode = 'new' | 'old';

/** A pending key is polled again after this share of its age: lags are overstated by at most 5% (plus a poll cycle). */
const RELATIVE_POLL_INTERVAL = 0.05;

export interface PhaseLag {
  samples: number;
  /** Sampled writes acknowledged in this phase that the target still did not show 30 s after "in sync". */
  unseen: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface BackfillLagRun {
  run: number;
  mode: BackfillLagMode;
  items: number;
  rate: number;
  /** Writes/s the source acknowledged from "backfill started" to "in sync". */
  achievedRate: number;
  failedWrites: number;
  /** Writes sent again after DynamoDB Local's "timed out waiting for a lock" (500). */
  retriedWrites: number;
  /** Writes dropped because too many were in flight (the emulator fell behind the writer). */
  skippedTicks: number;
  writeP99Ms: number;
  during: PhaseLag;
  after: PhaseLag;
  backfillSeconds: number;
  /** "backfill complete" → "in sync": the catch-up of what was written during the backfill. */
  catchUpSeconds: number;
  /** "backfill started" → "in sync". */
  toSyncSeconds: number;
  cpu: CpuSplit;
}

export async function backfillLagRun(ctx: Ctx, run: number, mode: BackfillLagMode): Promise<BackfillLagRun> {
  const { o } = ctx;
  const items = o.backfillLagItems;
  return withLocal(ctx, `backfill-lag run ${run + 1}/${o.backfillLagRuns}, ${mode} mode`, async (local, sampler) => {
    await warmUp(local, { streams: true });
    await seededSource(ctx, local, 'source', items);
    const dir = workDir(ctx, `ds-backfill-lag-${mode}`);
    const configPath = writeConfig({
      dir,
      endpoint: local.endpoint,
      source: 'source',
      target: 'target',
      settings: o.dynashift,
      duringBackfill: mode === 'new',
    });
    // Its own client, so that its sockets are not shared with seeding and polling.
    const writerClient = benchClient(local.endpoint);
    const writer = new LiveWriter({
      client: writerClient,
      source: 'source',
      target: 'target',
      seed: o.seed,
      rate: o.backfillLagRate,
      existing: items,
      sampleEvery: o.backfillLagSampleEvery,
      mode: 'put',
      relativePollInterval: RELATIVE_POLL_INTERVAL,
      retries: 20,
    });
    writer.start();
    // Not --until-synced: a write acknowledged just before "in sync" may be after the reader's last look at the tip, so
    // dynashift keeps applying until every sampled write is seen, then is stopped (as in the lag section).
    const cli = spawnDynashift(['run', '-c', configPath, '--no-progress', '--log-format', 'json'], {
      cli: o.cli,
      workDir: dir,
    });
    sampler.track('dynashift', () => cli.pids());
    try {
      const started = await cli.waitFor(msgIs('backfill started'), 1_800_000);
      writer.startSampling();
      const backfilled = await cli.waitFor(msgIs('backfill complete'), 1_800_000);
      const synced = await cli.waitFor(msgStarts('in sync'), 1_800_000);
      writer.stopSampling();
      await writer.stop();
      cli.kill('SIGTERM');
      const out = await cli.done;
      sampler.untrack('dynashift');
      assertOk(out, `dynashift run (backfill-lag, ${mode} mode)`);
      const st = writer.stats();
      // A failed source write never becomes a sample: it would lower the rate and hide from the lag unnoticed.
      if (st.failed > 0) throw new Error(`backfill-lag writer: ${st.failed} source writes failed (first: ${writer.firstError})`);
      const inBackfill = (s: LagSample): boolean => s.ackAt < backfilled.time;
      const beforeSync = writer.samples.filter((s) => s.ackAt <= synced.time && !s.superseded);
      const r: BackfillLagRun = {
        run,
        mode,
        items,
        rate: o.backfillLagRate,
        achievedRate: writer.windowRate,
        failedWrites: st.failed,
        retriedWrites: writer.retried,
        skippedTicks: st.skippedTicks,
        writeP99Ms: st.writeLatencyP99,
        during: phaseLag(beforeSync.filter(inBackfill)),
        after: phaseLag(beforeSync.filter((s) => !inBackfill(s))),
        backfillSeconds: (backfilled.time - started.time) / 1000,
        catchUpSeconds: (synced.time - backfilled.time) / 1000,
        toSyncSeconds: (synced.time - started.time) / 1000,
        cpu: sampler.split(started.time, synced.time),
      };
      ctx.log(
        `    backfill ${r.backfillSeconds.toFixed(1)} s, in sync ${r.catchUpSeconds.toFixed(1)} s later; lag during the backfill p50 ${r.during.p50Ms} ms, p99 ${r.during.p99Ms} ms (${r.during.samples} samples), after it p50 ${r.after.p50Ms} ms, p99 ${r.after.p99Ms} ms (${r.after.samples}); writer ${r.achievedRate.toFixed(0)} writes/s`,
      );
      return r;
    } catch (err) {
      cli.kill('SIGKILL');
      await writer.stop(0);
      throw err;
    } finally {
      writerClient.destroy();
    }
  });
}

/** Lags of one phase's samples (those superseded by a later write of their key before they were seen are left out). */
function phaseLag(samples: LagSample[]): PhaseLag {
  const lags = samples.filter((s) => s.seenAt !== undefined).map((s) => s.seenAt! - s.ackAt);
  return {
    samples: lags.length,
    unseen: samples.filter((s) => s.seenAt === undefined).length,
    p50Ms: percentile(lags, 50),
    p99Ms: percentile(lags, 99),
    maxMs: lags.length ? Math.max(...lags) : NaN,
  };
}
