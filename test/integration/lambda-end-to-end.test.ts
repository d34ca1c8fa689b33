/**
 * The AWS runner end to end on DynamoDB Local, with stream.duringBackfill false (the stream mapping enabled after the
 * backfill; lambda-spool-end-to-end.test.ts runs the default, spooling mode): the Step Functions backfill (Prepare →
 * segment loops with a tiny time budget → Complete) runs while a seeded random workload writes to the source; then Lambda-shaped batches from the real
 * stream go through the stream handler while the workload continues. Faults on the way:
 *
 * - backfill: a target write that crashes mid-page (the task fails, the state machine retries it from its checkpoint);
 * - stream: a transform that fails once on some records (halt: batchItemFailures from that record, a dead letter,
 *   redelivery from there), a sink that crashes after writing part of a batch (redelivered whole), a successful batch
 *   delivered again, and a rewind to an older checkpoint (every later record re-processed in order).
 *
 * After the workload stops and the stream is drained, every target must equal transform(source), item by item, by the
 * independent scanner. SEED picks the seed (default 1).
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load-config.js';
import type { ResolvedConfig } from '../../src/config/resolved-config.js';
import { createStreamHandler } from '../../src/runners/lambda/stream-handler.js';
import { createBackfillTasks } from '../../src/runners/stepfunctions/tasks.js';
import { createStateTable, DynamoDbStateStore } from '../../src/state/dynamodb-state-store.js';
import { createTable, latestStreamArn, withDynamoDbLocal } from '../support/dynamodb-local.js';
import { compareTables, formatDiff, isEmptyDiff, scanAll } from '../support/independent-scan.js';
import { mulberry32, runWorkload, seedItems } from '../support/workload.js';
import { LocalEventSourceMapping } from '../fixtures/lambda/event-source-mapping.js';
import { captureOutput, expectedTargets, writeMigrationConfig } from '../fixtures/lambda/migration-fixture.js';
import { runBackfillStateMachine } from '../fixtures/lambda/state-machine.js';
import { crashingSink, flakyTransform } from '../fixtures/lambda/injected-faults.js';

const SEED = Number(process.env.SEED ?? 1);
const ITEMS = 1500;
const STATE_TABLE = 'dynashift_state';
const local = withDynamoDbLocal();

describe('AWS runner end to end', () => {
  let config: ResolvedConfig;

  before(async () => {
    await createTable(local.client, { name: 'src', partitionKey: { name: 'id', type: 'S' }, streamViewType: 'NEW_AND_OLD_IMAGES' });
    await seedItems(local.client, 'src', ITEMS, mulberry32(SEED));
    await createStateTable(local.client, STATE_TABLE);
    const dir = mkdtempSync(join(tmpdir(), 'dynashift-e2e-'));
    config = await loadConfig(
      writeMigrationConfig(dir, { name: `e2e-${SEED}`, endpoint: local.endpoint, segments: 6, concurrency: 3, pageSize: 100, duringBackfill: false }),
    );
  });

  test(
    `seed ${SEED}: backfill + stream handler under a live workload, with crashes, partial failures, duplicates and rewinds: target equals transform(source)`,
    { timeout: 110_000 },
    async () => {
      const rng = mulberry32(SEED * 31);
      const out = captureOutput();
      const counters = { crashes: 0 };
      const common = { stateTable: STATE_TABLE, stateClient: local.client, write: out.write };
      const tasks = createBackfillTasks({ ...common, config, wrapSink: (s) => crashingSink(s, rng, 0.05, counters) });

      const stopWorkload = new AbortController();
      const workload = runWorkload(local.client, 'src', {
        rng: mulberry32(SEED * 7919),
        idSpace: Math.round(ITEMS * 1.3),
        concurrency: 4,
        signal: stopWorkload.signal,
      });
      try {
        const run = await runBackfillStateMachine(tasks, { concurrency: 3, timeBudgetMs: 1, retryOn: ['InjectedCrash'] });
        assert.equal(run.complete.enableStreamMapping, true);
        assert.equal(run.replays.length, 0, 'nothing was spooled: no replay');
        assert.ok(run.invocations > run.prepare.segments.length * 2, `each segment took several invocations (${run.invocations})`);
        const backfillCrashes = counters.crashes;

        const failedOnce = new Set<string>();
        const handler = createStreamHandler({
          ...common,
          config: { ...config, transform: flakyTransform(config.transform!, rng, 0.002, failedOnce) },
          wrapSink: (s) => crashingSink(s, rng, 0.03, counters),
        });
        const streamArn = await latestStreamArn(local.client, 'src');
        const esm = new LocalEventSourceMapping({
          streams: local.streams,
          streamArn,
          handler,
          batchSize: 100,
          rng,
          duplicateRate: 0.15,
          rewindRate: 0.1,
          forceFirstRewind: true,
          maxRetries: 20,
        });
        // Catch-up while the application keeps writing.
        const until = Date.now() + 4_000;
        while (Date.now() < until) await esm.drain();
        stopWorkload.abort();
        const counts = await workload;
        await esm.drain();
        await esm.drain();

        const store = new DynamoDbStateStore({ client: local.client, table: STATE_TABLE, migration: config.name });
        const letters = await store.deadLetters();
        const context = `seed ${SEED}: workload ${JSON.stringify(counts)}, esm ${JSON.stringify({ ...esm.stats, failedAt: esm.stats.failedAt.length })}, crashes ${counters.crashes} (backfill ${backfillCrashes}), dead letters ${letters.length}`;
        const expected = expectedTargets(await scanAll(local.client, 'src'));
        const byGroup = compareTables(expected.byGroup, await scanAll(local.client, 'dst_by_group'), ['grp', 'id']);
        const flags = compareTables(expected.flags, await scanAll(local.client, 'dst_flags'), ['id']);
        assert.ok(isEmptyDiff(byGroup), `byGroup differs (${context}):\n${formatDiff(byGroup)}`);
        assert.ok(isEmptyDiff(flags), `flags differs (${context}):\n${formatDiff(flags)}`);

        // The faults really happened, and every dead letter is an injected transform failure at a reported position.
        assert.ok(counts.total > 200, context);
        assert.ok(esm.stats.partialFailures > 0 && esm.stats.duplicates > 0 && esm.stats.rewinds > 0, context);
        assert.ok(counters.crashes > 0, context);
        for (const letter of letters) {
          assert.equal(letter.error.code, 'TRANSFORM_FAILED', JSON.stringify(letter));
          assert.ok(
            esm.stats.failedAt.includes(letter.sequenceNumber!),
            `dead letter ${letter.sequenceNumber} was reported as the first failure of a batch`,
          );
        }
        assert.ok(expected.byGroup.length > ITEMS / 2, 'the comparison covers a substantial table');
        console.log(`# ${context}`);
      } finally {
        stopWorkload.abort();
        await workload.catch(() => {});
      }
    },
  );
});
