/** Summaries (median, min–max), ratios against the targets, and the text / Markdown renderings. */
import type { FaultsRun } from './scenarios/faults.js';
import type { BenchOptions } from './lib/options.js';
import type { CpuSplit } from './lib/proc.js';
import { summarize, type Summary } from './lib/stats.js';
import type { BackfillRun } from './scenarios/backfill.js';
import type { DynashiftBackfill } from './scenarios/dynashift-runs.js';
import type { LagRun } from './scenarios/lag.js';
import type { BackfillLagRun } from './scenarios/backfill-lag.js';
import type { ScalingRun } from './scenarios/scaling.js';
import type { StreamRun } from './scenarios/stream.js';
import type { CeilingMeasure, CeilingVariant, ClientCeilingRun } from './scenarios/client-ceiling.js';

export interface BenchResults {
  meta: {
    command: string;
    startedAt: string;
    finishedAt: string;
    durationSeconds: number;
    options: BenchOptions;
    machine: { cpuModel: string; cores: number; memoryGiB: number; loadAverageAtStart: number[] };
    versions: Record<string, string>;
    dataset: { items: number; seed: number; averageItemBytes: number; approximateMegabytes: number; attributeTypes: string };
  };
  raw: {
    scaling?: ScalingRun[];
    minimalSettings?: { segments: number; writeConcurrency: number };
    verifyAvailable?: { available: boolean; reason?: string };
    backfill?: BackfillRun[];
    stream?: StreamRun[];
    lag?: LagRun[];
    backfillLag?: BackfillLagRun[];
    memory?: (DynashiftBackfill & { tableItems: number })[];
    faults?: FaultsRun[];
    clientCeiling?: ClientCeilingRun[];
    /** Sections that stopped on an error; their completed runs (if any) are still reported. */
    failed?: FailedSection[];
  };
  report?: Report;
}

export interface FailedSection {
  section: string;
  /** Runs of the section that completed before the error. */
  runsDone: number;
  error: string;
}

/** CPU share of the machine (all cores) per process group, median over runs. */
interface CpuShares {
  jvm: number;
  node: number;
  other: number;
}

interface Row {
  name: string;
  value: Summary;
  mb?: Summary;
  cpu?: CpuShares;
  rss?: Summary;
  note?: string;
}

interface Target {
  name: string;
  target: string;
  measured: string;
  met: boolean | undefined;
}

export interface Report {
  backfill?: {
    rows: Row[];
    ratioMinimal?: Summary;
    ratioCopyTable?: Summary;
    copyTableCapped: boolean;
    capacityCost?: Summary;
    ratioMinimalCapacity?: Summary;
  };
  verify?: { rows: Row[]; ratio?: Summary; identical: boolean } | { unavailable: string };
  stream?: { rows: Row[]; ratio: Summary; records: number; match: boolean };
  lag?: {
    p50: Summary;
    p90: Summary;
    p99: Summary;
    max: Summary;
    achieved: Summary;
    catchUp: Summary;
    backfill: Summary;
    samples: number;
    unseen: number;
    cpu: CpuShares;
    pollCycleMs: Summary;
    writeP99: Summary;
  };
  /** Per figure: the new mode (stream applied during the backfill), the old one, and the ratio of their medians. */
  backfillLag?: { name: string; new: Summary; old: Summary; ratio: number; digits: number }[];
  memory?: { sizes: { items: number; rss: Summary; itemsPerSecond: Summary }[]; flat?: number };
  scaling?: { segments: number; dynashift: Summary; minimal: Summary; ratio: Summary; cpu: CpuShares }[];
  clientCeiling?: {
    variants: {
      variant: CeilingVariant;
      rows: { name: string; itemsPerSecond: Summary; cpuPer100k: Summary; processCpu: Summary; serverShare: Summary; otherShare: Summary }[];
      /** dynashift ÷ minimal copier, per run, then the median. */
      cpuRatio: Summary;
      speedRatio: Summary;
      /** dynashift with N worker threads ÷ dynashift in one, items/s, per round, then the median. */
      workersSpeedup?: { workers: number; ratio: Summary };
    }[];
    /** dynashift's transform run ÷ its identity run of the same round: copy seconds and CPU per item. */
    transformSeconds?: Summary;
    transformCpu?: Summary;
  };
  targets: Target[];
}

const med = (xs: number[]): number => summarize(xs).median;

