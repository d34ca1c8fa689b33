/**
 * The AWS runner writing to PostgreSQL (a real cluster, test/support/postgres.ts), its connection string read from a
 * Secrets Manager STUB (test/support/secrets-manager-stub.ts: Secrets Manager has no local equivalent here) as an RDS
 * secret: the Step Functions backfill (Prepare → segment loops with a tiny time budget → Complete) runs while a seeded
 * random workload writes to the DynamoDB Local source, then Lambda-shaped batches from the real stream go through the
 * real stream handler while the workload continues. On the way: injected sink crashes after part of a batch (the task
 * is retried, the batch redelivered), duplicate and rewound deliveries, and every dynashift connection killed by the
 * server between and during invocations (the pool drops the broken connections and opens new ones).
 *
 * After the workload stops and the stream is drained, both PostgreSQL tables must equal transform(source) item by item
 * (the source read by the independent scanner, the tables by plain SQL), the secret must have been read once per
 * container (warm invocations reuse it and their pools), and the password must appear in no log line, metric or state
 * item. SEED picks the seed (default 1).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { loadConfig } from '../../src/config/load-config.js';
import type { ResolvedConfig } from '../../src/config/resolved-config.js';
import type { AttributeMap } from '../../src/core/item.js';
import { createStreamHandler } from '../../src/runners/lambda/stream-handler.js';
import { createBackfillTasks } from '../../src/runners/stepfunctions/tasks.js';
import { jsonToItem } from '../../src/sinks/postgres/postgres-types.js';
import { createStateTable } from '../../src/state/dynamodb-state-store.js';
import { BY_GROUP_KEY, FLAGS_KEY, TARGET_TABLES, writeScenarioConfig } from '../support/crash-scenario.js';
import { createTable, latestStreamArn, withDynamoDbLocal } from '../support/dynamodb-local.js';
import { compareTables, formatDiff, isEmptyDiff, scanAll } from '../support/independent-scan.js';
import { withPostgres } from '../support/postgres.js';
import { startSecretsStub, type SecretsStub } from '../support/secrets-manager-stub.js';
import { mulberry32, runWorkload, seedItems } from '../support/workload.js';
import { LocalEventSourceMapping } from '../fixtures/lambda/event-source-mapping.js';
import { captureOutput, expectedTargets } from '../fixtures/lambda/migration-fixture.js';
import { runBackfillStateMachine } from '../fixtures/lambda/state-machine.js';
import { crashingSink } from '../fixtures/lambda/injected-faults.js';

const SEED = Number(process.env.SEED ?? 1);
const ITEMS = 1200;
const STATE_TABLE = 'dynashift_state';
const SECRET = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:dynashift-test-db-AbC123';
const local = withDynamoDbLocal();
const postgres = withPostgres();

describe('AWS runner into PostgreSQL (connection string from a Secrets Manager stub)', () => {
  let config: ResolvedConfig;
  let secrets: SecretsStub;
  let admin: pg.Client;

  before(
    async () => {
      await createTable(local.client, { name: 'src', partitionKey: { name: 'id', type: 'S' }, streamViewType: 'NEW_AND_OLD_IMAGES' });
      await seedItems(local.client, 'src', ITEMS, mulberry32(SEED));
      await createStateTable(local.client, STATE_TABLE);
      const s = postgres.server;
      // The shape RDS and Secrets Manager rotation store: JSON, not a URL.
      secrets = await startSecretsStub({
        [SECRET]: JSON.stringify({ engine: 'postgres', host: s.host, port: s.port, username: s.user, password: s.password, dbname: s.database }),
      });
      admin = new pg.Client({ connectionString: s.connectionString });
      admin.on('error', () => {});
      await admin.connect();
      const dir = mkdtempSync(join(tmpdir(), 'dynashift-lambda-pg-'));
      const pgTarget = (table: string, keySchema: unknown) => ({ table, kind: 'postgres', keySchema, postgres: { connectionStringSecret: SECRET } });
      config = await loadConfig(
        writeScenarioConfig(dir, {
          name: `lambda-pg-${SEED}`,
          endpoint: local.endpoint,
          targets: { byGroup: pgTarget(TARGET_TABLES.byGroup, BY_GROUP_KEY), flags: pgTarget(TARGET_TABLES.flags, FLAGS_KEY) },
          backfill: { segments: 6, concurrency: 3, pageSize: 100 },
          write: { concurrency: 4 },
          onError: 'halt',
          stream: { duringBackfill: false },
        }),
      );
    },
    { timeout: 120_000 },
  );

  after(async () => {
    await admin?.end().catch(() => {});
    await secrets?.stop();
  });

  /** Kills every connection dynashift holds (application_name 'dynashift'), as a failover or an idle timeout would. */
  async function killConnections(): Promise<number> {
    const res = await admin.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'dynashift' AND pid <> pg_backend_pid()) t",
    );
    return res.rows[0]?.n ?? 0;
  }

  async function readTable(table: string): Promise<AttributeMap[]> {
    const res = await admin.query<{ item: unknown }>(`SELECT item FROM public."${table}"`);
    return res.rows.map((r) => jsonToItem(r.item));
  }

  test(
    `seed ${SEED}: Step Functions backfill + stream handler into PostgreSQL under a live workload, with crashes, killed connections, duplicates and rewinds: target equals transform(source)`,
    { timeout: 150_000 },
    async () => {
      const rng = mulberry32(SEED * 53);
      const out = captureOutput();
      const counters = { crashes: 0 };
      const common = { stateTable: STATE_TABLE, stateClient: local.client, write: out.write };
      const tasks = createBackfillTasks({
        ...common,
        config,
        secretsClient: secrets.client(),
        wrapSink: (s) => crashingSink(s, rng, 0.15, counters),
      });

      const stopWorkload = new AbortController();
      const workload = runWorkload(local.client, 'src', {
        rng: mulberry32(SEED * 7919),
        idSpace: Math.round(ITEMS * 1.3),
        concurrency: 4,
        signal: stopWorkload.signal,
      });
      let killed = 0;
      try {
        const run = await runBackfillStateMachine(tasks, { concurrency: 3, timeBudgetMs: 1, retryOn: ['InjectedCrash'] });
        assert.equal(run.complete.enableStreamMapping, true);
        assert.ok(run.invocations > run.prepare.segments.length * 2, `each segment took several invocations (${run.invocations})`);
        // Between the backfill and the stream: the warm backfill container's pooled connections die here.
        killed += await killConnections();

        const handler = createStreamHandler({
          ...common,
          config,
          secretsClient: secrets.client(),
          wrapSink: (s) => crashingSink(s, rng, 0.1, counters),
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
          maxRetries: 20,
        });
        const started = Date.now();
        let killedDuringStream = false;
        while (Date.now() < started + 5_000) {
          await esm.drain();
          if (!killedDuringStream && Date.now() > started + 2_000) {
            killedDuringStream = true;
            killed += await killConnections();
          }
        }
        stopWorkload.abort();
        const counts = await workload;
        await esm.drain();
        await esm.drain();

        const context = `seed ${SEED}: workload ${JSON.stringify(counts)}, esm ${JSON.stringify({ ...esm.stats, failedAt: esm.stats.failedAt.length })}, crashes ${counters.crashes}, connections killed ${killed}`;
        const expected = expectedTargets(await scanAll(local.client, 'src'));
        const byGroup = compareTables(expected.byGroup, await readTable(TARGET_TABLES.byGroup), ['grp', 'id']);
        const flags = compareTables(expected.flags, await readTable(TARGET_TABLES.flags), ['id']);
        assert.ok(isEmptyDiff(byGroup), `byGroup differs (${context}):\n${formatDiff(byGroup)}`);
        assert.ok(isEmptyDiff(flags), `flags differs (${context}):\n${formatDiff(flags)}`);
        assert.ok(expected.byGroup.length > ITEMS / 2, 'the comparison covers a substantial table');

        // The faults happened: the comparison above is after them, not instead of them.
        assert.ok(counts.total > 200, context);
        assert.ok(counters.crashes > 0, context);
        assert.ok(killed > 0, `some pooled connections were killed (${context})`);
        assert.ok(esm.stats.duplicates > 0 && esm.stats.rewinds > 0, context);

        // One secret read per container (the backfill tasks, the stream handler), however many invocations each ran.
        assert.deepEqual([...secrets.calls.entries()], [[SECRET, 2]]);

        // The password is nowhere dynashift writes: logs, EMF metrics, the state table.
        const password = postgres.server.password;
        const logged = out.lines().map((l) => JSON.stringify(l));
        assert.ok(logged.length > 0);
        assert.ok(!logged.some((l) => l.includes(password)), 'no log or metric line holds the password');
        const state = JSON.stringify(await scanAll(local.client, STATE_TABLE));
        assert.ok(state.length > 100 && !state.includes(password), 'no state item holds the password');
        console.log(`# ${context}`);
      } finally {
        stopWorkload.abort();
        await workload.catch(() => {});
      }
    },
  );
});
