import { parseArgs } from 'node:util';

export const SECTIONS = ['scaling', 'backfill', 'verify', 'stream', 'lag', 'backfill-lag', 'memory', 'faults', 'client-ceiling'] as const;
export type Section = (typeof SECTIONS)[number];

export interface BenchOptions {
  items: number;
  runs: number;
  seed: number;
  /** Runs of the scaling sweep (it copies the table 2 × segment counts times per run). */
  scalingRuns: number;
  segmentsList: number[];
  streamRecords: number;
  streamRuns: number;
  lagRuns: number;
  lagRate: number;
  lagSeconds: number;
  lagSeedItems: number;
  lagSampleEvery: number;
  /** put: one PutItem per write; batch: each 10 ms tick's writes in one BatchWriteItem (same writes/s, fewer requests). */
  lagWriter: 'put' | 'batch';
  /** backfill-lag section: source items, live writes/s, runs per mode, sampled writes (every Nth). */
  backfillLagItems: number;
  backfillLagRate: number;
  backfillLagRuns: number;
  backfillLagSampleEvery: number;
  copyTableSeconds: number;
  copyTableRuns: number;
  memorySizes: number[];
  /** Faults section: source items, stream backlog, runs, and the share of requests answered 500/503 (percent). */
  faultsItems: number;
  faultsStreamRecords: number;
  faultsRuns: number;
  faultRate: number;
  /** client-ceiling section: items on the null DynamoDB, interleaved runs per variant, and a folder for --cpu-prof. */
  ceilingItems: number;
  ceilingRuns: number;
  /** Worker threads of the client-ceiling section's multi-core run (backfill.workers), against one. */
  ceilingWorkers: number;
  ceilingCpuProf?: string;
  only: Section[];
  cli: 'tsx' | 'dist';
  dynashift: { segments: number; concurrency: number; pageSize: number; writeConcurrency: number; pollIntervalMs?: number };
  /** Minimal copier's write concurrency (its segment count comes from the scaling sweep, or --minimal-segments). */
  minimalWriteConcurrency: number;
  minimalSegments?: number;
  out?: string;
  updateMd: boolean;
  quick: boolean;
}

const HELP = `npm run bench -- [options]

  --items N               items in the dataset (default 100000; env BENCH_ITEMS)
  --runs N                runs per figure (median, min–max; default 3; env BENCH_RUNS)
  --quick                 development mode: --items 20000 --runs 1, shorter stream/lag/copy phases
  --only LIST             sections to run: ${SECTIONS.join(',')} (default all; verify needs backfill)
  --seed N                dataset seed (default 42)
  --segments-list LIST    segment counts for the scaling sweep (default 1,2,4,8,16)
  --scaling-runs N        runs of the scaling sweep (default 1: it copies the table 10 times per run)
  --stream-records N      changes in the stream backlog (default min(items, 50000))
  --stream-runs N         runs of the stream drain (default --runs)
  --lag-rate N            steady writes/s during the lag measurement (default 500)
  --lag-seconds N         measuring window after dynashift is in sync (default 30)
  --lag-seed-items N      source items before the lag measurement (default min(items, 10000))
  --lag-sample-every N    follow every Nth write on the target (default 5)
  --lag-writer batch|put  each 10 ms tick's writes in one BatchWriteItem (default), or one PutItem per write
                          (DynamoDB Local alone tops out near 460 single PutItems/s on 2 cores)
  --lag-runs N            runs of the lag measurement (default --runs)
  --backfill-lag-items N  backfill-lag section: source items (default --items)
  --backfill-lag-rate N   its live writer's steady single PutItems/s during the backfill (default 150)
  --backfill-lag-runs N   its runs per mode, interleaved new, old, new, old… (default --runs)
  --backfill-lag-sample-every N  follow every Nth live write on the target (default 5)
  --copy-table-seconds N  cap on each copy-dynamodb-table run; it copies at a constant rate (default 60)
  --copy-table-runs N     runs of copy-dynamodb-table (default --runs)
  --memory-sizes LIST     table sizes for the peak-RSS check (default: --items; e.g. 100000,1000000)
  --faults-items N        faults section: source items (default min(items, 20000))
  --faults-stream-records N  faults section: stream backlog (default min(items, 10000))
  --faults-runs N         runs of the faults section (default --runs)
  --fault-percent N       share of requests answered 500/503 in the faulted run (default 5)
  --ceiling-items N       client-ceiling section: items served by the null DynamoDB (default --items)
  --ceiling-runs N        its interleaved dynashift/minimal runs per variant, identity and transform (default --runs)
  --ceiling-workers N     its multi-core run: dynashift with backfill.workers N, against 1 (default 2)
  --ceiling-cpu-prof DIR  write a V8 CPU profile of every client process of that section into DIR
  --cli dist|tsx          run the built bin/dynashift.js as users do (default; npm run bench builds first), or src through tsx
  --ds-segments N --ds-concurrency N --ds-page-size N --ds-write-concurrency N --ds-poll-interval-ms N
                          dynashift settings (default: its defaults 16, 8, 1000, 16, 250)
  --minimal-segments N    fix the minimal copier's segments instead of taking the best of the sweep
  --minimal-write-concurrency N  (default 16)
  --out FILE              results JSON (default bench/results/bench-<time>.json, and latest.json)
  --update-md             rewrite the generated results section of BENCHMARKS.md
`;

function list(v: string | undefined): number[] | undefined {
  return v === undefined ? undefined : v.split(',').map((x) => positive(x.trim(), 'list'));
}