function shares(splits: (CpuSplit | undefined)[], nodeLabels: string[]): CpuShares {
  const ok = splits.filter((s): s is CpuSplit => s !== undefined);
  return {
    jvm: med(ok.map((s) => s.share['jvm'] ?? 0)),
    node: med(ok.map((s) => nodeLabels.reduce((n, l) => n + (s.share[l] ?? 0), 0))),
    other: med(ok.map((s) => s.share['other'] ?? 0)),
  };
}

export function buildReport(r: BenchResults): Report {
  const { raw, meta } = r;
  const o = meta.options;
  const targets: Target[] = [];
  const rep: Report = { targets };
  // A section that failed is a missed target, whatever it measured before the error.
  for (const f of raw.failed ?? []) {
    targets.push({
      name: `${f.section} section completes`,
      target: 'every run',
      measured: `failed after ${f.runsDone} run(s): ${f.error.split('\n')[0]}`,
      met: false,
    });
  }

  if (raw.backfill?.length) {
    const b = raw.backfill;
    const ds = o.dynashift;
    const ct = b.filter((x) => x.copyTable);
    const rows: Row[] = [
      {
        name: `dynashift (${ds.segments} segments, ${ds.concurrency} at once, page ${ds.pageSize}, ${ds.writeConcurrency} writes)`,
        value: summarize(b.map((x) => x.dynashift.itemsPerSecond)),
        mb: summarize(b.map((x) => x.dynashift.mbPerSecond)),
        cpu: shares(
          b.map((x) => x.dynashift.cpu),
          ['dynashift', 'bench'],
        ),
        rss: summarize(b.map((x) => x.dynashift.peakRssBytes ?? NaN)),
      },
      {
        name: `minimal copier (${raw.minimalSettings?.segments} segments, ${raw.minimalSettings?.writeConcurrency} writes)`,
        value: summarize(b.map((x) => x.minimal.itemsPerSecond)),
        mb: summarize(b.map((x) => x.minimal.mbPerSecond ?? NaN)),
        cpu: shares(
          b.map((x) => x.minimal.cpu),
          ['bench'],
        ),
      },
    ];
    const mc = b.filter((x) => x.minimalCapacity);
    if (mc.length) {
      rows.push({
        name: 'minimal copier + ReturnConsumedCapacity (as dynashift asks)',
        value: summarize(mc.map((x) => x.minimalCapacity!.itemsPerSecond)),
        mb: summarize(mc.map((x) => x.minimalCapacity!.mbPerSecond ?? NaN)),
        cpu: shares(
          mc.map((x) => x.minimalCapacity!.cpu),
          ['bench'],
        ),
      });
    }
    if (ct.length) {
      const capped = ct.some((x) => !x.copyTable!.complete);
      rows.push({
        name: 'copy-dynamodb-table (keep-alive, wrapNumbers)',
        value: summarize(ct.map((x) => x.copyTable!.itemsPerSecond)),
        mb: summarize(ct.map((x) => x.copyTable!.mbPerSecond ?? NaN)),
        cpu: shares(
          ct.map((x) => x.copyTable!.cpu),
          ['bench'],
        ),
        ...(capped ? { note: `rate over the first ${o.copyTableSeconds} s` } : {}),
      });
    }
    const ratioMinimal = summarize(b.map((x) => x.dynashift.itemsPerSecond / x.minimal.itemsPerSecond));
    const ratioCopyTable = ct.length ? summarize(ct.map((x) => x.dynashift.itemsPerSecond / x.copyTable!.itemsPerSecond)) : undefined;
    const capacityCost = mc.length ? summarize(mc.map((x) => x.minimalCapacity!.itemsPerSecond / x.minimal.itemsPerSecond)) : undefined;
    const ratioMinimalCapacity = mc.length ? summarize(mc.map((x) => x.dynashift.itemsPerSecond / x.minimalCapacity!.itemsPerSecond)) : undefined;
    rep.backfill = {
      rows,
      ratioMinimal,
      ...(ratioCopyTable ? { ratioCopyTable } : {}),
      copyTableCapped: ct.some((x) => !x.copyTable!.complete),
      ...(capacityCost && ratioMinimalCapacity ? { capacityCost, ratioMinimalCapacity } : {}),
    };
    targets.push({
      name: 'backfill vs minimal copier',
      target: '≥ 0.90×',
      measured: `${ratioMinimal.median.toFixed(2)}× [${ratioMinimal.min.toFixed(2)}–${ratioMinimal.max.toFixed(2)}]`,
      met: ratioMinimal.median >= 0.9,
    });
    if (ratioCopyTable) {
      targets.push({
        name: 'backfill vs copy-dynamodb-table',
        target: 'far ahead (≥ 2×)',
        measured: `${ratioCopyTable.median.toFixed(1)}× [${ratioCopyTable.min.toFixed(1)}–${ratioCopyTable.max.toFixed(1)}]`,
        met: ratioCopyTable.median >= 2,
      });
    }

    const v = b.filter((x) => x.verify);
    if (v.length) {
      const ratio = summarize(v.map((x) => x.verify!.dynashift.itemsPerSecond / x.verify!.minimal.itemsPerSecond));
      rep.verify = {
        rows: [
          {
            name: 'dynashift verify (full, default settings)',
            value: summarize(v.map((x) => x.verify!.dynashift.itemsPerSecond)),
            cpu: shares(
              v.map((x) => x.verify!.dynashift.cpu),
              ['dynashift', 'bench'],
            ),
            rss: summarize(v.map((x) => x.verify!.dynashift.peakRssBytes ?? NaN)),
          },
          {
            name: 'minimal two-sided scan (8 segments per side)',
            value: summarize(v.map((x) => x.verify!.minimal.itemsPerSecond)),
            cpu: shares(
              v.map((x) => x.verify!.minimal.cpu),
              ['bench'],
            ),
          },
        ],
        ratio,
        identical: v.every((x) => x.verify!.dynashift.identical && x.verify!.minimal.identical),
      };
      // Issue 16's targets for verify: speed, and memory bounded at the bench's size.
      targets.push({
        name: 'verify vs minimal two-sided scan',
        target: '≥ 0.90×',
        measured: `${ratio.median.toFixed(2)}× [${ratio.min.toFixed(2)}–${ratio.max.toFixed(2)}]`,
        met: ratio.median >= 0.9,
      });
      const verifyRss = v.map((x) => x.verify!.dynashift.peakRssBytes).filter((b): b is number => b !== undefined);
      if (verifyRss.length) {
        const worst = Math.max(...verifyRss) / 2 ** 20;
        targets.push({ name: 'peak RSS of dynashift verify', target: '≤ 256 MB', measured: `${worst.toFixed(0)} MB (worst run)`, met: worst <= 256 });
      }
    } else if (raw.verifyAvailable && !raw.verifyAvailable.available) {
      rep.verify = { unavailable: raw.verifyAvailable.reason ?? 'not available' };
    }
  }

  if (raw.stream?.length) {
    const s = raw.stream;
    const ratio = summarize(s.map((x) => x.dynashift.recordsPerSecond / x.minimal.recordsPerSecond));
    rep.stream = {
      rows: [
        {
          name: `dynashift (stream only, ${o.dynashift.writeConcurrency} writes)`,
          value: summarize(s.map((x) => x.dynashift.recordsPerSecond)),
          cpu: shares(
            s.map((x) => x.dynashift.cpu),
            ['dynashift', 'bench'],
          ),
          rss: summarize(s.map((x) => x.dynashift.peakRssBytes ?? NaN)),
        },
        {
          name: `minimal reader + writer (${o.minimalWriteConcurrency} writes)`,
          value: summarize(s.map((x) => x.minimal.recordsPerSecond)),
          cpu: shares(
            s.map((x) => x.minimal.cpu),
            ['bench'],
          ),
        },
      ],
      ratio,
      records: med(s.map((x) => x.minimal.records)),
      match: s.every((x) => x.targetsMatch),
    };
    targets.push({
      name: 'stream drain vs minimal reader',
      target: '≥ 0.90×',
      measured: `${ratio.median.toFixed(2)}× [${ratio.min.toFixed(2)}–${ratio.max.toFixed(2)}]`,
      met: ratio.median >= 0.9,
    });
  }

  if (raw.lag?.length) {
    const l = raw.lag;
    rep.lag = {
      p50: summarize(l.map((x) => x.p50Ms)),
      p90: summarize(l.map((x) => x.p90Ms)),
      p99: summarize(l.map((x) => x.p99Ms)),
      max: summarize(l.map((x) => x.maxMs)),
      achieved: summarize(l.map((x) => x.achievedRate)),
      catchUp: summarize(l.map((x) => x.catchUpSeconds)),
      backfill: summarize(l.map((x) => x.backfillSeconds)),
      samples: l.reduce((n, x) => n + x.samples, 0),
      unseen: l.reduce((n, x) => n + x.unseen, 0),
      cpu: shares(
        l.map((x) => x.cpu),
        ['dynashift', 'bench'],
      ),
      pollCycleMs: summarize(l.map((x) => x.pollCycleMs)),
      writeP99: summarize(l.map((x) => x.writeP99Ms)),
    };
    const rateOk = rep.lag.achieved.median >= 0.95 * o.lagRate;
    targets.push({
      name: `p99 lag at ${o.lagRate} writes/s`,
      target: '≤ 1000 ms',
      measured: `${rep.lag.p99.median.toFixed(0)} ms [${rep.lag.p99.min.toFixed(0)}–${rep.lag.p99.max.toFixed(0)}]${rateOk ? '' : ` (writer reached only ${rep.lag.achieved.median.toFixed(0)}/s)`}`,
      met: rep.lag.p99.median <= 1000 && rateOk && rep.lag.unseen === 0,
    });
  }

  if (raw.backfillLag?.length) {
    const runs = raw.backfillLag;
    const row = (name: string, of: (x: BackfillLagRun) => number, digits = 0): NonNullable<Report['backfillLag']>[number] => {
      const n = summarize(runs.filter((x) => x.mode === 'new').map(of));
      const old = summarize(runs.filter((x) => x.mode === 'old').map(of));
      return { name, new: n, old, ratio: n.median / old.median, digits };
    };
    rep.backfillLag = [
      row('lag during the backfill, p50 ms', (x) => x.during.p50Ms),
      row('lag during the backfill, p99 ms', (x) => x.during.p99Ms),
      row('lag during the backfill, max ms', (x) => x.during.maxMs),
      row('lag after the backfill until in sync, p50 ms', (x) => x.after.p50Ms),
      row('lag after the backfill until in sync, p99 ms', (x) => x.after.p99Ms),
      row('lag after the backfill until in sync, max ms', (x) => x.after.maxMs),
      row('backfill s', (x) => x.backfillSeconds, 1),
      row('catch-up after the backfill s', (x) => x.catchUpSeconds, 1),
      row('backfill started → in sync s', (x) => x.toSyncSeconds, 1),
      row('live writes/s acknowledged', (x) => x.achievedRate),
      row('samples during / after the backfill', (x) => x.during.samples + x.after.samples),
    ];
  }

  const mem = new Map<number, { rss: number[]; ips: number[] }>();
  const addMem = (items: number, rss: number | undefined, ips: number): void => {
    if (rss === undefined) return;
    const m = mem.get(items) ?? { rss: [], ips: [] };
    m.rss.push(rss);
    m.ips.push(ips);
    mem.set(items, m);
  };
  for (const x of raw.backfill ?? []) addMem(o.items, x.dynashift.peakRssBytes, x.dynashift.itemsPerSecond);
  for (const x of raw.memory ?? []) addMem(x.tableItems, x.peakRssBytes, x.itemsPerSecond);
  if (mem.size) {
    const sizes = [...mem].sort((a, b) => a[0] - b[0]).map(([items, m]) => ({ items, rss: summarize(m.rss), itemsPerSecond: summarize(m.ips) }));
    const flat = sizes.length > 1 ? sizes[sizes.length - 1]!.rss.median / sizes[0]!.rss.median : undefined;
    rep.memory = { sizes, ...(flat !== undefined ? { flat } : {}) };
    const worst = Math.max(...sizes.map((s) => s.rss.max));
    targets.push({
      name: 'peak RSS of the dynashift process',
      target: '≤ 256 MB',
      measured: `${mb(worst)} MB (worst run)`,
      met: worst <= 256 * 2 ** 20,
    });
    targets.push({
      name: `peak RSS flat from ${sizes[0]!.items.toLocaleString('en-US')} to ${sizes[sizes.length - 1]!.items.toLocaleString('en-US')} items`,
      target: '≤ 1.25× growth',
      measured: flat === undefined ? 'one size measured (add --memory-sizes 100000,1000000)' : `${flat.toFixed(2)}×`,
      met: flat === undefined ? undefined : flat <= 1.25,
    });
  }

  if (raw.scaling?.length) {
    const segs = raw.scaling[0]!.points.map((p) => p.segments);
    rep.scaling = segs.map((segments) => {
      const pts = raw.scaling!.map((run) => run.points.find((p) => p.segments === segments)!).filter(Boolean);
      return {
        segments,
        dynashift: summarize(pts.map((p) => p.dynashift.itemsPerSecond)),
        minimal: summarize(pts.map((p) => p.minimal.itemsPerSecond)),
        ratio: summarize(pts.map((p) => p.dynashift.itemsPerSecond / p.minimal.itemsPerSecond)),
        cpu: shares(
          pts.map((p) => p.dynashift.cpu),
          ['dynashift', 'bench'],
        ),
      };
    });
  }
  if (raw.clientCeiling?.length) {
    const runs = raw.clientCeiling;
    const row = (name: string, ms: CeilingMeasure[]) => ({
      name,
      itemsPerSecond: summarize(ms.map((m) => m.itemsPerSecond)),
      cpuPer100k: summarize(ms.map((m) => m.cpuPer100k)),
      processCpu: summarize(ms.map((m) => m.processCpuSeconds ?? NaN)),
      serverShare: summarize(ms.map((m) => m.serverShare)),
      otherShare: summarize(ms.map((m) => m.otherShare)),
    });
    const variants = (['identity', 'transform'] as const)
      .map((variant) => {
        const v = runs.filter((x) => x.variant === variant);
        const withWorkers = v.filter((x) => x.workers !== undefined);
        return {
          variant,
          rows: [
            row(
              `dynashift (run --until-synced, ${o.dynashift.segments} segments, ${o.dynashift.concurrency} at once, ${o.dynashift.writeConcurrency} writes)`,
              v.map((x) => x.dynashift),
            ),
            row(
              `minimal copier (${o.minimalSegments ?? o.dynashift.concurrency} segments, ${o.minimalWriteConcurrency} writes, no logger middleware)`,
              v.map((x) => x.minimal),
            ),
            ...(withWorkers.length
              ? [
                  row(
                    `dynashift, backfill.workers ${withWorkers[0]!.workers!.workers} (the same, in worker threads)`,
                    withWorkers.map((x) => x.workers!.measure),
                  ),
                ]
              : []),
          ],
          cpuRatio: summarize(v.map((x) => x.dynashift.cpuPer100k / x.minimal.cpuPer100k)),
          speedRatio: summarize(v.map((x) => x.dynashift.itemsPerSecond / x.minimal.itemsPerSecond)),
          ...(withWorkers.length
            ? {
                workersSpeedup: {
                  workers: withWorkers[0]!.workers!.workers,
                  ratio: summarize(withWorkers.map((x) => x.workers!.measure.itemsPerSecond / x.dynashift.itemsPerSecond)),
                },
              }
            : {}),
        };
      })
      .filter((v) => v.cpuRatio.n > 0);
    const pairs = runs
      .filter((x) => x.variant === 'transform')
      .map((t) => [runs.find((x) => x.variant === 'identity' && x.run === t.run), t] as const)
      .filter((p): p is readonly [ClientCeilingRun, ClientCeilingRun] => p[0] !== undefined);
    rep.clientCeiling = {
      variants,
      ...(pairs.length
        ? {
            transformSeconds: summarize(pairs.map(([i, t]) => t.dynashift.seconds / i.dynashift.seconds)),
            transformCpu: summarize(pairs.map(([i, t]) => t.dynashift.cpuPer100k / i.dynashift.cpuPer100k)),
          }
        : {}),
    };
    for (const v of variants) {
      const goal = v.variant === 'identity' ? 1.0 : 1.15;
      targets.push({
        name: `client CPU per item vs minimal copier, ${v.variant === 'identity' ? 'identity' : 'key-changing transform'} (null DynamoDB)`,
        target: `≤ ${goal.toFixed(2)}×`,
        measured: `${v.cpuRatio.median.toFixed(2)}× [${v.cpuRatio.min.toFixed(2)}–${v.cpuRatio.max.toFixed(2)}]`,
        met: v.cpuRatio.median <= goal,
      });
    }
    const identity = variants.find((v) => v.variant === 'identity')?.workersSpeedup;
    if (identity) {
      targets.push({
        name: `items/s with backfill.workers ${identity.workers} vs 1, identity (null DynamoDB, 2 cores)`,
        target: '≥ 1.70×',
        measured: `${identity.ratio.median.toFixed(2)}× [${identity.ratio.min.toFixed(2)}–${identity.ratio.max.toFixed(2)}]`,
        met: identity.ratio.median >= 1.7,
      });
    }
  }
  return rep;
}

