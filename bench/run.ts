/**
 * `npm run bench` — dynashift's benchmarks against DynamoDB Local: backfill, stream apply, lag, verify, memory and
 * scaling, each against a minimal hand-written baseline on the same emulator (and copy-dynamodb-table for the
 * backfill). `npm run bench -- --help` lists the options; `--quick` is the development mode.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
process.env.AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE ??= '1';

import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './contenders/dynashift.js';
import { itemBytes, makeItem } from './lib/dataset.js';
import { jarDate } from './lib/local.js';
import { parseOptions, type BenchOptions } from './lib/options.js';
import { loadAverage, machineInfo } from './lib/proc.js';
import { buildReport, renderMarkdown, renderText, type BenchResults } from './report.js';
import { backfillRun, verifyAvailable, type BackfillRun } from './scenarios/backfill.js';
import { RESULTS_DIR, type Ctx } from './scenarios/common.js';
import { lagRun, type LagRun } from './scenarios/lag.js';
import { backfillLagRun } from './scenarios/backfill-lag.js';
import { faultsRun } from './scenarios/faults.js';
import { memoryRun } from './scenarios/memory.js';
import { scalingRun, type ScalingRun } from './scenarios/scaling.js';
import { streamRun, type StreamRun } from './scenarios/stream.js';
import { summarize } from './lib/stats.js';
import { clientCeiling } from './scenarios/client-ceiling.js';

async function main(): Promise<number> {
  const o = parseOptions(process.argv.slice(2));
  if (!o) return 0;
  const startedAt = new Date();
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  mkdirSync(RESULTS_DIR, { recursive: true });
  const work = path.join(RESULTS_DIR, `work-${stamp}`);
  mkdirSync(work, { recursive: true });
  const ctx: Ctx = { o, work, log: (msg) => process.stderr.write(`${msg}\n`) };
  const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  ctx.log(`dynashift bench: ${command}`);
  ctx.log(
    `  ${o.items.toLocaleString('en-US')} items, ${o.runs} run(s); sections: ${o.only.join(', ')}; load average now ${loadAverage().join(' ')}`,
  );

  const raw: BenchResults['raw'] = {};
  const results: BenchResults = {
    meta: {
      command,
      startedAt: startedAt.toISOString(),
      finishedAt: '',
      durationSeconds: 0,
      options: o,
      machine: { ...machineInfo(), loadAverageAtStart: loadAverage() },
      versions: versions(),
      dataset: dataset(o),
    },
    raw,
  };
  const t0 = Date.now();
  const want = (s: string): boolean => (o.only as string[]).includes(s);
  const save = (): string => writeResults(results, o, stamp, t0);
  // One section's failure (a timeout, a contender that never got in sync) is recorded and reported as a missed target;
  // the sections after it still run, so a long run is not lost to one of them.
  const attempt = async (section: string, runsDone: () => number, body: () => Promise<void>): Promise<void> => {
    try {
      await body();
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      ctx.log(`  ! ${section} failed after ${runsDone()} complete run(s): ${error}`);
      (raw.failed ??= []).push({ section, runsDone: runsDone(), error });
      save();
    }
  };

  try {
    // 5. Scaling first: it also finds the minimal copier's best segment count for the backfill comparison.
    if (want('scaling')) {
      await attempt(
        'scaling',
        () => raw.scaling?.length ?? 0,
        async () => {
          ctx.log(`\n== scaling: backfill items/s against segments (${o.segmentsList.join(', ')})`);
          raw.scaling = [];
          for (let r = 0; r < o.scalingRuns; r++) {
            raw.scaling.push(await scalingRun(ctx, r));
            save();
          }
        },
      );
    }
    const minimal = { segments: o.minimalSegments ?? bestMinimalSegments(raw.scaling) ?? 8, writeConcurrency: o.minimalWriteConcurrency };
    raw.minimalSettings = minimal;

    // 1 + 3. Backfill against the baselines, with verify measured on dynashift's copy.
    const verify = verifyAvailable();
    raw.verifyAvailable = verify;
    if (want('backfill') || want('verify')) {
      await attempt(
        'backfill',
        () => raw.backfill?.length ?? 0,
        async () => {
          const withVerify = want('verify') && verify.available;
          if (want('verify') && !verify.available) ctx.log(`\n== verify: not available (${verify.reason}); skipped`);
          ctx.log(
            `\n== backfill: dynashift vs minimal copier (${minimal.segments} segments, ${minimal.writeConcurrency} writes) vs copy-dynamodb-table${withVerify ? "; verify on dynashift's copy" : ''}`,
          );
          raw.backfill = [];
          for (let r = 0; r < o.runs; r++) {
            raw.backfill.push(await backfillRun(ctx, r, minimal, withVerify));
            save();
          }
        },
      );
    }

    // 2. Stream apply: drain a backlog.
    if (want('stream')) {
      await attempt(
        'stream',
        () => raw.stream?.length ?? 0,
        async () => {
          ctx.log(`\n== stream: draining a backlog of ${o.streamRecords.toLocaleString('en-US')} changes`);
          raw.stream = [];
          for (let r = 0; r < o.streamRuns; r++) {
            raw.stream.push(await streamRun(ctx, r));
            save();
          }
        },
      );
    }

    // 2b. Lag at a steady write rate.
    if (want('lag')) {
      await attempt(
        'lag',
        () => raw.lag?.length ?? 0,
        async () => {
          ctx.log(`\n== lag: ${o.lagRate} writes/s, measured for ${o.lagSeconds} s after dynashift is in sync`);
          raw.lag = [];
          for (let r = 0; r < o.lagRuns; r++) {
            raw.lag.push(await lagRun(ctx, r));
            save();
          }
        },
      );
    }

    // 2c. Lag during a backfill under a live writer: the stream applied during the backfill (new) vs after it (old).
    if (want('backfill-lag')) {
      await attempt(
        'backfill-lag',
        () => raw.backfillLag?.length ?? 0,
        async () => {
          ctx.log(
            `\n== backfill-lag: ${o.backfillLagItems.toLocaleString('en-US')} items, ${o.backfillLagRate} writes/s; stream applied during the backfill (new) vs after it (old)`,
          );
          raw.backfillLag = [];
          for (let r = 0; r < o.backfillLagRuns; r++) {
            for (const mode of ['new', 'old'] as const) {
              raw.backfillLag.push(await backfillLagRun(ctx, r, mode));
              save();
            }
          }
        },
      );
    }

    // 4. Memory at further table sizes (the backfill runs already measured --items).
    if (want('memory')) {
      await attempt(
        'memory',
        () => raw.memory?.length ?? 0,
        async () => {
          const sizes = o.memorySizes.filter((n) => !(n === o.items && raw.backfill?.length));
          if (sizes.length) ctx.log(`\n== memory: peak RSS of dynashift at ${sizes.map((n) => n.toLocaleString('en-US')).join(', ')} items`);
          raw.memory = [];
          for (const size of sizes) {
            raw.memory.push(await memoryRun(ctx, size));
            save();
          }
        },
      );
    }

    // 6. Throughput under injected 5xx errors vs fault-free.
    if (want('faults')) {
      await attempt(
        'faults',
        () => raw.faults?.length ?? 0,
        async () => {
          ctx.log(`\n== faults: backfill and catch-up with ${Math.round(o.faultRate * 100)}% of requests answered 500/503, vs fault-free`);
          raw.faults = [];
          for (let r = 0; r < o.faultsRuns; r++) {
            raw.faults.push(await faultsRun(ctx, r));
            save();
          }
        },
      );
    }

    // 7. The client ceiling: CPU per item against the null DynamoDB (no emulator in the way).
    if (want('client-ceiling')) {
      await attempt(
        'client-ceiling',
        () => raw.clientCeiling?.length ?? 0,
        async () => {
          ctx.log(
            `\n== client-ceiling: ${o.ceilingItems.toLocaleString('en-US')} items from the null DynamoDB, dynashift vs minimal copier, identity and key-changing transform, interleaved`,
          );
          raw.clientCeiling = [];
          await clientCeiling(ctx, (run) => {
            raw.clientCeiling!.push(run);
            save();
          });
        },
      );
    }
  } finally {
    save();
    rmSync(work, { recursive: true, force: true });
  }

  const report = buildReport(results);
  results.report = report;
  const file = save();
  process.stdout.write(renderText(results));
  process.stdout.write(`\nraw results: ${path.relative(process.cwd(), file)}\n`);
  if (o.updateMd) {
    updateBenchmarksMd(renderMarkdown(results));
    process.stdout.write('BENCHMARKS.md: generated section updated\n');
  }
  // A failed section fails the command too, after the results (and the generated section) are written.
  return raw.failed?.length ? 1 : 0;
}

function bestMinimalSegments(scaling: ScalingRun[] | undefined): number | undefined {
  if (!scaling?.length) return undefined;
  const bySegments = new Map<number, number[]>();
  for (const run of scaling) {
    for (const p of run.points) bySegments.set(p.segments, [...(bySegments.get(p.segments) ?? []), p.minimal.itemsPerSecond]);
  }
  let best: [number, number] | undefined;
  for (const [segments, values] of bySegments) {
    const m = summarize(values).median;
    if (!best || m > best[1]) best = [segments, m];
  }
  return best?.[0];
}

function versions(): BenchResults['meta']['versions'] {
  const pkg = (p: string): string => (JSON.parse(readFileSync(path.join(ROOT, p), 'utf8')) as { version: string }).version;
  let java = 'unknown';
  try {
    java = execFileSync('sh', ['-c', 'java -version 2>&1 | head -1'], { encoding: 'utf8' }).trim();
  } catch {
    // keep what we have
  }
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8' }).trim();
    if (dirty) commit += ' + uncommitted src/ changes';
  } catch {
    // not a git checkout
  }
  return {
    node: process.version,
    java,
    dynamodbLocal: jarDate(),
    dynashift: `${pkg('package.json')} (${commit})`,
    copyDynamodbTable: pkg('node_modules/copy-dynamodb-table/package.json'),
    awsSdkV3: pkg('node_modules/@aws-sdk/client-dynamodb/package.json'),
    awsSdkV2: pkg('node_modules/aws-sdk/package.json'),
  };
}

function dataset(o: BenchOptions): BenchResults['meta']['dataset'] {
  let bytes = 0;
  const sample = Math.min(o.items, 2000);
  for (let n = 0; n < sample; n++) bytes += itemBytes(makeItem(o.seed, n));
  const avg = bytes / sample;
  return {
    items: o.items,
    seed: o.seed,
    averageItemBytes: Math.round(avg),
    approximateMegabytes: Math.round((avg * o.items) / 2 ** 20),
    attributeTypes: 'S N B BOOL NULL SS NS BS L M (38-digit and tiny-exponent numbers, Unicode, empty string, nested maps and lists)',
  };
}

function writeResults(results: BenchResults, o: BenchOptions, stamp: string, t0: number): string {
  results.meta.finishedAt = new Date().toISOString();
  results.meta.durationSeconds = Math.round((Date.now() - t0) / 1000);
  const file = o.out ? path.resolve(o.out) : path.join(RESULTS_DIR, `bench-${stamp}.json`);
  mkdirSync(path.dirname(file), { recursive: true });
  const text = `${JSON.stringify(results, null, 2)}\n`;
  writeFileSync(file, text);
  writeFileSync(path.join(RESULTS_DIR, 'latest.json'), text);
  return file;
}

const MD_START = '<!-- bench:generated:start -->';
const MD_END = '<!-- bench:generated:end -->';

function updateBenchmarksMd(section: string): void {
  const file = path.join(ROOT, 'BENCHMARKS.md');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    text = `# Benchmarks\n\n${MD_START}\n${MD_END}\n`;
  }
  const a = text.indexOf(MD_START);
  const b = text.indexOf(MD_END);
  const block = `${MD_START}\n${section.trim()}\n${MD_END}`;
  text = a >= 0 && b > a ? text.slice(0, a) + block + text.slice(b + MD_END.length) : `${text.trimEnd()}\n\n${block}\n`;
  writeFileSync(file, text);
}

export type { BackfillRun, LagRun, StreamRun };

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
