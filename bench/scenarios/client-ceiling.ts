/**
 * The client ceiling: how many items per second one client process can move when the service costs nothing, and what
 * each item costs it in CPU. On real DynamoDB the service scales and the migrating machine's CPU is the limit; DynamoDB
 * Local hides that (its JVM is the bottleneck). Against the null DynamoDB (bench/null-dynamodb/, its own process:
 * pre-serialized Scan pages, acknowledged BatchWriteItems), dynashift (`run --until-synced`, the real CLI) and the
 * minimal copier (its own process, logger middleware removed like dynashift's) copy the dataset, on identity and on
 * a key-changing transform (bench/null-dynamodb/rekey.mjs), interleaved: each run rotates which contender goes first.
 *
 * The multi-core run (issue 16's `backfill.workers`): dynashift again with `--ceiling-workers` worker threads (default
 * 2), in the same rotation; the single-thread dynashift run above has `backfill.workers: 1`, so it stays the
 * one-core figure the CPU-per-item goals are judged by, and the two give the workers' speed-up.
 *
 * Client CPU is the process's user + system time over the copy alone (dynashift: from "backfill started" to "backfill
 * complete" in its log, sampled from /proc every 100 ms; the minimal copier measures its own), so start-up, planning
 * and the stream catch-up are left out; the whole process's CPU is recorded too.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { assertOk, msgIs, ROOT, spawnDynashift, writeConfig, type LogEvent } from '../contenders/dynashift.js';
import { startNullServer, type NullServer } from '../lib/null-server.js';
import { CpuSampler, loadAverage } from '../lib/proc.js';
import { fmt } from './backfill.js';
import { rotate, workDir, type Ctx } from './common.js';

export const REKEY = path.join(ROOT, 'bench/null-dynamodb/rekey.mjs');

export type CeilingVariant = 'identity' | 'transform';

export interface CeilingMeasure {
  items: number;
  seconds: number;
  itemsPerSecond: number;
  /** User + system CPU seconds of the client process during the copy. */
  clientCpuSeconds: number;
  /** The same per 100,000 items. */
  cpuPer100k: number;
  /** The whole client process, start-up and planning included. */
  processCpuSeconds?: number;
  /** The null server's CPU seconds during the copy, and its share of all cores. */
  serverCpuSeconds: number;
  serverShare: number;
  /** Everything else on the machine during the copy (other processes): the noise indicator. */
  otherShare: number;
  /** Puts the server acknowledged (at least the items; more only if something was sent twice). */
  puts: number;
}

export interface ClientCeilingRun {
  run: number;
  variant: CeilingVariant;
  order: string[];
  loadAverage: number[];
  /** dynashift in one thread (backfill.workers: 1). */
  dynashift: CeilingMeasure;
  minimal: CeilingMeasure;
  /** dynashift with `workers` worker threads. */
  workers?: { workers: number; measure: CeilingMeasure };
}

export interface ClientCeilingSection {
  items: number;
  runs: ClientCeilingRun[];
}

export async function clientCeiling(ctx: Ctx, onRun: (run: ClientCeilingRun) => void): Promise<void> {
  const { o } = ctx;
  const items = o.ceilingItems;
  const minimalSegments = o.minimalSegments ?? o.dynashift.concurrency;
  const server = await startNullServer({
    items,
    seed: o.seed,
    prebuild: [
      { segments: o.dynashift.segments, pageSize: o.dynashift.pageSize },
      { segments: minimalSegments, pageSize: o.dynashift.pageSize },
    ],
  });
  ctx.log(`  null DynamoDB on ${server.endpoint} (pid ${server.pid}), ${items.toLocaleString('en-US')} items`);
  const sampler = new CpuSampler(100);
  sampler.track('server', server.pid);
  sampler.start();
  let n = 0;
  try {
    for (let r = 0; r < o.ceilingRuns; r++) {
      for (const variant of ['identity', 'transform'] as const) {
        const order = rotate(['dynashift', 'minimal', 'workers'], r + (variant === 'transform' ? 1 : 0));
        const load = loadAverage();
        const got: Partial<Record<'dynashift' | 'minimal' | 'workers', CeilingMeasure>> = {};
        for (const who of order) {
          const label = `client-${n++}`;
          const m =
            who === 'minimal'
              ? await minimalCopyProcess(ctx, server, sampler, label, variant, minimalSegments)
              : await dynashiftCopy(ctx, server, sampler, label, variant, `${variant}-${who}-${r}`, who === 'workers' ? o.ceilingWorkers : 1);
          if (m.puts < items) throw new Error(`${who} (${variant}) wrote ${m.puts} items to the null DynamoDB, expected ${items}`);
          got[who as 'dynashift' | 'minimal' | 'workers'] = m;
          const name = who === 'workers' ? `dynashift ${o.ceilingWorkers}w` : who;
          ctx.log(
            `    ${variant.padEnd(9)} ${name.padEnd(12)} ${fmt(m.itemsPerSecond)} items/s, ${m.cpuPer100k.toFixed(2)} CPU-s per 100k items (server ${Math.round(m.serverShare * 100)}%, other ${Math.round(m.otherShare * 100)}% of the cores)`,
          );
        }
        onRun({
          run: r,
          variant,
          order,
          loadAverage: load,
          dynashift: got.dynashift!,
          minimal: got.minimal!,
          workers: { workers: o.ceilingWorkers, measure: got.workers! },
        });
      }
    }
  } finally {
    sampler.stop();
    await server.stop();
  }
}

