/** dynashift's measured operations: a backfill, a stream drain, a verify; each one CLI process. */
import { assertOk, msgIs, msgStarts, spawnDynashift, writeConfig, type DynashiftSettings, type LogEvent } from '../contenders/dynashift.js';
import type { BenchLocal } from '../lib/local.js';
import type { CpuSampler, CpuSplit } from '../lib/proc.js';
import { workDir, type Ctx } from './common.js';

export interface DynashiftBackfill {
  items: number;
  seconds: number;
  itemsPerSecond: number;
  mbPerSecond: number;
  /** Whole command, start-up and planning included. */
  wallSeconds: number;
  cpu: CpuSplit;
  peakRssBytes?: number;
  /** CPU seconds of the whole CLI process (from /usr/bin/time). */
  processCpuSeconds?: number;
  configPath: string;
}

const time = (events: LogEvent[], pred: (e: LogEvent) => boolean, what: string): LogEvent => {
  const e = events.find(pred);
  if (!e) throw new Error(`dynashift log has no "${what}" line`);
  return e;
};

export async function dynashiftBackfill(
  ctx: Ctx,
  local: BenchLocal,
  sampler: CpuSampler,
  o: { source: string; target: string; settings: DynashiftSettings; bytes: number; label?: string },
): Promise<DynashiftBackfill> {
  const dir = workDir(ctx, `ds-${o.target}`);
  const configPath = writeConfig({ dir, endpoint: local.endpoint, source: o.source, target: o.target, settings: o.settings });
  const started = Date.now();
  const cli = spawnDynashift(['run', '-c', configPath, '--until-synced', '--no-progress', '--log-format', 'json'], { cli: ctx.o.cli, workDir: dir });
  const label = o.label ?? 'dynashift';
  sampler.track(label, () => cli.pids());
  const out = await cli.done;
  sampler.untrack(label);
  assertOk(out, 'dynashift run');
  const t0 = time(out.events, msgIs('backfill started'), 'backfill started').time;
  const end = time(out.events, msgIs('backfill complete'), 'backfill complete');
  const items = Number(end['items']);
  const seconds = (end.time - t0) / 1000;
  return {
    items,
    seconds,
    itemsPerSecond: items / seconds,
    mbPerSecond: o.bytes / 2 ** 20 / seconds,
    wallSeconds: (Date.now() - started) / 1000,
    cpu: sampler.split(t0, end.time),
    ...(out.time ? { peakRssBytes: out.time.maxRssBytes, processCpuSeconds: out.time.userSeconds + out.time.systemSeconds } : {}),
    configPath,
  };
}

export interface DynashiftDrain {
  records: number;
  seconds: number;
  recordsPerSecond: number;
  cpu: CpuSplit;
  peakRssBytes?: number;
}

export async function dynashiftDrain(
  ctx: Ctx,
  local: BenchLocal,
  sampler: CpuSampler,
  o: { source: string; target: string; settings: DynashiftSettings },
): Promise<DynashiftDrain> {
  const dir = workDir(ctx, `ds-${o.target}`);
  // The stream after the backfill, as the minimal reader drains it alone: with it applied during the backfill (the
  // default since issue 14), "applying the source stream" is logged as the backfill starts and the timed window would
  // hold the backfill of the final state too, both sharing the emulator.
  const configPath = writeConfig({ dir, endpoint: local.endpoint, source: o.source, target: o.target, settings: o.settings, duringBackfill: false });
  const cli = spawnDynashift(['run', '-c', configPath, '--until-synced', '--no-progress', '--log-format', 'json'], { cli: ctx.o.cli, workDir: dir });
  sampler.track('dynashift', () => cli.pids());
  const out = await cli.done;
  sampler.untrack('dynashift');
  assertOk(out, 'dynashift run (stream only)');
  const t0 = time(out.events, msgStarts('applying the source stream'), 'applying the source stream').time;
  const synced = out.events.filter(msgStarts('in sync'));
  if (synced.length === 0) throw new Error('dynashift never reported "in sync"');
  const t1 = synced[0]!.time;
  const records = Number(synced.at(-1)!['appliedRecords'] ?? synced[0]!['records']);
  const seconds = (t1 - t0) / 1000;
  return {
    records,
    seconds,
    recordsPerSecond: records / seconds,
    cpu: sampler.split(t0, t1),
    ...(out.time ? { peakRssBytes: out.time.maxRssBytes } : {}),
  };
}

export interface DynashiftVerify {
  items: number;
  seconds: number;
  itemsPerSecond: number;
  identical: boolean;
  cpu: CpuSplit;
  peakRssBytes?: number;
}

export async function dynashiftVerify(ctx: Ctx, sampler: CpuSampler, configPath: string): Promise<DynashiftVerify> {
  const cli = spawnDynashift(['verify', '-c', configPath, '--json', '--log-format', 'json'], { cli: ctx.o.cli, workDir: ctx.work });
  sampler.track('dynashift', () => cli.pids());
  const out = await cli.done;
  const ended = Date.now();
  sampler.untrack('dynashift');
  if (out.code !== 0 && out.code !== 1) assertOk(out, 'dynashift verify');
  const result = JSON.parse(out.stdout) as { identical: boolean; durationMs: number; counts: { expected: number; actual: number } };
  const seconds = result.durationMs / 1000;
  return {
    items: result.counts.expected,
    seconds,
    itemsPerSecond: result.counts.expected / seconds,
    identical: result.identical,
    cpu: sampler.split(ended - result.durationMs, ended),
    ...(out.time ? { peakRssBytes: out.time.maxRssBytes } : {}),
  };
}
