/**
 * The synthesized state machine run by an ASL interpreter (test/support/asl-interpreter.ts) with the real task
 * handlers on DynamoDB Local and s3rver: the `export` strategy in the default mode. The definition decides the order:
 * Prepare (retried on ExportInProgressError while the export runs — ExportTableToPointInTime stubbed, DynamoDB Local
 * has none: test/support/stub-export-api.ts writes a real export layout to s3rver) → enable the stream mapping → the
 * Distributed Map over the manifest's data files, its ItemReader (s3:getObject, JSONL) emulated by the harness against
 * s3rver → each child looping LoadExportFile until done → Complete → the ReplaySpool loop until live.
 *
 * Under a live writer, two LoadExportFile invocations are killed mid-write (SIGKILL-equivalent, test/support/
 * killed-lambda.ts: no checkpoint, no lease release, `Lambda.Unknown`); the definition's Retry must re-run the task,
 * wait out the dead invocation's lease through `SegmentLeasedError` retries, and continue from the checkpoint. In the
 * end every target equals transform(source) by the independent scanner. SEED picks the seed (default 3).
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
import { createStateTable, DynamoDbStateStore } from '../../src/state/dynamodb-state-store.js';
import { interpreterGaps, runBackfillStateMachine, synthesizeStateMachine, type InterceptedInvocation } from '../support/asl-interpreter.js';
import { createTable, latestStreamArn, withDynamoDbLocal } from '../support/dynamodb-local.js';
import { compareTables, formatDiff, isEmptyDiff, scanAll } from '../support/independent-scan.js';
import { doomedContainer, KilledRuntime } from '../support/killed-lambda.js';
import { withS3rver } from '../support/s3rver.js';
import { stubExportApi } from '../support/stub-export-api.js';
import { mulberry32, runWorkload, seedItems } from '../support/workload.js';
import { LocalEventSourceMapping } from '../fixtures/lambda/event-source-mapping.js';
import { crashingSink } from '../fixtures/lambda/injected-faults.js';
import { captureOutput, expectedTargets, writeMigrationConfig } from '../fixtures/lambda/migration-fixture.js';

const SEED = Number(process.env.SEED ?? 3);
const ITEMS = 1000;
const FILES = 5;
const STATE_TABLE = 'dynashift_state';
const BUCKET = 'exports';
/** The backfill function's timeout in this run: a killed invocation's lease lasts this + 30 s. */
const SEGMENT_TIMEOUT_MS = 10_000;
const KILLS = 2;
const local = withDynamoDbLocal();
const s3server = withS3rver();

