/**
 * The export backfill on the AWS runner, with the real task handlers on DynamoDB Local and s3rver: Prepare takes the
 * export (`export.start`) — through a stub of ExportTableToPointInTime/DescribeExport, which DynamoDB Local lacks
 * (test/support/stub-export-api.ts) — and is retried while it runs; the export Map's children (one per line of
 * manifest-files.json, read from s3rver as the Map's ItemReader reads it) load their file with the CLI's verified
 * reader, crashing now and then and retried; the stream handler spools from the start; Complete checks every file of
 * the manifest landed; the Replay task goes live. A live writer runs throughout. In the end every target equals
 * transform(source) by the independent scanner.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { loadConfig } from '../../src/config/load-config.js';
import type { ResolvedConfig } from '../../src/config/resolved-config.js';
import { createStreamHandler } from '../../src/runners/lambda/stream-handler.js';
import { createBackfillTasks } from '../../src/runners/stepfunctions/tasks.js';
import type { ExportFileInput, ExportFiles } from '../../src/runners/stepfunctions/types.js';
import { createStateTable, DynamoDbStateStore } from '../../src/state/dynamodb-state-store.js';
import { createTable, latestStreamArn, withDynamoDbLocal } from '../support/dynamodb-local.js';
import { compareTables, formatDiff, isEmptyDiff, scanAll } from '../support/independent-scan.js';
import { withS3rver } from '../support/s3rver.js';
import { stubExportApi } from '../support/stub-export-api.js';
import { mulberry32, runWorkload, seedItems } from '../support/workload.js';
import { LocalEventSourceMapping } from '../fixtures/lambda/event-source-mapping.js';
import { crashingSink } from '../fixtures/lambda/injected-faults.js';
import { captureOutput, expectedTargets, writeMigrationConfig } from '../fixtures/lambda/migration-fixture.js';
import { runBackfillStateMachine } from '../fixtures/lambda/state-machine.js';

const SEED = Number(process.env.SEED ?? 3);
const ITEMS = 1200;
const FILES = 5;
const STATE_TABLE = 'dynashift_state';
const BUCKET = 'exports';
const local = withDynamoDbLocal();
const s3server = withS3rver();

/** The Distributed Map's ItemReader (InputType JSONL): one item per manifest line, the line as it is. */
async function manifestItems(files: ExportFiles): Promise<ExportFileInput[]> {
  const res = await s3server.s3.client.send(new GetObjectCommand({ Bucket: files.bucket, Key: files.key }));
  const text = await res.Body!.transformToString();
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as ExportFileInput);
}

