/**
 * The touch backfill on the AWS runner, with the real task handlers on DynamoDB Local: the segment Map's children
 * touch their scan segment (the CLI's touchAll/removeMarkers, one page per tiny time budget), so every item flows
 * through the stream to the stream handler, which spools it while the backfill runs (the marker stripped before the
 * transform); one child is killed holding its lease (its successor is refused until the lease expires, then continues
 * from the checkpoint); the stream handler's sink crashes now and then (redelivery). A live writer runs throughout.
 * In the end every target equals transform(source) by the independent scanner, and no item keeps the marker.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load-config.js';
import type { ResolvedConfig } from '../../src/config/resolved-config.js';
import { createStreamHandler } from '../../src/runners/lambda/stream-handler.js';
import { createBackfillTasks } from '../../src/runners/stepfunctions/tasks.js';
import { TOUCH_MARKER_ATTRIBUTE } from '../../src/sources/touch/index.js';
import { createStateTable, DynamoDbStateStore } from '../../src/state/dynamodb-state-store.js';
import { createTable, latestStreamArn, withDynamoDbLocal } from '../support/dynamodb-local.js';
import { assertSpooledRunConverged, recordDeliveries, watchSinks } from '../support/spool-forensics.js';
import { mulberry32, runWorkload, seedItems } from '../support/workload.js';
import { LocalEventSourceMapping } from '../fixtures/lambda/event-source-mapping.js';
import { crashingSink } from '../fixtures/lambda/injected-faults.js';
import { captureOutput, writeMigrationConfig } from '../fixtures/lambda/migration-fixture.js';
import { runBackfillStateMachine } from '../fixtures/lambda/state-machine.js';

const SEED = Number(process.env.SEED ?? 5);
const ITEMS = 1000;
const SEGMENTS = 4;
const STATE_TABLE = 'dynashift_state';
const local = withDynamoDbLocal();

describe('touch backfill on the AWS runner (a Distributed Map over scan segments that touches keys)', () => {
  let config: ResolvedConfig;

  before(async () => {
    await createTable(local.client, { name: 'src', partitionKey: { name: 'id', type: 'S' }, streamViewType: 'NEW_AND_OLD_IMAGES' });
    await seedItems(local.client, 'src', ITEMS, mulberry32(SEED));
    await createStateTable(local.client, STATE_TABLE);
    const dir = mkdtempSync(join(tmpdir(), 'dynashift-sfn-touch-'));
    const path = writeMigrationConfig(dir, { name: `sfn-touch-${SEED}`, endpoint: local.endpoint, segments: SEGMENTS, concurrency: 3, pageSize: 40 });
    const raw = JSON.parse(readFileSync(path, 'utf8')) as { backfill: Record<string, unknown> };
    raw.backfill.strategy = 'touch';
    writeFileSync(path, JSON.stringify(raw, null, 2));
    config = await loadConfig(path);
  });

  test(
    'every item is touched through the stream handler (spooled, marker stripped), a child killed holding its lease is retried from its checkpoint, under a live writer: target equals transform(source) and no source item keeps the marker',
    { timeout: 300_000 },
    async () => {
      const rng = mulberry32(SEED * 31);
      const out = captureOutput();
      const counters = { crashes: 0 };
      const common = { stateTable: STATE_TABLE, stateClient: local.client, write: out.write };
      const sinks = watchSinks();
      const tasks = createBackfillTasks({ ...common, config, wrapSink: sinks.replay });
      const recorded = recordDeliveries(
        createStreamHandler({ ...common, config, wrapSink: (s) => crashingSink(sinks.handler(s), rng, 0.03, counters, 2) }),
      );
      const handler = recorded.handler;
      const esm = new LocalEventSourceMapping({
        streams: local.streams,
        streamArn: await latestStreamArn(local.client, 'src'),
        handler,
        batchSize: 100,
        rng,
        duplicateRate: 0.1,
        rewindRate: 0.05,
        // The final replay pass returns every batch for redelivery until it is done; Lambda keeps retrying meanwhile
        // (its retries are unlimited by default), so the local mapping waits long enough on a loaded machine.
        maxRetries: 4000,
        retryDelayMs: 25,
      });

      const stopWorkload = new AbortController();
      const workload = runWorkload(local.client, 'src', {
        rng: mulberry32(SEED * 7919),
        idSpace: Math.round(ITEMS * 1.3),
        concurrency: 3,
        signal: stopWorkload.signal,
      });
      let stopEsm = false;
      let mapping: Promise<void> | undefined;
      const poll = async (): Promise<void> => {
        while (!stopEsm) {
          await esm.drain();
          await new Promise((r) => setTimeout(r, 20));
        }
      };
      const store = new DynamoDbStateStore({ client: local.client, table: STATE_TABLE, migration: config.name });
      let killedAt: { items: number; cursor: unknown } | undefined;
      try {
        const run = await runBackfillStateMachine(tasks, {
          concurrency: 3,
          timeBudgetMs: 1,
          maxAttempts: 100,
          onPrepared: async (prepare) => {
            mapping = poll();
            mapping.catch(() => {});
            // Before the Map runs: segment 0 is touched for a page, then its next invocation is killed — it leaves its
            // lease behind unreleased, as a SIGKILLed Lambda does (a short lease here; a deployed one outlives the
            // function's timeout). The Map's child for segment 0 is refused until it expires, then continues.
            const first = await tasks.backfillSegment({ ...prepare.segments[0]!, timeBudgetMs: 1 });
            assert.equal(first.done, false);
            killedAt = { items: first.items, cursor: first.cursor };
            const dead = new DynamoDbStateStore({ client: local.client, table: STATE_TABLE, migration: config.name, owner: 'killed-invocation' });
            await dead.acquireSegment('source', '0', 5_000);
          },
          replay: { timeBudgetMs: 50, handoffBelow: 5 },
        });
        assert.deepEqual(
          run.prepare.segments.map((s) => s.segment),
          [0, 1, 2, 3],
        );
        assert.equal(run.prepare.exportFiles, null);
        assert.ok(run.retries > 0, `the killed child's successor was refused (SegmentLeasedError) and retried (${run.retries})`);
        assert.ok(killedAt && killedAt.items > 0 && killedAt.cursor, 'the killed child had touched a page and checkpointed it');
        assert.equal(run.results.length, SEGMENTS);
        assert.ok(run.results.every((r) => r.done));
        assert.ok(run.invocations > SEGMENTS * 4, `each segment took several invocations, both passes (${run.invocations})`);
        const state = await store.load();
        for (let i = 0; i < SEGMENTS; i++) assert.equal(state!.sources.source!.backfill.partitions[String(i)]?.done, true, `segment ${i} done`);
        const touched = Object.values(state!.sources.source!.backfill.partitions).reduce((n, p) => n + p.items, 0);
        assert.ok(touched >= ITEMS * 0.7, `the touch pass updated the table's items (${touched})`);
        assert.equal(run.complete.complete, true);
        assert.equal(run.complete.replay, true);

        const until = Date.now() + 3_000;
        while (Date.now() < until) await new Promise((r) => setTimeout(r, 100));
        stopWorkload.abort();
        const counts = await workload;
        stopEsm = true;
        await mapping;
        await esm.drain();
        await esm.drain();

        const metrics = out.metrics();
        const context = `seed ${SEED}: workload ${JSON.stringify(counts)}, touched ${touched}, sink crashes ${counters.crashes}, ${sinks.summary()}, invocations ${run.invocations}, retries ${run.retries}, replays ${run.replays.length}, metrics ${JSON.stringify(metrics)}`;
        const { source, expected } = await assertSpooledRunConverged({
          client: local.client,
          streams: local.streams,
          stateTable: STATE_TABLE,
          migration: config.name,
          deliveries: recorded.deliveries,
          logLines: out.lines(),
          context,
          sinks,
        });
        assert.equal(source.filter((item) => TOUCH_MARKER_ATTRIBUTE in item).length, 0, 'the removal pass left no marker on the source');
        assert.ok((metrics.RecordsSpooled ?? 0) >= ITEMS, `the touches flowed through the stream handler into the spool (${context})`);
        assert.ok(counts.total > 100 && counters.crashes > 0, context);
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
