/**
 * The consistency protocol's end-to-end proof: for random seeds, a live workload (puts, updates, deletes,
 * delete-then-recreate, target-key moves, transactions) runs against the source while the migrator is SIGKILLed at
 * random points — during the backfill and during the catch-up — and resumed with the same command. Once the workload
 * stops, a final `run --until-synced` must leave every target equal to transform(source), compared item by item by an
 * independent scanner.
 *
 * Runs for the scan backfill and for the touch strategy (every item updated so it flows through the stream).
 * SEEDS=N runs N seeds per strategy (default: 3 for scan, 2 for touch); SEED_BASE shifts them; STRATEGIES=scan,touch
 * picks the strategies.
 */
import { test } from 'node:test';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { localClientConfig, startDynamoDbLocal } from '../../src/local/dynamodb-local.js';
import { runCrashScenario } from '../support/crash-scenario.js';

const SEEDS = Number(process.env.SEEDS ?? 3);
const SEED_BASE = Number(process.env.SEED_BASE ?? 1);
const ITEMS = Number(process.env.CRASH_ITEMS ?? 3000);
const KILLS = 4;

const STRATEGIES = (process.env.STRATEGIES ?? 'scan,touch').split(',') as ('scan' | 'touch')[];
for (const strategy of STRATEGIES) {
  const seeds = process.env.SEEDS ? SEEDS : strategy === 'scan' ? 3 : 2;
  for (let i = 0; i < seeds; i++) {
    const seed = SEED_BASE + i;
    test(`${strategy} backfill, seed ${seed}: target equals transform(source) after concurrent writes and ${KILLS} SIGKILLs with resume`, { timeout: 300_000 }, async () => {
      const local = await startDynamoDbLocal();
      const client = new DynamoDBClient(localClientConfig(local.endpoint));
      try {
        await runCrashScenario({ seed, endpoint: local.endpoint, client, strategy, items: ITEMS, kills: KILLS });
      } finally {
        client.destroy();
        await local.stop();
      }
    });
  }
}