describe('export backfill on the AWS runner (Prepare takes the export, a Distributed Map over its data files)', () => {
  let config: ResolvedConfig;

  before(async () => {
    await createTable(local.client, { name: 'src', partitionKey: { name: 'id', type: 'S' }, streamViewType: 'NEW_AND_OLD_IMAGES' });
    await seedItems(local.client, 'src', ITEMS, mulberry32(SEED));
    await createStateTable(local.client, STATE_TABLE);
    await s3server.s3.createBucket(BUCKET);
    const dir = mkdtempSync(join(tmpdir(), 'dynashift-sfn-export-'));
    const path = writeMigrationConfig(dir, { name: `sfn-export-${SEED}`, endpoint: local.endpoint, segments: 4, concurrency: 3, pageSize: 40 });
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

  test(
    'ExportTableToPointInTime stubbed (DynamoDB Local has none): Prepare is retried until the export completes and finds the same export by its token; every data file loads verified, crashed children are retried, Complete checks every manifest file, and under a live writer target equals transform(source)',
    { timeout: 300_000 },
    async () => {
      const rng = mulberry32(SEED * 31);
      const out = captureOutput();
      const counters = { crashes: 0 };
      const exportApi = stubExportApi({ dynamodb: local.client, s3: s3server.s3.client, files: FILES, minDurationMs: 400 });
      const common = { stateTable: STATE_TABLE, stateClient: local.client, write: out.write };
      const tasks = createBackfillTasks({
        ...common,
        config,
        wrapSink: (s) => crashingSink(s, rng, 0.05, counters),
        prepare: { exportClient: exportApi, exportWaitMs: 50, exportPollMs: 10 },
      });
      const handler = createStreamHandler({ ...common, config });
      const esm = new LocalEventSourceMapping({
        streams: local.streams,
        streamArn: await latestStreamArn(local.client, 'src'),
        handler,
        batchSize: 100,
        rng,
        duplicateRate: 0.1,
        rewindRate: 0.05,
        maxRetries: 400,
        retryDelayMs: 25,
      });
      const store = new DynamoDbStateStore({ client: local.client, table: STATE_TABLE, migration: config.name });

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
      let earlyComplete: Awaited<ReturnType<typeof tasks.complete>> | undefined;
      try {
        const run = await runBackfillStateMachine(tasks, {
          concurrency: 3,
          timeBudgetMs: 1,
          retryOn: ['InjectedCrash'],
          onPrepared: () => {
            mapping = poll();
            mapping.catch(() => {});
          },
          exportItems: async (files) => {
            const items = await manifestItems(files);
            // Before any file is loaded, Complete refuses and names every file of the manifest as pending.
            earlyComplete = await tasks.complete({});
            return items;
          },
          replay: { timeBudgetMs: 50, handoffBelow: 5 },
        });

        // Prepare: retried while the export ran, one export taken (the token found it again on each retry).
        assert.ok(run.prepareRetries > 0, `Prepare was retried while the export was in progress (${run.prepareRetries})`);
        assert.equal(exportApi.exports.length, 1, 'one export was taken across all Prepare attempts');
        assert.equal(exportApi.calls.start, run.prepareRetries + 1, 'each Prepare attempt asked for the export with the same token');
        assert.equal(run.prepare.exportFiles?.files, FILES);
        assert.equal(run.prepare.exportFiles?.key, `${exportApi.exports[0]!.prefix}manifest-files.json`);
        assert.deepEqual(run.prepare.segments, [], 'the export strategy has no segment Map');
        const state = await store.load();
        const exportTime = state!.sources.source!.backfill.export!.exportTime;
        assert.ok(state!.sources.source!.stream.skipBefore! < exportTime, 'the stream is applied from before the export time (margin)');

        assert.equal(earlyComplete?.complete, false);
        assert.equal(earlyComplete?.pendingCount, FILES, 'Complete lists every manifest file before they load');

        assert.equal(run.results.length, FILES);
        assert.ok(run.results.every((r) => r.done));
        assert.ok(run.invocations > FILES * 2, `each file took several invocations (${run.invocations})`);
        assert.ok(counters.crashes > 0 && run.retries > 0, `children crashed and were retried (${counters.crashes} crashes, ${run.retries} retries)`);
        // Per-file completion is in the state table, with the manifest's count for every file.
        const manifest = await manifestItems(run.prepare.exportFiles!);
        for (const item of manifest) {
          const rel = item.dataFileS3Key.slice(exportApi.exports[0]!.prefix.length);
          assert.deepEqual(
            { done: state!.sources.source!.backfill.partitions[rel]?.done, items: state!.sources.source!.backfill.partitions[rel]?.items },
            { done: true, items: item.itemCount },
            `file ${rel} landed`,
          );
        }
        assert.equal(run.complete.complete, true);
        assert.equal(run.complete.replay, true, 'the stream was spooled during the backfill; the replay follows');
        // A re-run child of a landed file returns at once (idempotent).
        const again = await tasks.backfillSegment({ ...manifest[0]!, timeBudgetMs: 1 });
        assert.deepEqual({ done: again.done, copied: again.copied }, { done: true, copied: 0 });

        const until = Date.now() + 3_000;
        while (Date.now() < until) await new Promise((r) => setTimeout(r, 100));
        stopWorkload.abort();
        const counts = await workload;
        stopEsm = true;
        await mapping;
        await esm.drain();
        await esm.drain();

        const context = `seed ${SEED}: workload ${JSON.stringify(counts)}, crashes ${counters.crashes}, invocations ${run.invocations}, replays ${run.replays.length}, metrics ${JSON.stringify(out.metrics())}`;
        const expected = expectedTargets(await scanAll(local.client, 'src'));
        const byGroup = compareTables(expected.byGroup, await scanAll(local.client, 'dst_by_group'), ['grp', 'id']);
        const flags = compareTables(expected.flags, await scanAll(local.client, 'dst_flags'), ['id']);
        assert.ok(isEmptyDiff(byGroup), `byGroup differs (${context}):\n${formatDiff(byGroup)}`);
        assert.ok(isEmptyDiff(flags), `flags differs (${context}):\n${formatDiff(flags)}`);
        assert.ok(counts.total > 100, context);
        assert.ok((out.metrics().RecordsSpooled ?? 0) > 0, `the stream was spooled while the files loaded (${context})`);
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