// ---- rendering ----------------------------------------------------------------------------------------------------

const mb = (bytes: number): string => (bytes / 2 ** 20).toFixed(0);
const int = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–');
const fig = (s: Summary | undefined, f: (n: number) => string = int): string =>
  !s || s.n === 0 ? '–' : s.n === 1 ? f(s.median) : `${f(s.median)} [${f(s.min)}–${f(s.max)}]`;
const pct = (x: number): string => (Number.isFinite(x) ? `${Math.round(x * 100)}%` : '–');
const cpuText = (c: CpuShares | undefined): string => (c ? `jvm ${pct(c.jvm)} · node ${pct(c.node)} · other ${pct(c.other)}` : '–');
const met = (m: boolean | undefined): string => (m === undefined ? 'n/a' : m ? 'met' : 'MISSED');

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].map((l) => `  ${l}`).join('\n');
}

function mdTable(head: string[], rows: string[][]): string {
  return [
    `| ${head.join(' | ')} |`,
    `| ${head.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

interface Section {
  title: string;
  head: string[];
  rows: string[][];
  notes: string[];
}

function sections(r: BenchResults): Section[] {
  const rep = r.report!;
  const o = r.meta.options;
  const out: Section[] = [];
  const mbs = (n: number): string => n.toFixed(2);
  const runsNote = (n: number): string => `median [min–max] of ${n} run(s)`;

  if (rep.scaling) {
    out.push({
      title: `Scaling: backfill items/s by Scan segments (all segments at once, ${o.dynashift.writeConcurrency} writes in flight; ${runsNote(o.scalingRuns)})`,
      head: ['segments', 'dynashift items/s', 'minimal items/s', 'dynashift / minimal', 'CPU during dynashift'],
      rows: rep.scaling.map((s) => [String(s.segments), fig(s.dynashift), fig(s.minimal), fig(s.ratio, (x) => x.toFixed(2)), cpuText(s.cpu)]),
      notes: [],
    });
  }
  if (rep.backfill) {
    const b = rep.backfill;
    out.push({
      title: `Backfill: copy ${o.items.toLocaleString('en-US')} items (${runsNote(r.raw.backfill!.length)})`,
      head: ['contender', 'items/s', 'MB/s', 'CPU (share of all cores)', 'peak RSS MB'],
      rows: b.rows.map((row) => [
        row.name + (row.note ? ` (${row.note})` : ''),
        fig(row.value),
        fig(row.mb, mbs),
        cpuText(row.cpu),
        row.rss && row.rss.n ? fig(row.rss, mb) : '–',
      ]),
      notes: [
        `dynashift / minimal copier: ${fig(b.ratioMinimal, (x) => x.toFixed(2))}×` +
          (b.ratioCopyTable ? `; dynashift / copy-dynamodb-table: ${fig(b.ratioCopyTable, (x) => x.toFixed(1))}×` : ''),
        ...(b.capacityCost && b.ratioMinimalCapacity
          ? [
              `ReturnConsumedCapacity costs the emulator: minimal copier with it / without it: ${fig(b.capacityCost, (x) => x.toFixed(2))}×; ` +
                `dynashift / minimal copier with it: ${fig(b.ratioMinimalCapacity, (x) => x.toFixed(2))}× (the target stays against the plain copier)`,
            ]
          : []),
        'ratios are per run (same DynamoDB Local, same data), then the median over runs',
      ],
    });
  }
  if (rep.verify) {
    if ('unavailable' in rep.verify) {
      out.push({ title: 'Verify', head: ['contender', 'items/s'], rows: [], notes: [`not available: ${rep.verify.unavailable}`] });
    } else {
      out.push({
        title: `Verify: compare ${o.items.toLocaleString('en-US')} source items with the target (${runsNote(r.raw.backfill!.length)})`,
        head: ['contender', 'source items/s', 'CPU (share of all cores)', 'peak RSS MB'],
        rows: rep.verify.rows.map((row) => [row.name, fig(row.value), cpuText(row.cpu), row.rss && row.rss.n ? fig(row.rss, mb) : '–']),
        notes: [
          `dynashift / minimal: ${fig(rep.verify.ratio, (x) => x.toFixed(2))}×; both reported the tables identical: ${rep.verify.identical ? 'yes' : 'NO'}`,
        ],
      });
    }
  }
  if (rep.stream) {
    out.push({
      title: `Stream apply: drain a backlog of ${int(rep.stream.records)} stream records (${runsNote(r.raw.stream!.length)})`,
      head: ['contender', 'records/s', 'CPU (share of all cores)', 'peak RSS MB'],
      rows: rep.stream.rows.map((row) => [row.name, fig(row.value), cpuText(row.cpu), row.rss && row.rss.n ? fig(row.rss, mb) : '–']),
      notes: [
        `dynashift / minimal: ${fig(rep.stream.ratio, (x) => x.toFixed(2))}×; both targets hold the same items: ${rep.stream.match ? 'yes' : 'NO'}`,
      ],
    });
  }
  if (rep.lag) {
    const l = rep.lag;
    out.push({
      title: `Lag: source write acknowledged → visible in the target, at ${o.lagRate} writes/s by ${o.lagWriter === 'batch' ? 'BatchWriteItem per 10 ms tick' : 'single PutItems'} (${runsNote(r.raw.lag!.length)}; ${l.samples.toLocaleString('en-US')} samples)`,
      head: ['p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'writer writes/s', 'CPU (share of all cores)'],
      rows: [[fig(l.p50), fig(l.p90), fig(l.p99), fig(l.max), fig(l.achieved), cpuText(l.cpu)]],
      notes: [
        `every ${o.lagSampleEvery}th write over ${o.lagSeconds} s after "in sync"; unseen samples: ${l.unseen}; target poll cycle ${fig(l.pollCycleMs)} ms; source PutItem p99 ${fig(l.writeP99)} ms`,
        `with the writer running: backfill of ${o.lagSeedItems.toLocaleString('en-US')} items ${fig(l.backfill, (x) => x.toFixed(1))} s, then caught up in ${fig(l.catchUp, (x) => x.toFixed(1))} s`,
      ],
    });
  }
  if (rep.backfillLag) {
    const runs = r.raw.backfillLag!;
    const perMode = runs.filter((x) => x.mode === 'new').length;
    const sum = (f: (x: BackfillLagRun) => number): number => runs.reduce((n, x) => n + f(x), 0);
    out.push({
      title: `Stream lag during a backfill of ${o.backfillLagItems.toLocaleString('en-US')} items under ${o.backfillLagRate} PutItems/s, stream applied during the backfill (new) vs after it (old) (${runsNote(perMode)} per mode, interleaved)`,
      head: ['figure', 'new: duringBackfill true', 'old: duringBackfill false', 'new / old'],
      rows: rep.backfillLag.map((x) => [
        x.name,
        fig(x.new, (n) => n.toFixed(x.digits)),
        fig(x.old, (n) => n.toFixed(x.digits)),
        Number.isFinite(x.ratio) ? `${x.ratio.toFixed(x.ratio < 0.1 ? 3 : 2)}×` : '–',
      ]),
      notes: [
        `every ${o.backfillLagSampleEvery}th write acknowledged from "backfill started" to "in sync", followed until a consistent BatchGetItem of the target shows it; a pending key is polled again after 5% of its age`,
        `unseen samples: ${sum((x) => x.during.unseen + x.after.unseen)}; writes sent again after a 500 (DynamoDB Local's lock timeout): ${sum((x) => x.retriedWrites)}; writer ticks cut short (too many in flight): ${sum((x) => x.skippedTicks)}; source PutItem p99 ${runs.map((x) => x.writeP99Ms.toFixed(0)).join(', ')} ms`,
        `CPU from "backfill started" to "in sync": new ${cpuText(
          shares(
            runs.filter((x) => x.mode === 'new').map((x) => x.cpu),
            ['dynashift', 'bench'],
          ),
        )}; old ${cpuText(
          shares(
            runs.filter((x) => x.mode === 'old').map((x) => x.cpu),
            ['dynashift', 'bench'],
          ),
        )}`,
      ],
    });
  }
  if (rep.memory) {
    out.push({
      title: 'Memory: peak RSS of the dynashift process (run --until-synced, backfill)',
      head: ['items', 'peak RSS MB', 'backfill items/s', 'runs'],
      rows: rep.memory.sizes.map((s) => [s.items.toLocaleString('en-US'), fig(s.rss, mb), fig(s.itemsPerSecond), String(s.rss.n)]),
      notes: [
        `${o.cli === 'dist' ? 'built bin/dynashift.js' : 'node --import tsx src/cli/entry.ts'}, peak RSS from /usr/bin/time (VmHWM)`,
        ...(rep.memory.flat !== undefined ? [`growth from the smallest to the largest table: ${rep.memory.flat.toFixed(2)}×`] : []),
      ],
    });
  }
  if (rep.clientCeiling) {
    const c = rep.clientCeiling;
    const runs = r.raw.clientCeiling!;
    const two = (x: number): string => x.toFixed(2);
    out.push({
      title: `Client ceiling: copy ${int(runs[0]!.dynashift.items)} items from the null DynamoDB (no service cost; ${runsNote(runs.filter((x) => x.variant === 'identity').length)} per variant, interleaved)`,
      head: [
        'variant',
        'contender',
        'items/s',
        'client CPU-s per 100k items',
        'whole process CPU-s',
        'null server (share of all cores)',
        'other processes',
      ],
      rows: c.variants.flatMap((v) =>
        v.rows.map((row) => [
          v.variant,
          row.name,
          fig(row.itemsPerSecond),
          fig(row.cpuPer100k, two),
          fig(row.processCpu, (x) => x.toFixed(1)),
          fig(row.serverShare, pct),
          fig(row.otherShare, pct),
        ]),
      ),
      notes: [
        ...c.variants.map(
          (v) =>
            `${v.variant}: dynashift / minimal copier, CPU per item ${fig(v.cpuRatio, two)}×, items/s ${fig(v.speedRatio, two)}× (per run, then the median)${v.workersSpeedup ? `; ${v.workersSpeedup.workers} worker threads / one, items/s ${fig(v.workersSpeedup.ratio, two)}×` : ''}`,
        ),
        ...(c.transformSeconds && c.transformCpu
          ? [
              `dynashift with the transform / without, same round: copy time ${fig(c.transformSeconds, two)}×, CPU per item ${fig(c.transformCpu, two)}×`,
            ]
          : []),
        `client CPU: user + system of the client process over the copy alone (dynashift: "backfill started" → "backfill complete", /proc sampled every 100 ms); whole process: start-up, plan and catch-up included`,
        `load average before each round: ${runs.map((x) => x.loadAverage[0]?.toFixed(1) ?? '?').join(', ')}`,
      ],
    });
  }
  out.push({
    title: 'Targets',
    head: ['target', 'wanted', 'measured', ''],
    rows: rep.targets.map((t) => [t.name, t.target, t.measured, met(t.met)]),
    notes: [],
  });
  return out;
}