describe('the synthesized state machine, run by an ASL interpreter: export backfill', () => {
  let config: ResolvedConfig;

  before(async () => {
    await createTable(local.client, { name: 'src', partitionKey: { name: 'id', type: 'S' }, streamViewType: 'NEW_AND_OLD_IMAGES' });
    await seedItems(local.client, 'src', ITEMS, mulberry32(SEED));
    await createStateTable(local.client, STATE_TABLE);
    await s3server.s3.createBucket(BUCKET);
    const dir = mkdtempSync(join(tmpdir(), 'dynashift-asl-export-'));
    const path = writeMigrationConfig(dir, { name: `asl-export-${SEED}`, endpoint: local.endpoint, segments: 4, concurrency: 3, pageSize: 40 });
    const raw = JSON.parse(readFileSync(path, 'utf8')) as { backfill: Record<string, unknown> };
    raw.backfill.strategy = 'export';
    raw.backfill.export = {
      start: { s3Bucket: BUCKET, s3Prefix: 'snapshots' },
      endpoint: s3server.s3.endpoint,
      forcePathStyle: true,
      region: 'us-east-1',
    };
    writeFileSync(path, JSON.stringify(raw, null, 2));
    config = await loadConfig(path);
  });

  test('the interpreter runs everything the export definition uses except what the harness lists and emulates', () => {
    const gaps = interpreterGaps(synthesizeStateMachine(config).definition);
    assert.ok(
      gaps.some((g) => g.startsWith('LoadExportFiles: ProcessorConfig {"Mode":"DISTRIBUTED","ExecutionType":"STANDARD"} ignored')),
      gaps.join('\n'),
    );
    assert.ok(
      gaps.some((g) => g.startsWith('LoadExportFiles: ItemReader arn:aws:states:::s3:getObject not run by the interpreter: emulated')),
      gaps.join('\n'),
    );
    assert.ok(
      gaps.some((g) => g.startsWith('EnableStreamMapping0: SDK integration lambda:updateEventSourceMapping: emulated')),
      gaps.join('\n'),
    );
    assert.ok(!gaps.some((g) => g.endsWith('(refused)')), gaps.join('\n'));
  });

  test(
    `seed ${SEED}: Prepare retried while the export runs → enable mapping → Map over the manifest read by its ItemReader, LoadExportFile loops (two killed mid-write, retried on their leased file by the definition) → Complete → ReplaySpool until live, under a live writer: target equals transform(source)`,
    { timeout: 400_000 },
    async () => {
      const rng = mulberry32(SEED * 131);
      const out = captureOutput();
      const common = { stateTable: STATE_TABLE, stateClient: local.client, write: out.write };
      process.env.DYNASHIFT_HANDOFF_BELOW = '5';
      const exportApi = stubExportApi({ dynamodb: local.client, s3: s3server.s3.client, files: FILES, minDurationMs: 400 });
      const tasks = createBackfillTasks({
        ...common,
        config,
        timeBudgetMs: 1,
        prepare: { exportClient: exportApi, exportWaitMs: 50, exportPollMs: 10 },
      });
      const counters = { crashes: 0 };
      const handler = createStreamHandler({ ...common, config, wrapSink: (s) => crashingSink(s, rng, 0.03, counters) });
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

      // The kills: from its second invocation on, a file's LoadExportFile runs in a doomed container, until KILLS files
      // have died mid-write (an invocation that ends before its first write is an ordinary one).
      const fileOf = (event: unknown): string => (event as { dataFileS3Key: string }).dataFileS3Key;
      const seen = new Map<string, number>();
      const killedFiles: string[] = [];
      let dooming = 0;
      const intercept = async (inv: InterceptedInvocation, invoke: () => Promise<unknown>): Promise<unknown> => {
        if (inv.handler !== 'backfillSegment') return invoke();
        const file = fileOf(inv.event);
        const n = (seen.get(file) ?? 0) + 1;
        seen.set(file, n);
        if (n < 2 || killedFiles.length + dooming >= KILLS || killedFiles.includes(file)) return invoke();
        dooming++;
        const doomed = doomedContainer({ config, ...common });
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
        killedFiles.push(file);
        throw new KilledRuntime(`RequestId: ${inv.context.awsRequestId} Error: Runtime exited with error: signal: killed`);
      };

      try {
        const started = Date.now();
        const run = await runBackfillStateMachine({
          config,
          handlers: tasks as never,
          s3: s3server.s3.client,
          enableMapping: () => {
            mapping = poll();
            mapping.catch(() => {});
          },
          intercept,
          lambdaTimeoutMs: (fn) => (fn.handler === 'backfillSegment' ? SEGMENT_TIMEOUT_MS : 60_000),
          // Time-compressed pauses; the lease retrier's 60 attempts must outlast a dead invocation's lease (timeout + 30 s).
          retryDelayMs: (_state, retrier) => (retrier.ErrorEquals.includes('SegmentLeasedError') ? 1_500 : 300),
        });
        const backfillMs = Date.now() - started;
        const byHandler: Record<string, number> = {};
        for (const i of run.invocations)
          byHandler[`${i.handler}:${i.ok ? 'ok' : i.error}`] = (byHandler[`${i.handler}:${i.ok ? 'ok' : i.error}`] ?? 0) + 1;
        const trace = `${backfillMs} ms, killed ${killedFiles.join(',')}, invocations ${JSON.stringify(byHandler)}`;
        assert.equal(run.error, undefined, `the execution failed: ${JSON.stringify(run.error)} (${trace})`);
        assert.deepEqual(
          run.enabled.map((m) => m.source),
          ['source'],
        );

        // Prepare: retried by the definition while the export ran; one export taken.
        const prepares = run.invocations.filter((i) => i.handler === 'prepare');
        assert.ok(
          prepares.some((i) => i.error === 'ExportInProgressError') && prepares.at(-1)?.ok,
          `Prepare retried while the export ran (${trace})`,
        );
        assert.equal(exportApi.exports.length, 1, 'one export was taken across all Prepare attempts');

        // The Map read its items from the manifest: one child per data file, each loaded.
        const files = new Set(run.invocations.filter((i) => i.handler === 'backfillSegment').map((i) => fileOf(i.event)));
        assert.equal(files.size, FILES, `one Map child per manifest line (${[...files].join(', ')})`);
        const order = run.invocations.map((i) => i.handler);
        const firstComplete = order.indexOf('complete');
        assert.ok(order.indexOf('backfillSegment') > order.lastIndexOf('prepare'));
        assert.ok(firstComplete > order.lastIndexOf('backfillSegment'), 'Complete runs after every LoadExportFile');
        assert.ok(order.indexOf('replaySpool') > firstComplete, 'the replay follows Complete');
        assert.deepEqual(run.output?.done, true, 'the execution ends with the spool live');

        assert.equal(killedFiles.length, KILLS, trace);
        for (const file of killedFiles) {
          const attempts = run.invocations.filter((i) => i.handler === 'backfillSegment' && fileOf(i.event) === file);
          const killedAt = attempts.findIndex((i) => i.error === 'Lambda.Unknown');
          const after = attempts.slice(killedAt + 1);
          const trail = attempts.map((i) => `${i.ok ? 'ok' : i.error} ${i.ms}ms`).join(', ');
          assert.ok(killedAt >= 0, `file ${file} was killed: ${trail}`);
          assert.ok(
            after.some((i) => i.error === 'SegmentLeasedError'),
            `file ${file}: the retry met the dead invocation's lease: ${trail}`,
          );
          assert.ok(after.at(-1)?.ok, `file ${file} finished after the kill: ${trail}`);
        }
        assert.ok((run.retries.LoadExportFile ?? 0) >= KILLS * 2, `the definition retried LoadExportFile (${JSON.stringify(run.retries)})`);

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
        const context = `seed ${SEED}: backfill ${trace}, retries ${JSON.stringify(run.retries)}, workload ${JSON.stringify(counts)}, sink crashes ${counters.crashes}, metrics ${JSON.stringify(metrics)}`;
        const expected = expectedTargets(await scanAll(local.client, 'src'));
        const byGroup = compareTables(expected.byGroup, await scanAll(local.client, 'dst_by_group'), ['grp', 'id']);
        const flags = compareTables(expected.flags, await scanAll(local.client, 'dst_flags'), ['id']);
        assert.ok(isEmptyDiff(byGroup), `byGroup differs (${context}):\n${formatDiff(byGroup)}`);
        assert.ok(isEmptyDiff(flags), `flags differs (${context}):\n${formatDiff(flags)}`);
        assert.ok((metrics.RecordsSpooled ?? 0) > 0, `records were spooled while the files loaded (${context})`);
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
