import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { clientsFor } from '../../aws/clients.js';
import { classifyAwsError, roleFor } from '../../aws/errors.js';
import { ensureStateDir } from '../../state/state-dir.js';
import { sleep } from '../../core/backoff.js';
import type { ResolvedConfig } from '../../config/resolved-config.js';
import { DynashiftError, isDynashiftError } from '../../errors.js';
import { BucketFiles } from './bucket-files.js';
import { chooseBucketCount } from './bucket-count.js';
import { CappedList } from './capped-list.js';
import { spillActual, spillExpected, type CollectCounters } from './collect.js';
import { compareBuckets, DEFAULT_MAX_BUCKET_BYTES } from './compare.js';
import { openVerifyContext, type VerifyContext } from './context.js';
import { readFindings } from './findings.js';
import { JsonlWriter, readJsonl } from './jsonl.js';
import { runPool } from './pool.js';
import { recheckChunk, recheckFile } from './recheck.js';
import { REPAIRED, repairSuspect, type RepairTarget } from './repair.js';
import { writeReport } from './report.js';
import { sampleSuspects, type SampleCounters } from './sample.js';
import type { Suspect } from './suspect.js';
import { PARK_AHEAD_BYTES_PER_SCAN, TwinPairing } from './twin-pairing.js';
import type { TransformErrorFinding, VerifyOptions, VerifyResult } from './types.js';
import { runController } from '../../core/run-signal.js';

export const DEFAULT_RECHECK_ROUNDS = 3;
export const DEFAULT_RECHECK_DELAY_MS = 2000;
export const DEFAULT_REPORT_LIMIT = 10_000;

/**
 * Segments read at once per side by default. One process compares on one core, which 3 scans per side already keep
 * busy; more only add pages in flight (memory) and let the two sides drift apart, so more items wait for their twins.
 * On DynamoDB Local at 100,000 items: 3 per side took 19.6–21.8 s and 228–267 MB, 4 per side 19.8–24.3 s and
 * 255–325 MB, 8 per side 31–33 s and 310–650 MB (BENCHMARKS.md, "Scans at once per side, and memory").
 */
export const VERIFY_SCANS_PER_SIDE = 3;

/**
 * `dynashift verify`: compares transform(source) with the targets item by item, in bounded memory.
 *
 * Full mode: both sides are scanned in parallel and spilled to hash buckets on disk, then compared one bucket at a
 * time. Sample mode: random source items are looked up on the targets. Either way, every difference is re-read
 * (`recheckRounds` times, with a growing delay) before it is reported, so a change still in flight through the stream
 * is not reported; with `repair`, persisting differences are rewritten from the source by conditional writes.
 *
 * Runner-free: no process access; the CLI prints the result and sets the exit code.
 */
