/**
 * The consistency protocol's end-to-end proof on DynamoDB targets: for random seeds, a live workload (puts, updates,
 * deletes, delete-then-recreate, target-key moves, transactions) runs against the source while the migrator is
 * SIGKILLed at random points — during the backfill and during the catch-up — and resumed with the same command. Once
 * the workload stops, a final `run --until-synced` must leave every target equal to transform(source), compared item
 * by item by an independent scanner. The scenario itself is test/support/crash-scenario.ts; the conformance suite
 * runs it for every other sink.
 *
 * Runs for the scan backfill and for the touch strategy (every item updated so it flows through the stream).
 * Then the rate-limited families, in the default mode where the stream is applied during the backfill
 * (stream.duringBackfill): scan-slow, touch-slow, export (load a DynamoDB export taken before the workload, the stream
 * from its exportTime) and merge (two sources into the same targets). Each asserts that stream records were applied
 * while the phase was `backfilling` and reports how many of the backfill's progress snapshots had applied some.
 *
 * SEEDS=N runs N seeds per strategy or family (default, the CI subset: 1 of each); SEED_BASE shifts them;
 * STRATEGIES=scan,touch,scan-slow,touch-slow,export,merge,scan-slow-workers picks them (default: all; scan-slow-workers is
 * scan-slow with backfill.workers: 2, the default on a 2-core machine). CRASH_WORKERS=N sets backfill.workers for the rest.
 */
import { test } from 'node:test';
import { DEFAULT_KILLS, localDynamoDbSink, runCrashScenario, type ScenarioFamily, type ScenarioStrategy } from '../support/crash-scenario.js';

const SEEDS = Number(process.env.SEEDS ?? 3);
const SEED_BASE = Number(process.env.SEED_BASE ?? 1);
const ITEMS = Number(process.env.CRASH_ITEMS ?? 3000);

/** At 1000 items the stream applier reaches every seeded key before the export load does (measured: 1000 of 1000 overtaken). */
const EXPORT_MIN_ITEMS = 3000;

const FAMILIES: ScenarioFamily[] = ['scan-slow', 'touch-slow', 'export', 'merge'];
/** `scan-slow` with its segments in 2 worker threads (backfill.workers: 2), the default on a 2-core machine. */
const WORKERS_FAMILY = 'scan-slow-workers';
const STRATEGIES = (process.env.STRATEGIES ?? ['scan', 'touch', ...FAMILIES, WORKERS_FAMILY].join(',')).split(',');
for (const strategy of STRATEGIES.filter((s): s is ScenarioStrategy => s === 'scan' || s === 'touch')) {
  const seeds = process.env.SEEDS ? SEEDS : 1;
  // Touch updates items one by one (twice): a smaller table keeps the run comparable in time.
  const items = strategy === 'touch' ? Math.round(ITEMS / 2) : ITEMS;
  for (let i = 0; i < seeds; i++) {
    const seed = SEED_BASE + i;
    test(
      `${strategy} backfill, seed ${seed}: target equals transform(source) after concurrent writes and ${DEFAULT_KILLS} SIGKILLs with resume`,
      { timeout: 420_000 },
      async () => {
        await runCrashScenario(localDynamoDbSink, { seed, strategy, items });
      },
    );
  }
}

const runs = FAMILIES.filter((f) => STRATEGIES.includes(f)).map((family) => ({
  family,
  name: family as string,
  workers: undefined as number | undefined,
}));
if (STRATEGIES.includes(WORKERS_FAMILY)) runs.push({ family: 'scan-slow', name: WORKERS_FAMILY, workers: 2 });
for (const { family, name, workers } of runs) {
  const seeds = process.env.SEEDS ? SEEDS : 1;
  // Touch writes every item twice through a rate limit: a smaller table keeps the run comparable in time. The export
  // family needs enough items that its load still has keys to write when the stream applier has caught up with the
  // seeding's records (see the scenario's `overtaken` check).
  const items = family === 'touch-slow' ? Math.round(ITEMS / 2) : family === 'export' ? Math.max(ITEMS, EXPORT_MIN_ITEMS) : ITEMS;
  for (let i = 0; i < seeds; i++) {
    const seed = SEED_BASE + i;
    test(
      `${name} (rate-limited backfill${workers ? ` in ${workers} worker threads` : ''}, stream applied during it), seed ${seed}: target equals transform(source) after concurrent writes and ${DEFAULT_KILLS} SIGKILLs with resume`,
      { timeout: 420_000 },
      async (t) => {
        const r = await runCrashScenario(localDynamoDbSink, { seed, strategy: 'scan', family, items, ...(workers ? { workers } : {}) });
        t.diagnostic(
          `${name} seed ${seed}: ${r.seconds} s, ${items} items, ${r.workloadOps} workload ops, kills in ${r.killedIn.join('/')}, ` +
            `stream applied in ${r.backfillSnapshotsApplying}/${r.backfillSnapshots} backfilling snapshots, ${r.overtaken} backfill items overtaken by the stream`,
        );
      },
    );
  }
}
