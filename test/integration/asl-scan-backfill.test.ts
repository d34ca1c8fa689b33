/**
 * The synthesized state machine itself, run by an ASL interpreter (aws-local-stepfunctions through
 * test/support/asl-interpreter.ts), with the real task handlers on DynamoDB Local: the `scan` strategy in the default
 * mode (stream.duringBackfill). The definition — not a test driver — decides the order: Prepare → enable the stream
 * mapping (where the harness starts the event source mapping driver) → the Map over the segments, each child looping
 * CopySegment until done → Complete → the ReplaySpool loop until live.
 *
 * Under a live writer, two CopySegment invocations are killed mid-page (SIGKILL-equivalent: a separate container
 * whose every request fails from the moment half of a target write landed, so it neither checkpoints nor releases the
 * segment's lease; the task fails with `Lambda.Unknown`, what Step Functions reports for a killed runtime). The
 * definition's own Retry must then re-run the task, wait out the lease through `SegmentLeasedError` retries, and
 * continue from the checkpoint. The stream handler applies the records (with duplicates, rewinds, partial failures),
 * and in the end every target must equal transform(source) by the independent scanner.
 *
 * What the interpreter runs differently from Step Functions (the Distributed Map's children run inline, Label and
 * ToleratedFailurePercentage ignored, Retry pauses time-compressed, the SDK integration that enables the mapping
 * emulated) is asserted below from `interpreterGaps` and listed in docs/aws.md, "How it is tested".
 * SEED picks the seed (default 1).
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
import { interpreterGaps, runBackfillStateMachine, synthesizeStateMachine, type InterceptedInvocation } from '../support/asl-interpreter.js';
import { createTable, latestStreamArn, withDynamoDbLocal } from '../support/dynamodb-local.js';
import { compareTables, formatDiff, isEmptyDiff, scanAll } from '../support/independent-scan.js';
import { doomedContainer, KilledRuntime } from '../support/killed-lambda.js';
import { mulberry32, runWorkload, seedItems } from '../support/workload.js';
import { LocalEventSourceMapping } from '../fixtures/lambda/event-source-mapping.js';
import { crashingSink, flakyTransform } from '../fixtures/lambda/injected-faults.js';
import { captureOutput, expectedTargets, writeMigrationConfig } from '../fixtures/lambda/migration-fixture.js';

const SEED = Number(process.env.SEED ?? 1);
const ITEMS = 1500;
const STATE_TABLE = 'dynashift_state';
/** The backfill function's timeout in this run: a killed invocation's lease lasts this + 30 s. */
const SEGMENT_TIMEOUT_MS = 15_000;
const KILLS = 2;
const local = withDynamoDbLocal();