export async function runVerify(config: ResolvedConfig, opts: VerifyOptions): Promise<VerifyResult> {
  const started = Date.now();
  const startedAt = new Date(started).toISOString();
  const stamp = startedAt.replace(/[:.]/g, '-');
  const reportPath = opts.reportPath ?? join(config.stateDir, `verify-${stamp}.json`);
  const limit = opts.reportLimit ?? DEFAULT_REPORT_LIMIT;
  const workDir = opts.workDir ?? join(config.stateDir, `verify-work-${stamp}-${randomUUID().slice(0, 8)}`);
  const { log, signal } = opts;
  const segments = opts.segments ?? config.backfill.segments;
  const concurrency = Math.max(1, Math.min(segments, opts.concurrency ?? Math.min(config.backfill.concurrency, VERIFY_SCANS_PER_SIDE)));

  const ctx = await wrapAws(() => openVerifyContext(config, { concurrency: config.write.concurrency }));
  const repairClients: RepairTarget[] = [];
  try {
    ensureStateDir(workDir);
    const notes: string[] = [];
    const transformErrors = new CappedList<TransformErrorFinding>(limit);
    const onTransformError = (f: TransformErrorFinding): void => transformErrors.add(f);
    let counts = { expected: 0, actual: 0 };
    let buckets: number | undefined;
    let sampled: number | undefined;

    // 1. The first look: every difference the scans (or the sample) see.
    const first = new JsonlWriter<Suspect>(join(workDir, 'suspects-0.jsonl'));
    try {
      if (opts.sample !== undefined) {
        const counters: SampleCounters = { sampled: 0, expected: 0, actual: 0 };
        log.info({ sample: opts.sample }, 'verify: checking a random sample of source items');
        await opts.hooks?.onCompareStart?.();
        await sampleSuspects(ctx, first, { size: opts.sample, signal, counters, onTransformError });
        counts = { expected: counters.expected, actual: counters.actual };
        sampled = counters.sampled;
        notes.push('sample mode: extra target items (ones no source item produces) cannot be detected; run without --sample to look for them');
      } else {
        const full = await fullComparison(ctx, workDir, first, { ...opts, segments, concurrency, onTransformError });
        counts = { expected: full.counters.expected, actual: full.counters.actual };
        buckets = full.buckets;
        if (full.collisions > 0) {
          notes.push(
            `${full.collisions} target key(s) are produced by more than one source item (each key must have one owner); verify compared one of them`,
          );
        }
      }
    } finally {
      await first.close();
    }

    // 2. Re-check what differs, so a change still in flight is not reported.
    const rounds = opts.recheckRounds ?? DEFAULT_RECHECK_ROUNDS;
    const delay = opts.recheckDelayMs ?? DEFAULT_RECHECK_DELAY_MS;
    let current = first.path;
    let remaining = first.count;
    let inFlight = 0;
    for (let round = 1; round <= rounds && remaining > 0 && !signal.aborted; round++) {
      await opts.hooks?.onRecheckRound?.(round, remaining);
      const wait = delay * 2 ** (round - 1);
      log.info({ round, differences: remaining, waitMs: wait }, 'verify: re-checking differences (changes may be in flight)');
      await sleep(wait, signal);
      if (signal.aborted) break;
      const next = new JsonlWriter<Suspect>(join(workDir, `suspects-${round}.jsonl`));
      try {
        const r = await wrapAws(() => recheckFile(ctx, current, next, signal));
        inFlight += r.resolved;
        remaining = r.remaining;
      } finally {
        await next.close();
      }
      current = next.path;
    }

    // Differences count as found only once the comparison and its re-checks are complete (not when interrupted).
    const settled = !signal.aborted;

    // 3. Repair what persists.
    if (opts.repair && remaining > 0 && settled) {
      const repaired = await repairAll(ctx, current, join(workDir, 'repaired.jsonl'), repairClients, signal, log);
      inFlight += repaired.resolvedWithoutRepair;
      current = repaired.path;
      for (const kind of repaired.unsupportedKinds) notes.push(`repair not supported for kind ${kind}: those differences are reported only`);
    } else if (opts.repair && remaining === 0) {
      notes.push('nothing to repair');
    }

    const findingsPath = settled ? current : undefined;
    const lists = await readFindings(findingsPath, limit);
    const interrupted = signal.aborted;
    if (interrupted) notes.unshift('interrupted: verify stopped before it finished, so this result is incomplete');
    if (transformErrors.count > 0) {
      notes.push(
        `${transformErrors.count} source item(s) could not be mapped (the transform threw or returned an invalid item), so the target cannot equal transform(source) for them`,
      );
    }
    const differences = lists.missing.count + lists.extra.count + lists.differing.count;
    if (differences > lists.repaired && rounds > 0) {
      notes.push(
        `reported differences persisted through ${rounds} re-check(s) over ${Math.round((delay * (2 ** rounds - 1)) / 1000)} s; if a migration is still catching up, run verify again once \`dynashift status\` says in sync`,
      );
    }
    const result: VerifyResult = {
      identical: !interrupted && differences === 0 && transformErrors.count === 0,
      mode: opts.sample !== undefined ? 'sample' : 'full',
      ...(sampled !== undefined ? { sampled } : {}),
      counts: {
        expected: counts.expected,
        actual: counts.actual,
        missing: lists.missing.count,
        extra: lists.extra.count,
        differing: lists.differing.count,
        transformErrors: transformErrors.count,
        recheckedInFlight: inFlight,
        repaired: lists.repaired,
        repairSkipped: lists.repairSkipped,
      },
      missing: lists.missing.items,
      extra: lists.extra.items,
      differing: lists.differing.items,
      transformErrors: transformErrors.items,
      limit,
      truncated: {
        ...(lists.missing.truncated ? { missing: true } : {}),
        ...(lists.extra.truncated ? { extra: true } : {}),
        ...(lists.differing.truncated ? { differing: true } : {}),
        ...(transformErrors.truncated ? { transformErrors: true } : {}),
      },
      notes,
      ...(buckets !== undefined ? { buckets } : {}),
      ...(interrupted ? { interrupted } : {}),
      reportPath,
      startedAt,
      durationMs: Date.now() - started,
    };
    await writeReport(reportPath, result, findingsPath, { migration: config.name, configPath: config.configPath });
    result.durationMs = Date.now() - started;
    return result;
  } catch (err) {
    throw toVerifyError(err);
  } finally {
    for (const t of repairClients) t.client?.destroy();
    await ctx.close();
    await rm(workDir, { recursive: true, force: true });
  }
}

