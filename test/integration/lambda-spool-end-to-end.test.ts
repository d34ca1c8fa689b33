/**
 * The AWS runner end to end on DynamoDB Local in its default mode (stream.duringBackfill): the stream mapping is
 * enabled right after Prepare, so Lambda-shaped batches from the real stream go through the stream handler *while* the
 * Step Functions backfill runs (rate-limited, so the stream is spooled for most of it) under a seeded random workload;
 * after Complete, the Replay task loops (a tiny time budget, so it continues across invocations) until it hands off
 * and goes live, and the handler applies the stream from there. Faults on the way, as in lambda-end-to-end.test.ts:
 * backfill target writes that crash mid-page, a transform that fails once on some records (while spooling and while
 * applying), a sink that crashes after part of a batch, duplicate batches and rewinds of the mapping.
 *
 * After the workload stops and the stream is drained, every target must equal transform(source), item by item, by the
 * independent scanner — including items whose target key moved while the backfill ran. SEED picks the seed (default 1).
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
import { mulberry32, runWorkload, seedItems } from '../support/workload.js';
import { LocalEventSourceMapping } from '../fixtures/lambda/event-source-mapping.js';
import { captureOutput, writeMigrationConfig } from '../fixtures/lambda/migration-fixture.js';
import { runBackfillStateMachine } from '../fixtures/lambda/state-machine.js';
import { crashingSink, flakyTransform } from '../fixtures/lambda/injected-faults.js';
import { assertSpooledRunConverged, recordDeliveries, watchSinks } from '../support/spool-forensics.js';

const SEED = Number(process.env.SEED ?? 1);
const ITEMS = 1500;
const STATE_TABLE = 'dynashift_state';
const local = withDynamoDbLocal();

describe('AWS runner end to end, stream spooled during the backfill', () => {
  let config: ResolvedConfig;

  before(async () => {
    await createTable(local.client, { name: 'src', partitionKey: { name: 'id', type: 'S' }, streamViewType: 'NEW_AND_OLD_IMAGES' });
    await seedItems(local.client, 'src', ITEMS, mulberry32(SEED));
    await createStateTable(local.client, STATE_TABLE);
    const dir = mkdtempSync(join(tmpdir(), 'dynashift-spool-e2e-'));
    config = await loadConfig(
      writeMigrationConfig(dir, {
        name: `spool-e2e-${SEED}`,
        endpoint: local.endpoint,
        segments: 6,
        concurrency: 3,
        pageSize: 50,
        maxReadUnitsPerSecond: Number(process.env.READ_UNITS ?? 400),
      }),
    );
  });

  test(
    `seed ${SEED}: the stream handler spools during the backfill, the replay hands off and goes live, under a live workload with crashes, partial failures, duplicates and rewinds: target equals transform(source)`,
    { timeout: 240_000 },
    async () => {
      const rng = mulberry32(SEED * 31);
      const out = captureOutput();
      const counters = { crashes: 0 };
      const common = { stateTable: STATE_TABLE, stateClient: local.client, write: out.write };
      // Every sink is watched (SDK attempts and retries) and every delivery recorded: on a difference, the failure
      // message carries each differing key's stream history and what the handler answered (spool-forensics.ts).
      const sinks = watchSinks();
      const tasks = createBackfillTasks({ ...common, config, wrapSink: (s) => crashingSink(sinks.replay(s), rng, 0.05, counters) });
      const failedOnce = new Set<string>();
      const recorded = recordDeliveries(
        createStreamHandler({
          ...common,
          config: { ...config, transform: flakyTransform(config.transform!, rng, 0.002, failedOnce) },
          wrapSink: (s) => crashingSink(sinks.handler(s), rng, 0.03, counters),
        }),
      );
      const handler = recorded.handler;
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
        // The final replay pass returns every batch for redelivery until it is done: Lambda backs off meanwhile.
        maxRetries: 400,
        retryDelayMs: 25,
      });

      const stopWorkload = new AbortController();
      const workload = runWorkload(local.client, 'src', {
        rng: mulberry32(SEED * 7919),
        idSpace: Math.round(ITEMS * 1.3),
        concurrency: 4,
        signal: stopWorkload.signal,
      });
      // The event source mapping, enabled right after Prepare (as the state machine does), polls until told to stop.
      let stopEsm = false;
      let mapping: Promise<void> | undefined;
      const poll = async (): Promise<void> => {
        while (!stopEsm) {
          await esm.drain();
          await new Promise((r) => setTimeout(r, 20));
        }
      };
      try {
        const started = Date.now();
        const run = await runBackfillStateMachine(tasks, {
          concurrency: 3,
          timeBudgetMs: 1,
          retryOn: ['InjectedCrash'],
          onPrepared: () => {
            mapping = poll();
            mapping.catch(() => {}); // awaited (and its failure thrown) after the backfill
          },
          replay: { timeBudgetMs: 30, handoffBelow: 5 },
        });
        const backfillMs = Date.now() - started;
        assert.equal(run.complete.enableStreamMapping, true);
        assert.equal(run.complete.replay, true, 'Complete hands over to the replay');
        assert.ok(run.invocations > run.prepare.segments.length * 2, `each segment took several invocations (${run.invocations})`);
        const spooledDuringBackfill = out.metrics().RecordsSpooled ?? 0;
        const backfillCrashes = counters.crashes;

        // Catch-up while the application keeps writing.
        const until = Date.now() + 4_000;
        while (Date.now() < until) await new Promise((r) => setTimeout(r, 100));
        stopWorkload.abort();
        const counts = await workload;
        stopEsm = true;
        await mapping;
        await esm.drain();
        await esm.drain();

        const store = new DynamoDbStateStore({ client: local.client, table: STATE_TABLE, migration: config.name });
        const letters = await store.deadLetters();
        const replayed = run.replays.reduce((n, r) => n + r.replayed, 0);
        const requeued = run.replays.reduce((n, r) => n + r.requeued, 0);
        const metrics = out.metrics();
        const context = `seed ${SEED}: backfill ${backfillMs} ms, workload ${JSON.stringify(counts)}, esm ${JSON.stringify({ ...esm.stats, failedAt: esm.stats.failedAt.length })}, spooled ${metrics.RecordsSpooled} records (${spooledDuringBackfill} during the backfill), ${metrics.KeysSpooled} keys, replayed ${replayed} keys in ${run.replays.length} invocations (${requeued} requeued), deferred ${metrics.RecordsDeferred ?? 0}, applied ${metrics.RecordsApplied ?? 0}, crashes ${counters.crashes} (backfill ${backfillCrashes}), dead letters ${letters.length}, ${sinks.summary()}`;
        // Both targets equal transform(source) and the spool is empty; on a difference the message carries the evidence
        // (spool leftovers, handoff timeline, each differing key's stream history and deliveries).
        const { expected } = await assertSpooledRunConverged({
          client: local.client,
          streams: local.streams,
          stateTable: STATE_TABLE,
          migration: config.name,
          deliveries: recorded.deliveries,
          logLines: out.lines(),
          context,
          sinks,
        });

        // The stream was consumed during the backfill and the replay did the work, across several invocations.
        assert.ok(spooledDuringBackfill > 100, `records were spooled while the backfill ran (${context})`);
        assert.ok(replayed > 50, `the replay re-read spooled keys (${context})`);
        assert.ok(run.replays.length > 1 && run.replays.at(-1)!.done, `the replay continued across invocations until live (${context})`);
        assert.ok((metrics.RecordsApplied ?? 0) > 0, `batches were applied live after the handoff (${context})`);
        const spool = store.spool();
        assert.deepEqual(await spool.control('source'), { mode: 'live', spooled: (await spool.control('source'))!.spooled });
        assert.equal(await spool.count('source'), 0, 'the spool is empty once live');
        assert.equal((await store.peek())!.phase, 'catching-up', 'the replay moved the phase once live');

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
        stopEsm = true;
        await workload.catch(() => {});
        await mapping?.catch(() => {});
      }
    },
  );
});
