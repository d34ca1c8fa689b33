/**
 * The synthesized state machine run by an ASL interpreter (test/support/asl-interpreter.ts) with the real task
 * handlers on DynamoDB Local: the `touch` strategy in the default mode. The definition decides the order: Prepare →
 * enable the stream mapping (where the harness starts the event source mapping driver) → the Map over the scan
 * segments, each child looping CopySegment (which touches its segment, then strips the markers) until done → Complete
 * → the ReplaySpool loop until live. Every touched item reaches the targets only through the stream handler.
 *
 * Under a live writer, two CopySegment invocations are killed (SIGKILL-equivalent): each touched and checkpointed a
 * page, then died before releasing its segment's lease (the lease is left held by a dead owner) and the task fails
 * with `Lambda.Unknown`. The definition's own Retry must re-run the task, wait out the lease through
 * `SegmentLeasedError` retries, and continue from the checkpoint. In the end every target equals transform(source) by
 * the independent scanner, and no source item keeps the marker. SEED picks the seed (default 5).
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
import { interpreterGaps, runBackfillStateMachine, synthesizeStateMachine, type InterceptedInvocation } from '../support/asl-interpreter.js';
import { createTable, latestStreamArn, withDynamoDbLocal } from '../support/dynamodb-local.js';
import { assertSpooledRunConverged, recordDeliveries, watchSinks } from '../support/spool-forensics.js';
import { KilledRuntime } from '../support/killed-lambda.js';
import { mulberry32, runWorkload, seedItems } from '../support/workload.js';
import { LocalEventSourceMapping } from '../fixtures/lambda/event-source-mapping.js';
import { crashingSink } from '../fixtures/lambda/injected-faults.js';
import { captureOutput, writeMigrationConfig } from '../fixtures/lambda/migration-fixture.js';

const SEED = Number(process.env.SEED ?? 5);
const ITEMS = 800;
const SEGMENTS = 4;
const STATE_TABLE = 'dynashift_state';
const KILLS = 2;
/** How long a killed invocation's lease outlives it here (a deployed one: the function's timeout + 30 s). */
const DEAD_LEASE_MS = 8_000;
const local = withDynamoDbLocal();