async function fullComparison(
  ctx: VerifyContext,
  workDir: string,
  out: JsonlWriter<Suspect>,
  opts: VerifyOptions & { segments: number; concurrency: number; onTransformError(f: TransformErrorFinding): void },
) {
  const { log, signal } = opts;
  const avgItem = ctx.sourceItems > 0 ? ctx.sourceBytes / ctx.sourceItems : 1024;
  const targetBytes = Object.values(ctx.targets).reduce((n, t) => n + t.itemCount * avgItem, 0);
  const buckets = opts.buckets ?? chooseBucketCount(ctx.sourceBytes, targetBytes);
  const expected = new BucketFiles(workDir, 'expected', buckets);
  const actual = new BucketFiles(workDir, 'actual', buckets);
  const counters: CollectCounters = { sourceItems: 0, expected: 0, actual: 0 };
  log.info(
    { sources: Object.keys(ctx.sources), targets: Object.keys(ctx.targets), segments: opts.segments, buckets },
    'verify: scanning the sources and the targets',
  );
  const ticker = setInterval(() => log.info({ ...counters }, 'verify: scanning'), 5000);
  // Both sides at once; when one fails the other is stopped before the error goes up (and the files are removed).
  const stop = runController();
  const onAbort = (): void => stop.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  // Identical pairs are settled in memory when the target's keys are the source's and it is read the way the source is:
  // no transform, one source, one DynamoDB-API target (so no two expected items share a header, and a twin arrives soon
  // after its item, in the same segment's order; see twin-pairing.ts). A PostgreSQL target reads its own hash buckets.
  const targets = Object.values(ctx.targets);
  const pairing =
    !ctx.config.transform && Object.keys(ctx.sources).length === 1 && targets.length === 1 && targets[0]!.capabilities.dynamoDbApi
      ? new TwinPairing(
          { expected, actual },
          {
            ...(opts.pairingBudgetBytes !== undefined ? { budgetBytes: opts.pairingBudgetBytes } : {}),
            parkAheadBytes: opts.concurrency * PARK_AHEAD_BYTES_PER_SCAN,
          },
        )
      : undefined;
  let failed = false;
  try {
    const collect = {
      segments: opts.segments,
      concurrency: opts.concurrency,
      signal: stop.signal,
      counters,
      onTransformError: opts.onTransformError,
      ...(pairing ? { pairing } : {}),
    };
    const stopOnFailure = (err: unknown): never => {
      stop.abort();
      throw err;
    };
    const sides = await Promise.allSettled([
      // A side whose scan is over no longer holds the other one back (twin-pairing.ts parks the side that is ahead).
      spillExpected(ctx, expected, collect)
        .finally(() => pairing?.finish('expected'))
        .catch(stopOnFailure),
      spillActual(ctx, actual, collect)
        .finally(() => pairing?.finish('actual'))
        .catch(stopOnFailure),
    ]);
    for (const side of sides) if (side.status === 'rejected') throw toVerifyError(side.reason);
    // What waits for a twin that never came (missing, extra, moved by another segment's order) goes to the buckets.
    if (!stop.signal.aborted) await pairing?.drain();
  } catch (err) {
    failed = true;
    throw err;
  } finally {
    clearInterval(ticker);
    signal.removeEventListener('abort', onAbort);
    // Either side may still spill into both files until the pairing is drained, so both close only now. A failed
    // close (a write that failed) is the error, unless an earlier one is already on its way.
    const closed = await Promise.allSettled([expected.close(), actual.close()]);
    for (const c of closed) if (!failed && c.status === 'rejected') throw toVerifyError(c.reason);
  }
  if (signal.aborted) return { counters, buckets, collisions: 0 };
  await opts.hooks?.onCompareStart?.();
  log.info(
    {
      expected: counters.expected,
      actual: counters.actual,
      buckets,
      ...(pairing ? { pairedInMemory: pairing.matched, pairingPeakBytes: pairing.peakBytes } : {}),
    },
    'verify: comparing bucket by bucket',
  );
  const stats = await compareBuckets(expected, actual, out, {
    targetKeys: Object.fromEntries(Object.entries(ctx.targets).map(([n, t]) => [n, t.keySchema])),
    workDir,
    maxBucketBytes: opts.maxBucketBytes ?? DEFAULT_MAX_BUCKET_BYTES,
    signal,
    ...(opts.hooks?.onBucketLoaded ? { hooks: { onBucketLoaded: opts.hooks.onBucketLoaded } } : {}),
  });
  // The compared buckets are no longer needed; free the disk before the re-checks.
  await Promise.all([...expected.paths(), ...actual.paths()].map((p) => rm(p, { force: true })));
  return { counters, buckets, collisions: stats.collisions };
}