describe('the synthesized state machine, run by an ASL interpreter: scan backfill', () => {
  let config: ResolvedConfig;

  before(async () => {
    await createTable(local.client, { name: 'src', partitionKey: { name: 'id', type: 'S' }, streamViewType: 'NEW_AND_OLD_IMAGES' });
    await seedItems(local.client, 'src', ITEMS, mulberry32(SEED));
    await createStateTable(local.client, STATE_TABLE);
    const dir = mkdtempSync(join(tmpdir(), 'dynashift-asl-scan-'));
    config = await loadConfig(
      writeMigrationConfig(dir, {
        name: `asl-scan-${SEED}`,
        endpoint: local.endpoint,
        segments: 6,
        concurrency: 3,
        pageSize: 50,
        maxReadUnitsPerSecond: 400,
      }),
    );
  });

  test('the interpreter runs everything the scan definition uses except what the harness lists and emulates', () => {
    const gaps = interpreterGaps(synthesizeStateMachine(config).definition);
    assert.deepEqual(
      gaps.map((g) => g.replace(/:.*$/, '')),
      [
        'Prepare',
        'Prepare',
        'EnableStreamMapping0',
        'EnableStreamMapping0',
        'BackfillSegments',
        'BackfillSegments',
        'CopySegment',
        'CopySegment',
        'Complete',
        'Complete',
        'ReplaySpool',
        'ReplaySpool',
      ],
      gaps.join('\n'),
    );
    assert.ok(gaps.some((g) => g.startsWith('BackfillSegments: ProcessorConfig {"Mode":"DISTRIBUTED","ExecutionType":"STANDARD"} ignored')));
    assert.ok(gaps.some((g) => g.startsWith('EnableStreamMapping0: SDK integration lambda:updateEventSourceMapping: emulated')));
    assert.ok(!gaps.some((g) => g.endsWith('(refused)')));
  });

  test(
    `seed ${SEED}: Prepare → enable mapping → Map of CopySegment loops (two killed mid-page, retried on their leased segment by the definition) → Complete → ReplaySpool until live, under a live writer: target equals transform(source)`,
    { timeout: 600_000 },
    async () => {
      const rng = mulberry32(SEED * 131);
      const out = captureOutput();
      const common = { stateTable: STATE_TABLE, stateClient: local.client, write: out.write };
      // The deployed functions read the time budget and the handoff threshold from their environment.
      process.env.DYNASHIFT_HANDOFF_BELOW = '5';
      const tasks = createBackfillTasks({ ...common, config, timeBudgetMs: 1 });
      const counters = { crashes: 0 };
      const failedOnce = new Set<string>();
      const handler = createStreamHandler({
        ...common,
        config: { ...config, transform: flakyTransform(config.transform!, rng, 0.002, failedOnce) },
        wrapSink: (s) => crashingSink(s, rng, 0.03, counters),
      });
      const esm = new LocalEventSourceMapping({
        streams: local.streams,
        streamArn: await latestStreamArn(local.client, 'src'),
        handler,
        batchSize: 100,
        rng,
        duplicateRate: 0.1,
        rewindRate: 0.05,
        forceFirstRewind: true,
        maxRetries: 1000,
        retryDelayMs: 25,
      });

      const stopWorkload = new AbortController();
      const workload = runWorkload(local.client, 'src', {
        rng: mulberry32(SEED * 7919),
        idSpace: Math.round(ITEMS * 1.3),
        concurrency: 4,
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

      // The kills: from its second invocation on, a segment's CopySegment runs in a doomed container, until KILLS
      // segments have died mid-write (an invocation that ends before its first write, e.g. refused while the segment
      // is still leased, is an ordinary one).
      const seen = new Map<number, number>();
      const killedSegments: number[] = [];
      let dooming = 0;
      const intercept = async (inv: InterceptedInvocation, invoke: () => Promise<unknown>): Promise<unknown> => {
        if (inv.handler !== 'backfillSegment') return invoke();
        const segment = (inv.event as { segment: number }).segment;
        const n = (seen.get(segment) ?? 0) + 1;
        seen.set(segment, n);
        if (n < 2 || killedSegments.length + dooming >= KILLS || killedSegments.includes(segment)) return invoke();
        dooming++;
        const doomed = doomedContainer({ config, stateTable: STATE_TABLE, stateClient: local.client, write: out.write });
        const running = doomed.tasks.backfillSegment(inv.event as never, inv.context);
        const outcome = await Promise.race([
          doomed.killed.then(() => 'killed' as const),
          running.then(
            () => 'ended' as const,
            () => 'ended' as const,
          ),
        ]);
        dooming--;
        if (outcome === 'ended') return running;
        running.catch(() => {}); // it died: nothing it does from here on lands
        killedSegments.push(segment);
        throw new KilledRuntime(`RequestId: ${inv.context.awsRequestId} Error: Runtime exited with error: signal: killed`);
      };

      try {
        const started = Date.now();
        const run = await runBackfillStateMachine({
          config,
          handlers: tasks as never,
          enableMapping: () => {
            mapping = poll();
            mapping.catch(() => {}); // awaited (and its failure thrown) below
          },
          intercept,
          lambdaTimeoutMs: (fn) => (fn.handler === 'backfillSegment' ? SEGMENT_TIMEOUT_MS : 60_000),
          // Time-compressed pauses; the lease retrier's 60 attempts must outlast a dead invocation's lease (timeout + 30 s).
          retryDelayMs: (_state, retrier) => (retrier.ErrorEquals.includes('SegmentLeasedError') ? 2_000 : 300),
        });
        const backfillMs = Date.now() - started;
        const byHandler: Record<string, string[]> = {};
        for (const i of run.invocations) (byHandler[i.handler] ??= []).push(`${i.ok ? 'ok' : i.error}:${i.ms}`);
        const trace = `${backfillMs} ms, killed ${killedSegments.join(',')}, invocations ${JSON.stringify(byHandler)}`;
        assert.equal(run.error, undefined, `the execution failed: ${JSON.stringify(run.error)} (${trace})`);
        assert.deepEqual(
          run.enabled.map((m) => m.source),
          ['source'],
          'the definition enabled the one mapping',
        );

        // The order the definition imposed, from the invocations the harness recorded.
        const order = run.invocations.map((i) => i.handler);
        const firstCopy = order.indexOf('backfillSegment');
        const firstComplete = order.indexOf('complete');
        assert.equal(order[0], 'prepare');
        assert.ok(firstCopy > 0 && firstComplete > order.lastIndexOf('backfillSegment'), 'Complete runs after every CopySegment');
        assert.ok(order.indexOf('replaySpool') > firstComplete, 'the replay follows Complete');
        assert.equal(order.filter((h) => h === 'complete').length, 1, trace);
        const enabledAt = run.events.findIndex((e) => e.type === 'StateEntered' && e.state.name === 'EnableStreamMapping0');
        const mapAt = run.events.findIndex((e) => e.type === 'StateEntered' && e.state.name === 'BackfillSegments');
        assert.ok(enabledAt >= 0 && enabledAt < mapAt, 'the mapping is enabled before the Map starts');
        const replays = run.invocations.filter((i) => i.handler === 'replaySpool' && i.ok);
        assert.ok(replays.length > 1, `the replay looped (${replays.length} invocations)`);
        assert.deepEqual(run.output?.done, true, 'the execution ends with the spool live');

        // Each kill: Lambda.Unknown, retried by the definition, refused while the dead invocation's lease lasts, then
        // continued to the end of its segment.
        assert.equal(killedSegments.length, KILLS, trace);
        for (const segment of killedSegments) {
          const attempts = run.invocations.filter((i) => i.handler === 'backfillSegment' && (i.event as { segment: number }).segment === segment);
          const killedAt = attempts.findIndex((i) => i.error === 'Lambda.Unknown');
          const trail = attempts.map((i) => `${i.ok ? 'ok' : i.error} ${i.ms}ms`).join(', ');
          assert.ok(killedAt >= 0, `segment ${segment} was killed: ${trail}`);
          const after = attempts.slice(killedAt + 1);
          assert.ok(
            after.some((i) => i.error === 'SegmentLeasedError'),
            `segment ${segment}: the retry met the dead invocation's lease`,
          );
          assert.ok(after.at(-1)?.ok, `segment ${segment} finished after the kill`);
        }
        assert.ok((run.retries.CopySegment ?? 0) >= KILLS * 2, `the definition retried CopySegment (${JSON.stringify(run.retries)})`);

        // Catch-up while the application keeps writing, then drain.
        const until = Date.now() + 3_000;
        while (Date.now() < until) await new Promise((r) => setTimeout(r, 100));
        stopWorkload.abort();
        const counts = await workload;
        stopEsm = true;
        await mapping;
        await esm.drain();
        await esm.drain();

        const store = new DynamoDbStateStore({ client: local.client, table: STATE_TABLE, migration: config.name });
        const metrics = out.metrics();
        const context = `seed ${SEED}: backfill ${trace}, ${run.invocations.length} task invocations, retries ${JSON.stringify(run.retries)}, killed segments ${killedSegments.join(',')}, workload ${JSON.stringify(counts)}, spooled ${metrics.RecordsSpooled ?? 0} records, applied ${metrics.RecordsApplied ?? 0}, stream crashes ${counters.crashes}`;
        const expected = expectedTargets(await scanAll(local.client, 'src'));
        const byGroup = compareTables(expected.byGroup, await scanAll(local.client, 'dst_by_group'), ['grp', 'id']);
        const flags = compareTables(expected.flags, await scanAll(local.client, 'dst_flags'), ['id']);
        assert.ok(isEmptyDiff(byGroup), `byGroup differs (${context}):\n${formatDiff(byGroup)}`);
        assert.ok(isEmptyDiff(flags), `flags differs (${context}):\n${formatDiff(flags)}`);
        assert.ok(expected.byGroup.length > ITEMS / 2, 'the comparison covers a substantial table');
        assert.ok(counts.total > 100, context);
        assert.ok((metrics.RecordsSpooled ?? 0) > 0, `records were spooled while the backfill ran (${context})`);
        assert.ok((metrics.RecordsApplied ?? 0) > 0, `batches were applied live after the handoff (${context})`);
        assert.equal((await store.peek())!.phase, 'catching-up', 'the replay moved the phase once live');
        for (const letter of await store.deadLetters()) assert.equal(letter.error.code, 'TRANSFORM_FAILED', JSON.stringify(letter));
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
