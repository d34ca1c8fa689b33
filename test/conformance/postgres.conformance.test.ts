/**
 * The sink conformance suite (sink-conformance.ts) run against the PostgreSQL driver, on a throwaway cluster
 * (test/support/postgres.ts): contract tests on fresh tables in schema "contract", the crash scenario in schema
 * seed_<n>. What this sink states: it guards writes by stream sequence number (tombstones), applies stream changes,
 * rejects text PostgreSQL can't hold (U+0000), and after the crash scenario its typed columns agree with the items.
 *
 * Run: node --import tsx --test test/conformance/postgres.conformance.test.ts   (SEEDS=N for more crash seeds)
 */
import assert from 'node:assert/strict';
import { after } from 'node:test';
import pg from 'pg';
import type { AttributeMap, KeySchema } from '../../src/core/item.js';
import type { TargetConfig } from '../../src/config/schema.js';
import { postgresDriver } from '../../src/sinks/postgres/postgres-driver.js';
import { jsonToItem } from '../../src/sinks/postgres/postgres-types.js';
import { withPostgres } from '../support/postgres.js';
import { sinkConformance, type ScenarioContext } from './sink-conformance.js';

const server = withPostgres();
// Node 20 runs root-level `before` hooks concurrently, so the admin connection is opened lazily, not in a second hook.
let adminClient: Promise<pg.Client> | undefined;
const admin = {
  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>> {
    adminClient ??= (async () => {
      const c = new pg.Client({ connectionString: server.server.connectionString });
      c.on('error', () => {}); // the server may stop before this client ends (root hooks run concurrently)
      await c.connect();
      await c.query('CREATE SCHEMA IF NOT EXISTS contract');
      return c;
    })();
    return (await adminClient).query<R>(text, values);
  },
};
after(async () => {
  await (await adminClient)?.end();
});

function pgTarget(
  table: string,
  keySchema: KeySchema,
  postgres: Partial<NonNullable<Extract<TargetConfig, { kind: 'postgres' }>['postgres']>> = {},
): TargetConfig {
  return { kind: 'postgres', table, keySchema, postgres: { connectionString: server.server.connectionString, ...postgres } };
}

async function openTarget(target: TargetConfig, keySchema: KeySchema, concurrency = 4) {
  const inspection = await postgresDriver.inspect('t', target, {});
  assert.deepEqual(inspection.refusals, []);
  await postgresDriver.prepare('t', target, inspection);
  return postgresDriver.open('t', target, { keySchema, concurrency });
}

/** Plain SQL plus the jsonb decoding: what a user's own code would do to read the table. */
async function readTable(schema: string, table: string): Promise<AttributeMap[]> {
  const res = await admin.query<{ item: unknown }>(`SELECT item FROM "${schema}"."${table}"`);
  return res.rows.map((r) => jsonToItem(r.item));
}

// Contract tests on fresh tables in schema "contract", crash seeds in schema seed_<n>.
let contractTables = 0;
const opened: { close?: () => Promise<void> }[] = [];
const PG_URL_ENV = 'DYNASHIFT_TEST_PG_URL';
const seedSchema = (ctx: ScenarioContext) => `seed_${ctx.seed}`;
const BY_GROUP_COLUMNS = [
  { name: 'v', attribute: 'v', type: 'numeric' },
  { name: 'big', attribute: 'big', type: 'numeric' },
  { name: 'flag', attribute: 'flag', type: 'boolean' },
  { name: 'bin', attribute: 'bin', type: 'bytea' },
  { name: 'nested', attribute: 'nested', type: 'jsonb' },
];

sinkConformance({
  kind: 'postgres',
  async start() {},
  async stop() {
    for (const s of opened) await s.close?.();
  },
  async openTarget(keySchema) {
    const table = `t${++contractTables}`;
    const sink = await openTarget(pgTarget(table, keySchema, { schema: 'contract' }), keySchema);
    opened.push(sink);
    return { sink, readAll: () => readTable('contract', table), close: async () => {} };
  },
  rejectableItem: (key) => ({ ...key, text: { S: 'PostgreSQL text cannot hold \u0000' } }),
  guardsBySequence: true,
  cliTarget: (ctx, table, keySchema) => ({
    kind: 'postgres',
    table,
    keySchema,
    postgres: {
      schema: seedSchema(ctx),
      // Odd seeds put the password in the config file, even seeds take the URL from an environment variable: in
      // neither case may it reach the state folder or the logs.
      ...(ctx.seed % 2 === 1 ? { connectionString: server.server.connectionString } : { connectionStringEnv: PG_URL_ENV }),
      ...(table === 'dst_by_group' ? { columns: BY_GROUP_COLUMNS } : {}),
    },
  }),
  cliEnv: () => ({ [PG_URL_ENV]: server.server.connectionString }),
  readTarget: (ctx, table) => readTable(seedSchema(ctx), table),
  secrets: () => [server.server.password],
  async afterScenario(ctx) {
    const s = seedSchema(ctx);
    const disagree = await admin.query(`SELECT count(*)::int AS n FROM "${s}".dst_by_group WHERE
      grp IS DISTINCT FROM item->'grp'->>'S' OR id IS DISTINCT FROM item->'id'->>'S'
      OR v IS DISTINCT FROM (item->'v'->>'N')::numeric OR big IS DISTINCT FROM (item->'big'->>'N')::numeric
      OR flag IS DISTINCT FROM (item->'flag'->>'BOOL')::boolean OR bin IS DISTINCT FROM decode(item->'bin'->>'B', 'base64')
      OR (nested IS NULL) <> (item->'nested' IS NULL)`);
    assert.equal(disagree.rows[0]?.n, 0, 'key and projected columns agree with the item in every row');
    const seqs = await admin.query(
      `SELECT count(src_seq)::int AS streamed, (SELECT count(*)::int FROM "${s}".dst_by_group__dynashift_tombstones) AS tombs FROM "${s}".dst_by_group`,
    );
    assert.ok(seqs.rows[0]?.streamed > 0, 'some rows were written by the stream catch-up');
    assert.ok(seqs.rows[0]?.tombs > 0, 'deletes left tombstones');
  },
});