/**
 * Repairs each persisting difference, then re-checks it: a repair counts only once a re-read finds the target right.
 * Differences that resolved without our write were in flight after all.
 */
async function repairAll(
  ctx: VerifyContext,
  inPath: string,
  outPath: string,
  clients: RepairTarget[],
  signal: AbortSignal,
  log: VerifyOptions['log'],
): Promise<{ path: string; resolvedWithoutRepair: number; unsupportedKinds: string[] }> {
  const targets: Record<string, RepairTarget> = {};
  const unsupported = new Set<string>();
  for (const [name, t] of Object.entries(ctx.targets)) {
    const client = t.capabilities.dynamoDbApi ? clientsFor(t.config, roleFor('target', name, t.config)).dynamodb : undefined;
    targets[name] = { kind: t.kind, table: t.config.table, ...(client ? { client } : {}) };
    clients.push(targets[name]!);
    if (!client) unsupported.add(t.kind);
  }
  log.info({}, 'verify: repairing the differences that persisted');
  const out = new JsonlWriter<Suspect>(outPath);
  let resolvedWithoutRepair = 0;
  let repaired = 0;
  const flush = async (chunk: Suspect[]): Promise<void> => {
    await runPool(
      chunk,
      8,
      async (s) => {
        s.r = await repairSuspect(ctx, s, targets[s.t]!);
      },
      signal,
    );
    const now = await recheckChunk(ctx, chunk);
    for (let i = 0; i < chunk.length; i++) {
      const before = chunk[i]!;
      const after = now[i];
      if (!after) {
        if (before.r === REPAIRED) {
          repaired++;
          await out.write(before);
        } else resolvedWithoutRepair++;
      } else {
        if (after.r === REPAIRED) after.r = 'written, but a re-check still finds a difference (a newer change may be in flight)';
        await out.write(after);
      }
    }
  };
  try {
    let chunk: Suspect[] = [];
    for await (const s of readJsonl<Suspect>(inPath)) {
      if (signal.aborted) break;
      chunk.push(s);
      if (chunk.length >= 200) {
        await wrapAws(() => flush(chunk));
        chunk = [];
      }
    }
    if (chunk.length && !signal.aborted) await wrapAws(() => flush(chunk));
  } finally {
    await out.close();
  }
  log.info({ repaired }, 'verify: repair done');
  return { path: outPath, resolvedWithoutRepair, unsupportedKinds: [...unsupported] };
}

/** AWS SDK failures become AWS_ERROR with the service's error name; everything else passes through. */
async function wrapAws<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toVerifyError(err);
  }
}

function toVerifyError(err: unknown): unknown {
  if (isDynashiftError(err)) return err;
  // Network, endpoint and credential failures have codes of their own, with the side the failing client belongs to.
  const classified = classifyAwsError(err);
  if (classified && classified.code !== 'AWS_ERROR') return classified;
  const meta = (err as { $metadata?: unknown })?.$metadata;
  if (meta !== undefined) {
    const name = (err as Error).name;
    return new DynashiftError('AWS_ERROR', `verify failed: ${name}: ${(err as Error).message}`, {
      cause: err,
      hint:
        name === 'AccessDeniedException'
          ? 'verify needs dynamodb:DescribeTable, Scan and BatchGetItem on the sources and targets (and PutItem/DeleteItem on the targets with --repair)'
          : 'check the tables, Region, endpoint and credentials in the config; rerun verify',
    });
  }
  return err;
}