function positive(v: string, name: string): number {
  const n = Number(v.replace(/_/g, ''));
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name}: expected a positive whole number, got ${v}`);
  return n;
}

export function parseOptions(argv: string[]): BenchOptions | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      help: { type: 'boolean', short: 'h' },
      items: { type: 'string' },
      runs: { type: 'string' },
      quick: { type: 'boolean' },
      only: { type: 'string' },
      seed: { type: 'string' },
      'segments-list': { type: 'string' },
      'scaling-runs': { type: 'string' },
      'stream-records': { type: 'string' },
      'stream-runs': { type: 'string' },
      'lag-rate': { type: 'string' },
      'lag-seconds': { type: 'string' },
      'lag-seed-items': { type: 'string' },
      'lag-sample-every': { type: 'string' },
      'lag-writer': { type: 'string' },
      'lag-runs': { type: 'string' },
      'backfill-lag-items': { type: 'string' },
      'backfill-lag-rate': { type: 'string' },
      'backfill-lag-runs': { type: 'string' },
      'backfill-lag-sample-every': { type: 'string' },
      'copy-table-seconds': { type: 'string' },
      'copy-table-runs': { type: 'string' },
      'memory-sizes': { type: 'string' },
      cli: { type: 'string' },
      'faults-items': { type: 'string' },
      'faults-stream-records': { type: 'string' },
      'faults-runs': { type: 'string' },
      'fault-percent': { type: 'string' },
      'ceiling-items': { type: 'string' },
      'ceiling-runs': { type: 'string' },
      'ceiling-workers': { type: 'string' },
      'ceiling-cpu-prof': { type: 'string' },
      'ds-segments': { type: 'string' },
      'ds-concurrency': { type: 'string' },
      'ds-page-size': { type: 'string' },
      'ds-write-concurrency': { type: 'string' },
      'ds-poll-interval-ms': { type: 'string' },
      'minimal-segments': { type: 'string' },
      'minimal-write-concurrency': { type: 'string' },
      out: { type: 'string' },
      'update-md': { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return undefined;
  }
  const quick = values.quick === true;
  const num = (name: keyof typeof values, fallback: number): number => {
    const v = values[name];
    return typeof v === 'string' ? positive(v, name) : fallback;
  };
  const items = num('items', Number(process.env.BENCH_ITEMS ?? (quick ? 20_000 : 100_000)));
  const runs = num('runs', Number(process.env.BENCH_RUNS ?? (quick ? 1 : 3)));
  const only = values.only ? values.only.split(',').map((s) => s.trim()) : [...SECTIONS];
  for (const s of only)
    if (!(SECTIONS as readonly string[]).includes(s)) throw new Error(`--only: unknown section ${s} (known: ${SECTIONS.join(', ')})`);
  const lagWriter = values['lag-writer'] ?? 'batch';
  if (lagWriter !== 'put' && lagWriter !== 'batch') throw new Error('--lag-writer: expected put or batch');
  const cli = values.cli ?? 'dist';
  if (cli !== 'tsx' && cli !== 'dist') throw new Error('--cli: expected tsx or dist');
  return {
    items,
    runs,
    quick,
    seed: num('seed', 42),
    scalingRuns: num('scaling-runs', 1),
    segmentsList: list(values['segments-list']) ?? [1, 2, 4, 8, 16],
    streamRecords: num('stream-records', Math.min(items, quick ? 10_000 : 50_000)),
    streamRuns: num('stream-runs', runs),
    lagRuns: num('lag-runs', runs),
    lagRate: num('lag-rate', 500),
    lagSeconds: num('lag-seconds', quick ? 15 : 30),
    lagSeedItems: num('lag-seed-items', Math.min(items, quick ? 2_000 : 10_000)),
    lagSampleEvery: num('lag-sample-every', 5),
    lagWriter,
    backfillLagItems: num('backfill-lag-items', items),
    backfillLagRate: num('backfill-lag-rate', 150),
    backfillLagRuns: num('backfill-lag-runs', runs),
    backfillLagSampleEvery: num('backfill-lag-sample-every', 5),
    copyTableSeconds: num('copy-table-seconds', quick ? 20 : 60),
    copyTableRuns: num('copy-table-runs', runs),
    memorySizes: list(values['memory-sizes']) ?? [items],
    faultsItems: num('faults-items', Math.min(items, 20_000)),
    faultsStreamRecords: num('faults-stream-records', Math.min(items, 10_000)),
    faultsRuns: num('faults-runs', runs),
    faultRate: num('fault-percent', 5) / 100,
    ceilingItems: num('ceiling-items', items),
    ceilingRuns: num('ceiling-runs', runs),
    ceilingWorkers: num('ceiling-workers', 2),
    ...(values['ceiling-cpu-prof'] ? { ceilingCpuProf: values['ceiling-cpu-prof'] } : {}),
    only: only as Section[],
    cli,
    dynashift: {
      segments: num('ds-segments', 16),
      concurrency: num('ds-concurrency', 8),
      pageSize: num('ds-page-size', 1000),
      writeConcurrency: num('ds-write-concurrency', 16),
      ...(values['ds-poll-interval-ms'] ? { pollIntervalMs: positive(values['ds-poll-interval-ms'], 'ds-poll-interval-ms') } : {}),
    },
    minimalWriteConcurrency: num('minimal-write-concurrency', 16),
    ...(values['minimal-segments'] ? { minimalSegments: positive(values['minimal-segments'], 'minimal-segments') } : {}),
    ...(values.out ? { out: values.out } : {}),
    updateMd: values['update-md'] === true,
  };
}