function header(r: BenchResults): string[] {
  const m = r.meta;
  const d = m.dataset;
  return [
    `machine: ${m.machine.cpuModel}, ${m.machine.cores} cores, ${m.machine.memoryGiB} GiB; load average at start ${m.machine.loadAverageAtStart.join(' ')}`,
    `versions: node ${m.versions['node']}, ${m.versions['java']}, DynamoDB Local ${m.versions['dynamodbLocal']} (-inMemory -sharedDb -Xmx2g), dynashift ${m.versions['dynashift']}, copy-dynamodb-table ${m.versions['copyDynamodbTable']}`,
    `dataset: ${d.items.toLocaleString('en-US')} items (--items; a section sized by its own flag, e.g. --ceiling-items or --backfill-lag-items, gives its size in its heading) × ~${d.averageItemBytes} B (≈${d.approximateMegabytes} MB), seed ${d.seed}; ${d.attributeTypes}`,
    `command: ${m.command}  (${Math.round(m.durationSeconds / 60)} min, ${m.startedAt})`,
  ];
}

export function renderText(r: BenchResults): string {
  const out = ['', 'dynashift benchmarks', ...header(r).map((l) => `  ${l}`)];
  for (const s of sections(r)) {
    out.push('', s.title);
    if (s.rows.length) out.push(table(s.head, s.rows));
    for (const n of s.notes) out.push(`  ${n}`);
  }
  return `${out.join('\n')}\n`;
}

export function renderMarkdown(r: BenchResults): string {
  const out = ['### Results (generated by `npm run bench -- --update-md`)', '', ...header(r).map((l) => `- ${l}`)];
  for (const s of sections(r)) {
    out.push('', `#### ${s.title}`, '');
    if (s.rows.length) out.push(mdTable(s.head, s.rows), '');
    for (const n of s.notes) out.push(`- ${n}`);
  }
  return `${out.join('\n')}\n`;
}