describe('the synthesized state machine, run by an ASL interpreter: touch backfill', () => {
  let config: ResolvedConfig;

  before(async () => {
    await createTable(local.client, { name: 'src', partitionKey: { name: 'id', type: 'S' }, streamViewType: 'NEW_AND_OLD_IMAGES' });
    await seedItems(local.client, 'src', ITEMS, mulberry32(SEED));
    await createStateTable(local.client, STATE_TABLE);
    const dir = mkdtempSync(join(tmpdir(), 'dynashift-asl-touch-'));
    const path = writeMigrationConfig(dir, { name: `asl-touch-${SEED}`, endpoint: local.endpoint, segments: SEGMENTS, concurrency: 3, pageSize: 50 });
    const raw = JSON.parse(readFileSync(path, 'utf8')) as { backfill: Record<string, unknown> };
    raw.backfill.strategy = 'touch';
    writeFileSync(path, JSON.stringify(raw, null, 2));
    config = await loadConfig(path);
  });

  test('the interpreter runs everything the touch definition uses except what the harness lists and emulates', () => {
    const gaps = interpreterGaps(synthesizeStateMachine(config).definition);
    assert.ok(
      gaps.some((g) => /^\w+: ProcessorConfig \{"Mode":"DISTRIBUTED","ExecutionType":"STANDARD"\} ignored/.test(g)),
      gaps.join('\n'),
    );
    assert.ok(
      gaps.some((g) => g.includes('SDK integration lambda:updateEventSourceMapping: emulated')),
      gaps.join('\n'),
    );
    assert.ok(!gaps.some((g) => g.endsWith('(refused)')), gaps.join('\n'));
  });

  test(
    `seed ${SEED}: Prepare → enable mapping → Map of touching CopySegment loops (two killed holding their lease, retried by the definition) → Complete → ReplaySpool until live, under a live writer: target equals transform(source), no marker left`,
    { timeout: 400_000 },
    async () => {
      const rng = mulberry32(SEED * 131);
      const out = captureOutput();
      const common = { stateTable: STATE_TABLE, stateClient: local.client, write: out.write };
      process.env.DYNASHIFT_HANDOFF_BELOW = '5';
      const sinks = watchSinks();
      const tasks = createBackfillTasks({ ...common, config, timeBudgetMs: 1, wrapSink: sinks.replay });
      const counters = { crashes: 0 };
      const recorded = recordDeliveries(
        createStreamHandler({ ...common, config, wrapSink: (s) => crashingSink(sinks.handler(s), rng, 0.03, counters) }),
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
        forceFirstRewind: true,
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

      // The kills: a segment's second invocation runs (touching and checkpointing a page), then dies before its lease
      // is released: a dead owner holds the segment's lease, and the task fails with Lambda.Unknown.
      const seen = new Map<number, number>();
      const killedSegments: number[] = [];
      let dooming = 0;
      const intercept = async (inv: InterceptedInvocation, invoke: () => Promise<unknown>): Promise<unknown> => {
        if (inv.handler !== 'backfillSegment') return invoke();
        const segment = (inv.event as { segment: number }).segment;
        const n = (seen.get(segment) ?? 0) + 1;
        seen.set(segment, n);
        if (n !== 2 || killedSegments.length + dooming >= KILLS) return invoke();
        dooming++; // concurrent children: the slot is taken before the awaits
        try {
          const result = (await invoke()) as { done: boolean };
          if (result.done) return result;
          const dead = new DynamoDbStateStore({
            client: local.client,
            table: STATE_TABLE,
            migration: config.name,
            owner: `killed-${inv.context.awsRequestId}`,
          });
          await dead.acquireSegment('source', String(segment), DEAD_LEASE_MS);
          killedSegments.push(segment);
        } finally {
          dooming--;
        }
        throw new KilledRuntime(`RequestId: ${inv.context.awsRequestId} Error: Runtime exited with error: signal: killed`);
      };

      try {
        const started = Date.now();
        const run = await runBackfillStateMachine({
          config,
          handlers: tasks as never,
          enableMapping: () => {
            mapping = poll();
            mapping.catch(() => {});
          },
          intercept,
          // The dead invocations' leases are set explicitly (DEAD_LEASE_MS), so the timeout need not be short; a short one
          // timed invocations out on a loaded machine, and the harness can't kill a timed-out invocation: it ran on and
          // finished its segment, using up a kill.
          lambdaTimeoutMs: 60_000,
          retryDelayMs: (_state, retrier) => (retrier.ErrorEquals.includes('SegmentLeasedError') ? 1_000 : 300),
        });
        const backfillMs = Date.now() - started;
        const byHandler: Record<string, number> = {};
        for (const i of run.invocations)
          byHandler[`${i.handler}:${i.ok ? 'ok' : i.error}`] = (byHandler[`${i.handler}:${i.ok ? 'ok' : i.error}`] ?? 0) + 1;
        const trace = `${backfillMs} ms, killed ${killedSegments.join(',')}, invocations ${JSON.stringify(byHandler)}`;
        assert.equal(run.error, undefined, `the execution failed: ${JSON.stringify(run.error)} (${trace})`);
        assert.deepEqual(
          run.enabled.map((m) => m.source),
          ['source'],
        );
        const order = run.invocations.map((i) => i.handler);
        const firstComplete = order.indexOf('complete');
        assert.equal(order[0], 'prepare');
        assert.ok(
          order.indexOf('backfillSegment') > 0 && firstComplete > order.lastIndexOf('backfillSegment'),
          'Complete runs after every CopySegment',
        );
        assert.ok(order.indexOf('replaySpool') > firstComplete, 'the replay follows Complete');
        assert.deepEqual(run.output?.done, true, 'the execution ends with the spool live');

        assert.equal(killedSegments.length, KILLS, trace);
        for (const segment of killedSegments) {
          const attempts = run.invocations.filter((i) => i.handler === 'backfillSegment' && (i.event as { segment: number }).segment === segment);
          const killedAt = attempts.findIndex((i) => i.error === 'Lambda.Unknown');
          const after = attempts.slice(killedAt + 1);
          const trail = attempts.map((i) => `${i.ok ? 'ok' : i.error} ${i.ms}ms`).join(', ');
          assert.ok(killedAt >= 0, `segment ${segment} was killed: ${trail}`);
          assert.ok(
            after.some((i) => i.error === 'SegmentLeasedError'),
            `segment ${segment}: the retry met the dead invocation's lease: ${trail}`,
          );
          assert.ok(after.at(-1)?.ok, `segment ${segment} finished after the kill: ${trail}`);
        }
        assert.ok((run.retries.CopySegment ?? 0) >= KILLS * 2, `the definition retried CopySegment (${JSON.stringify(run.retries)})`);
        const store = new DynamoDbStateStore({ client: local.client, table: STATE_TABLE, migration: config.name });
        const state = await store.load();
        for (let i = 0; i < SEGMENTS; i++) assert.equal(state!.sources.source!.backfill.partitions[String(i)]?.done, true, `segment ${i} done`);

        const until = Date.now() + 3_000;
        while (Date.now() < until) await new Promise((r) => setTimeout(r, 100));
        stopWorkload.abort();
        const counts = await workload;
        stopEsm = true;
        await mapping;
        await esm.drain();
        await esm.drain();

        const metrics = out.metrics();
        const context = `seed ${SEED}: backfill ${trace}, retries ${JSON.stringify(run.retries)}, workload ${JSON.stringify(counts)}, sink crashes ${counters.crashes}, ${sinks.summary()}, metrics ${JSON.stringify(metrics)}`;
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
        assert.ok((metrics.RecordsApplied ?? 0) > 0, `batches were applied live after the handoff (${context})`);
        assert.equal((await store.peek())!.phase, 'catching-up', 'the replay moved the phase once live');
        assert.ok(counts.total > 100, context);
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