function measure(o: {
  items: number;
  seconds: number;
  clientCpuSeconds: number;
  processCpuSeconds?: number;
  split: ReturnType<CpuSampler['split']>;
  puts: number;
}): CeilingMeasure {
  return {
    items: o.items,
    seconds: o.seconds,
    itemsPerSecond: o.items / o.seconds,
    clientCpuSeconds: o.clientCpuSeconds,
    cpuPer100k: (o.clientCpuSeconds / o.items) * 100_000,
    ...(o.processCpuSeconds !== undefined ? { processCpuSeconds: o.processCpuSeconds } : {}),
    serverCpuSeconds: o.split.seconds['server'] ?? 0,
    serverShare: o.split.share['server'] ?? 0,
    otherShare: o.split.share['other'] ?? 0,
    puts: o.puts,
  };
}

async function dynashiftCopy(
  ctx: Ctx,
  server: NullServer,
  sampler: CpuSampler,
  label: string,
  variant: CeilingVariant,
  name: string,
  workers: number,
): Promise<CeilingMeasure> {
  const dir = workDir(ctx, `ceiling-ds-${name}`);
  const configPath = writeConfig({
    dir,
    endpoint: server.endpoint,
    source: 'source',
    target: variant === 'transform' ? 'target_pk' : 'target_id',
    settings: { ...ctx.o.dynashift, workers },
    ...(variant === 'transform' ? { transform: REKEY } : {}),
  });
  await server.reset();
  const nodeArgs = ctx.o.ceilingCpuProf
    ? ['--cpu-prof', '--cpu-prof-dir', path.resolve(ctx.o.ceilingCpuProf), '--cpu-prof-name', `dynashift-${name}.cpuprofile`]
    : [];
  const cli = spawnDynashift(['run', '-c', configPath, '--until-synced', '--no-progress', '--log-format', 'json'], {
    cli: ctx.o.cli,
    workDir: dir,
    nodeArgs,
  });
  sampler.track(label, () => cli.pids());
  const out = await cli.done;
  sampler.untrack(label);
  assertOk(out, 'dynashift run (null DynamoDB)');
  const at = (msg: string): LogEvent => {
    const e = out.events.find(msgIs(msg));
    if (!e) throw new Error(`dynashift log has no "${msg}" line`);
    return e;
  };
  const t0 = at('backfill started').time;
  const end = at('backfill complete');
  const split = sampler.split(t0, end.time);
  const stats = await server.stats();
  return measure({
    items: Number(end['items']),
    seconds: (end.time - t0) / 1000,
    clientCpuSeconds: split.seconds[label] ?? NaN,
    ...(out.time ? { processCpuSeconds: out.time.userSeconds + out.time.systemSeconds } : {}),
    split,
    puts: stats.puts,
  });
}

async function minimalCopyProcess(
  ctx: Ctx,
  server: NullServer,
  sampler: CpuSampler,
  label: string,
  variant: CeilingVariant,
  segments: number,
): Promise<CeilingMeasure> {
  await server.reset();
  const prof = ctx.o.ceilingCpuProf
    ? ['--cpu-prof', '--cpu-prof-dir', path.resolve(ctx.o.ceilingCpuProf), '--cpu-prof-name', `minimal-${variant}-${label}.cpuprofile`]
    : [];
  const args = [
    ...prof,
    '--import',
    'tsx',
    path.join(ROOT, 'bench/contenders/minimal-copier-main.ts'),
    '--endpoint',
    server.endpoint,
    '--target',
    variant === 'transform' ? 'target_pk' : 'target_id',
    '--segments',
    String(segments),
    '--write-concurrency',
    String(ctx.o.minimalWriteConcurrency),
    '--page-size',
    String(ctx.o.dynashift.pageSize),
    ...(variant === 'transform' ? ['--transform', REKEY] : []),
  ];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  sampler.track(label, child.pid!);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-10_000)));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  sampler.untrack(label);
  if (code !== 0) throw new Error(`minimal copier failed (exit ${code}):\n${stderr}`);
  const r = JSON.parse(stdout.trim().split('\n').pop()!) as {
    items: number;
    seconds: number;
    startedAt: number;
    endedAt: number;
    cpuSeconds: number;
    processCpuSeconds: number;
  };
  const stats = await server.stats();
  return measure({
    items: r.items,
    seconds: r.seconds,
    clientCpuSeconds: r.cpuSeconds,
    processCpuSeconds: r.processCpuSeconds,
    split: sampler.split(r.startedAt, r.endedAt),
    puts: stats.puts,
  });
}
