/**
 * The consistency protocol's end-to-end proof on DynamoDB targets: for random seeds, a live workload (puts, updates,
 * deletes, delete-then-recreate, target-key moves, transactions) runs against the source while the migrator is
 * SIGKILLed at random points — during the backfill and during the catch-up — and resumed with the same command. Once
 * the workload stops, a final `run --until-synced` must leave every target equal to transform(source), compared item
 * by item by an independent scanner. The scenario itself is test/support/crash-scenario.ts; the conformance suite
 * runs it for every other sink.
 *
 * Runs for the scan backfill and for the touch strategy (every item updated so it flows through the stream).
 * SEEDS=N runs N seeds per strategy (default in CI: 2 for scan, 1 for touch); SEED_BASE shifts them; STRATEGIES=scan,touch
 * picks the strategies.
 */
import { test } from 'node:test';
import { DEFAULT_KILLS, localDynamoDbSink, runCrashScenario, type ScenarioStrategy } from '../support/crash-scenario.js';

const SEEDS = Number(process.env.SEEDS ?? 3);
const SEED_BASE = Number(process.env.SEED_BASE ?? 1);
const ITEMS = Number(process.env.CRASH_ITEMS ?? 3000);

const STRATEGIES = (process.env.STRATEGIES ?? 'scan,touch').split(',') as ScenarioStrategy[];
for (const strategy of STRATEGIES) {
  const seeds = process.env.SEEDS ? SEEDS : strategy === 'scan' ? 2 : 1;
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
