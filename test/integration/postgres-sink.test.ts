/**
 * The PostgreSQL sink against a real, throwaway PostgreSQL cluster (test/support/postgres.ts): its jsonb mapping,
 * plan/prepare, guarded writes, reader and connection handling. The shared sink conformance suite (contract tests
 * plus the crash scenario through the CLI) runs in test/conformance/postgres.conformance.test.ts.
 *
 * Needs the `postgresql` package (see test/support/postgres.ts).
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import type { AttributeMap, KeySchema } from '../../src/core/item.js';
import type { PostgresTargetConfig as TargetConfig } from '../../src/sinks/postgres/postgres-config.js';
import { DynashiftError } from '../../src/errors.js';
import { plainJson } from '../../src/sinks/postgres/postgres-columns.js';
import { resolveConnection } from '../../src/sinks/postgres/postgres-connection.js';
import { postgresDriver } from '../../src/sinks/postgres/postgres-driver.js';
import { pgLayout } from '../../src/sinks/postgres/postgres-schema.js';
import { PostgresSink } from '../../src/sinks/postgres/postgres-sink.js';
import { findUnstorable, itemToJson, jsonToItem } from '../../src/sinks/postgres/postgres-types.js';
import { compareTables, formatDiff, isEmptyDiff } from '../support/independent-scan.js';
import { withPostgres } from '../support/postgres.js';
import { deleteOp, putOp, richItems, STRING_NUMBER_KEY } from '../conformance/sink-conformance.js';

const server = withPostgres();
// Node 20 runs root-level `before` hooks concurrently, so the admin connection is opened lazily, not in a second hook.
let adminClient: Promise<pg.Client> | undefined;
const admin = {
  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>> {
    adminClient ??= (async () => {
      const c = new pg.Client({ connectionString: server.server.connectionString });
      c.on('error', () => {}); // the server may stop before this client ends (root hooks run concurrently)
      await c.connect();
      await c.query('CREATE SCHEMA IF NOT EXISTS specific');
      return c;
    })();
    return (await adminClient).query<R>(text, values);
  },
};
after(async () => {
  await (await adminClient)?.end();
});

const ID_KEY: KeySchema = { partitionKey: { name: 'id', type: 'S' } };

function pgTarget(table: string, keySchema: KeySchema, postgres: Partial<NonNullable<TargetConfig['postgres']>> = {}): TargetConfig {
  return { kind: 'postgres', table, keySchema, postgres: { connectionString: server.server.connectionString, schema: 'specific', ...postgres } };
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

const roundTrip = (item: AttributeMap): AttributeMap => jsonToItem(JSON.parse(JSON.stringify(itemToJson(item))));

describe('jsonb mapping (AttributeMap ↔ DynamoDB JSON)', () => {
  test('every type round-trips unchanged, including 38-digit numbers, 1E-130, binary, empty values and sets nested in maps', () => {
    for (const item of richItems()) assert.deepStrictEqual(roundTrip(item), item);
  });

  test('numbers keep their exact spelling as strings: never a JSON number a parser could round', () => {
    const numbers = [
      '12345678901234567890123456789012345678',
      '-0.1000000000000000055511151231257827',
      '1E-130',
      '-1E-130',
      '9.99E+125',
      '1.50',
      '0',
    ];
    const json = itemToJson(Object.fromEntries(numbers.map((n, i) => [`n${i}`, { N: n }])));
    numbers.forEach((n, i) => assert.deepEqual(json[`n${i}`], { N: n }));
    assert.deepEqual(itemToJson({ ns: { NS: numbers } }), { ns: { NS: numbers } });
  });

  test('binary is base64 and comes back as the same bytes (all 256 values, and empty)', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    assert.deepEqual(itemToJson({ b: { B: Uint8Array.from([0, 1, 255]) } }), { b: { B: 'AAH/' } });
    assert.deepStrictEqual(roundTrip({ b: { B: all }, e: { B: new Uint8Array(0) }, bs: { BS: [all, new Uint8Array(0)] } }), {
      b: { B: all },
      e: { B: new Uint8Array(0) },
      bs: { BS: [all, new Uint8Array(0)] },
    });
  });

  test('the decoder refuses what is not DynamoDB JSON instead of guessing a type', () => {
    for (const bad of [
      { a: { N: 1.5 } },
      { a: { S: 'x', N: '1' } },
      { a: { X: 'y' } },
      { a: 'plain' },
      { a: { B: 'not base64!' } },
      { a: { NULL: false } },
      [1],
    ]) {
      assert.throws(() => jsonToItem(bad), /DynamoDB JSON|base64|not an object/, JSON.stringify(bad));
    }
  });

  test('U+0000, which PostgreSQL text and jsonb cannot hold, is found anywhere in an item', () => {
    assert.equal(findUnstorable({ a: { S: 'ok' }, m: { M: { l: { L: [{ SS: ['x', 'y\u0000'] }] } } } }), 'm.l[0]');
    assert.equal(findUnstorable({ 'a\u0000': { S: 'ok' } }), 'attribute name "a\\u0000"');
    assert.equal(findUnstorable(richItems()[0]!), undefined);
  });

  test('plain JSON for jsonb projections keeps every digit of a number', () => {
    assert.equal(
      plainJson({ M: { n: { N: '12345678901234567890123456789012345678' }, s: { NS: ['1.50', '1E-130'] }, t: { SS: ['a'] } } }),
      '{"n":12345678901234567890123456789012345678,"s":[1.5,1E-130],"t":["a"]}',
    );
  });
});

describe('PostgreSQL storage', () => {
  test('items stored in PostgreSQL read back identical with plain SQL, and numbers sit in jsonb as exact strings', async () => {
    const sink = await openTarget(pgTarget('stored', STRING_NUMBER_KEY), STRING_NUMBER_KEY);
    try {
      const items = richItems();
      const res = await sink.write(items.map((i) => putOp(STRING_NUMBER_KEY, i)));
      assert.deepEqual(res.rejected, []);
      const diff = compareTables(items, await readTable('specific', 'stored'), ['pk', 'sk']);
      assert.ok(isEmptyDiff(diff), formatDiff(diff));
      const row = await admin.query(`SELECT item->'big'->>'N' AS big, jsonb_typeof(item->'tiny'->'N') AS t, sk::text AS sk
        FROM specific.stored WHERE pk = 'rich-2'`);
      assert.deepEqual(row.rows[0], { big: '12345678901234567890123456789012345678', t: 'string', sk: '-12345678901234567890123456789012345678' });
      const tiny = await admin.query(`SELECT sk = 1E-130 AS exact FROM specific.stored WHERE pk = 'rich-1'`);
      assert.equal(tiny.rows[0]?.exact, true, 'the numeric key column holds 1E-130 exactly');
    } finally {
      await sink.close!();
    }
  });

  test('projected columns hold typed copies; a value a column cannot take rejects its row instead of becoming NULL', async () => {
    const columns = [
      { name: 'amount', attribute: 'amount', type: 'numeric' as const },
      { name: 'expires', attribute: 'ttl', type: 'timestamptz' as const },
      { name: 'doc', attribute: 'doc', type: 'jsonb' as const },
      { name: 'active', attribute: 'active', type: 'boolean' as const },
      { name: 'raw', attribute: 'raw', type: 'bytea' as const },
    ];
    const sink = await openTarget(pgTarget('projected', ID_KEY, { columns }), ID_KEY);
    try {
      const good: AttributeMap = {
        id: { S: 'good' },
        amount: { N: '12345678901234567890123456789012345678' },
        ttl: { N: '1700000000' },
        doc: { M: { n: { N: '98765432109876543210987654321098765432' }, tags: { SS: ['a'] } } },
        active: { BOOL: true },
        raw: { B: Uint8Array.from([1, 2]) },
      };
      const partial: AttributeMap = { id: { S: 'partial' } };
      const wrongText: AttributeMap = { id: { S: 'wrong-text' }, amount: { S: 'abc' } };
      const wrongType: AttributeMap = { id: { S: 'wrong-type' }, amount: { M: {} } };
      const ops = [good, partial, wrongText, wrongType].map((i) => putOp(ID_KEY, i));
      const res = await sink.write(ops);
      assert.deepEqual(
        res.rejected.map((r) => [r.op.key['id']!.S, r.error.code]),
        [
          ['wrong-type', 'PG_COLUMN_VALUE'],
          ['wrong-text', 'PG_22P02'],
        ],
      );
      const rows = await admin.query(`SELECT id, amount::text AS amount, expires = to_timestamp(1700000000) AS expires_ok, doc->>'n' AS n,
        active, encode(raw, 'hex') AS raw FROM specific.projected ORDER BY id`);
      assert.deepEqual(rows.rows, [
        {
          id: 'good',
          amount: '12345678901234567890123456789012345678',
          expires_ok: true,
          n: '98765432109876543210987654321098765432',
          active: true,
          raw: '0102',
        },
        { id: 'partial', amount: null, expires_ok: null, n: null, active: null, raw: null },
      ]);
    } finally {
      await sink.close!();
    }
  });

  test('a concurrent delete and late backfill copy of one key never resurrect it, in either commit order', async () => {
    // Two sinks (two pools) race on the same 150 keys: per-key advisory locks make the guard hold under concurrency.
    const a = await openTarget(pgTarget('race', ID_KEY), ID_KEY, 8);
    const b = postgresDriver.open('t', pgTarget('race', ID_KEY), { keySchema: ID_KEY, concurrency: 8 });
    try {
      const keys = Array.from({ length: 150 }, (_, i) => ({ id: { S: `k${i}` } }));
      await Promise.all(
        keys.flatMap((k, i) => [
          a.write([deleteOp(ID_KEY, k, String(1000 + i))]),
          b.write([putOp(ID_KEY, { ...k, v: { S: 'late backfill copy' } })]),
        ]),
      );
      assert.deepEqual(await readTable('specific', 'race'), []);
    } finally {
      await a.close!();
      await b.close!();
    }
  });

  test('a delete without a sequence number removes only a backfill row and leaves no tombstone', async () => {
    const sink = await openTarget(pgTarget('unsequenced', ID_KEY), ID_KEY);
    try {
      await sink.write([putOp(ID_KEY, { id: { S: 'copied' } }), putOp(ID_KEY, { id: { S: 'streamed' } }, '42')]);
      const unsequenced = (id: string) => ({
        ...deleteOp(ID_KEY, { id: { S: id } }, '0'),
        origin: { source: 'src', sourceKey: { id: { S: id } }, via: 'manual' },
      });
      await sink.write([unsequenced('copied'), unsequenced('streamed')]);
      assert.deepEqual(
        (await readTable('specific', 'unsequenced')).map((i) => i['id']!.S),
        ['streamed'],
      );
      const tombs = await admin.query('SELECT count(*)::int AS n FROM specific.unsequenced__dynashift_tombstones');
      assert.equal(tombs.rows[0]?.n, 0);
    } finally {
      await sink.close!();
    }
  });

  test('readPartition streams bounded pages and releases its snapshot when the reader stops early', async () => {
    const sink = await openTarget(pgTarget('paged', ID_KEY), ID_KEY);
    try {
      const items = Array.from({ length: 2500 }, (_, i) => ({ id: { S: `p${i}` } }));
      await sink.write(items.map((i) => putOp(ID_KEY, i)));
      const sizes: number[] = [];
      for await (const page of sink.readPartition('0/1')) sizes.push(page.length);
      assert.deepEqual(sizes, [1000, 1000, 500]);
      for await (const page of sink.readPartition('0/1')) {
        assert.equal(page.length, 1000);
        break;
      }
      const open = await admin.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'dynashift' AND state LIKE 'idle in transaction%'`,
      );
      assert.equal(open.rows[0]?.n, 0, 'no transaction is left open');
      await assert.rejects(async () => sink.readPartition('5/3')[Symbol.asyncIterator]().next(), /not a partition/);
    } finally {
      await sink.close!();
    }
  });
});

describe('PostgreSQL version guard (config guard.versionAttribute)', () => {
  const GUARD = { versionAttribute: 'ver' };
  let tables = 0;
  /** A fresh table; `null` opens it without the guard. */
  async function guarded(guard: { versionAttribute: string } | null = GUARD) {
    const table = `guarded_${tables++}`;
    const target = pgTarget(table, ID_KEY);
    const inspection = await postgresDriver.inspect('t', target, {});
    await postgresDriver.prepare('t', target, inspection);
    return { table, sink: postgresDriver.open('t', target, { keySchema: ID_KEY, concurrency: 2, ...(guard ? { guard } : {}) }) };
  }
  const row = (id: string, ver: AttributeMap[string] | undefined, name: string): AttributeMap => ({
    id: { S: id },
    name: { S: name },
    ...(ver ? { ver } : {}),
  });
  const names = async (table: string) => Object.fromEntries((await readTable('specific', table)).map((i) => [i['id']!.S!, i['name']!.S!]));
  let seq = 1000;
  const next = () => String(seq++);

  test('a stream put lands only when the stored version is not newer: numbers compare exactly, not as floats or text', async () => {
    const { table, sink } = await guarded();
    try {
      const big = '12345678901234567890123456789012345678';
      await sink.write([
        putOp(ID_KEY, row('digits', { N: big }, 'stored'), next()),
        putOp(ID_KEY, row('ten', { N: '10' }, 'stored'), next()),
        putOp(ID_KEY, row('scale', { N: '1.5' }, 'stored'), next()),
      ]);
      // Later stream records (higher sequence numbers) carrying older or equal versions.
      await sink.write([
        putOp(ID_KEY, row('digits', { N: '12345678901234567890123456789012345677' }, 'older by one in the 38th digit'), next()),
        putOp(ID_KEY, row('ten', { N: '9' }, 'older: 9 < 10, though "9" > "10" as text'), next()),
        putOp(ID_KEY, row('scale', { N: '1.50' }, 'same version, other spelling'), next()),
      ]);
      assert.deepEqual(await names(table), { digits: 'stored', ten: 'stored', scale: 'same version, other spelling' });
      await sink.write([putOp(ID_KEY, row('digits', { N: `${big.slice(0, -1)}9` }, 'newer by one'), next())]);
      assert.equal((await names(table))['digits'], 'newer by one');
    } finally {
      await sink.close!();
    }
  });

  test('ISO-8601 versions compare as strings; a version of another type, or none over a versioned row, never lands', async () => {
    const { table, sink } = await guarded();
    try {
      await sink.write([
        putOp(ID_KEY, row('ts', { S: '2026-12-06T05:00:00.000Z' }, 'stored'), next()),
        putOp(ID_KEY, row('typed', { S: '2026-12-06T05:00:00.000Z' }, 'stored'), next()),
        putOp(ID_KEY, row('unversioned', undefined, 'stored without version'), next()),
      ]);
      await sink.write([
        putOp(ID_KEY, row('ts', { S: '2026-12-06T04:59:59.999Z' }, 'older timestamp'), next()),
        putOp(ID_KEY, row('typed', { N: '99999999999' }, 'a number over a string version'), next()),
        putOp(ID_KEY, row('unversioned', { N: '1' }, 'first version'), next()),
      ]);
      assert.deepEqual(await names(table), { ts: 'stored', typed: 'stored', unversioned: 'first version' });
      await sink.write([
        putOp(ID_KEY, row('ts', { S: '2026-12-06T05:00:00.001Z' }, 'newer timestamp'), next()),
        putOp(ID_KEY, row('unversioned', undefined, 'unversioned over versioned'), next()),
      ]);
      assert.deepEqual(await names(table), { ts: 'newer timestamp', typed: 'stored', unversioned: 'first version' });
    } finally {
      await sink.close!();
    }
  });

  test('a delete of an older version than the stored one leaves the row and no tombstone; of the same version it deletes', async () => {
    const { table, sink } = await guarded();
    try {
      await sink.write([putOp(ID_KEY, row('a', { N: '5' }, 'v5'), next()), putOp(ID_KEY, row('b', { N: '5' }, 'v5'), next())]);
      const del = (id: string, ver: string) => ({ ...deleteOp(ID_KEY, { id: { S: id } }, next()), previous: row(id, { N: ver }, '') });
      await sink.write([del('a', '4'), del('b', '5')]);
      assert.deepEqual(await names(table), { a: 'v5' });
      const tombs = await admin.query<{ id: string }>(`SELECT id FROM specific.${table}__dynashift_tombstones ORDER BY id`);
      assert.deepEqual(
        tombs.rows.map((r) => r.id),
        ['b'],
      );
    } finally {
      await sink.close!();
    }
  });

  test('dual write: a newer version the application wrote straight into the table survives older stream replays', async () => {
    const guardedTarget = await guarded();
    const unguardedTarget = await guarded(null);
    try {
      for (const { table, sink } of [guardedTarget, unguardedTarget]) {
        await sink.write([putOp(ID_KEY, row('p', { N: '1' }, 'v1'), next())]);
        // The application's own write: the whole row, as its code would write it, without a stream position.
        await admin.query(`UPDATE specific.${table} SET item = $1::jsonb, src_seq = NULL WHERE id = 'p'`, [
          JSON.stringify(itemToJson(row('p', { N: '3' }, 'app v3'))),
        ]);
        await sink.write([putOp(ID_KEY, row('p', { N: '2' }, 'v2 from the lagging stream'), next())]);
      }
      assert.equal((await names(guardedTarget.table))['p'], 'app v3');
      // Positive control: without the guard the sequence rule alone lets the older version through.
      assert.equal((await names(unguardedTarget.table))['p'], 'v2 from the lagging stream');
    } finally {
      await guardedTarget.sink.close!();
      await unguardedTarget.sink.close!();
    }
  });
});

describe('PostgreSQL plan and prepare', () => {
  test('an existing table whose primary key differs is refused with TARGET_KEY_MISMATCH; a missing one with create: false with TARGET_NOT_FOUND', async () => {
    await admin.query('CREATE TABLE specific.other_key (id bigint PRIMARY KEY, item jsonb NOT NULL, src_seq numeric)');
    await admin.query('CREATE TABLE specific.not_ours (id text PRIMARY KEY, payload text)');
    const mismatch = await postgresDriver.inspect('t', pgTarget('other_key', ID_KEY), {});
    assert.deepEqual(
      mismatch.refusals.map((r) => r.code),
      ['TARGET_KEY_MISMATCH'],
    );
    assert.match(mismatch.refusals[0]!.message, /primary key \(id bigint\).*needs \(id text\)/);
    const foreign = await postgresDriver.inspect('t', pgTarget('not_ours', ID_KEY), {});
    assert.deepEqual(
      foreign.refusals.map((r) => r.code),
      ['TARGET_KEY_MISMATCH', 'TARGET_KEY_MISMATCH'],
    );
    assert.match(foreign.refusals.map((r) => r.message).join('\n'), /lacks the item column[\s\S]*lacks the src_seq column/);
    const missing = await postgresDriver.inspect('t', { ...pgTarget('absent', ID_KEY), create: false }, {});
    assert.deepEqual(
      missing.refusals.map((r) => r.code),
      ['TARGET_NOT_FOUND'],
    );
  });

  test('the key defaults to the source key; with neither, the plan refuses with TARGET_KEY_MISSING', async () => {
    const noKey: TargetConfig = {
      kind: 'postgres',
      table: 'keyless',
      postgres: { connectionString: server.server.connectionString, schema: 'specific' },
    };
    const refused = await postgresDriver.inspect('t', noKey, {});
    assert.deepEqual(
      refused.refusals.map((r) => r.code),
      ['TARGET_KEY_MISSING'],
    );
    const source = {
      table: 'src',
      exists: true,
      keySchema: STRING_NUMBER_KEY,
      gsis: [],
      lsis: [],
      billingMode: 'PAY_PER_REQUEST' as const,
      itemCount: 0,
      sizeBytes: 0,
      stream: { enabled: true },
    };
    const fromSource = await postgresDriver.inspect('t', noKey, { source });
    assert.deepEqual(fromSource.refusals, []);
    assert.deepEqual(fromSource.keySchema, STRING_NUMBER_KEY);
  });

  test('names PostgreSQL would truncate or that collide with dynashift columns are refused before anything is created', async () => {
    const long = await postgresDriver.inspect('t', pgTarget('x'.repeat(45), ID_KEY), {});
    assert.match(long.refusals.map((r) => r.message).join('\n'), /tombstone table name .* longer than 63 bytes/);
    const clash = await postgresDriver.inspect('t', pgTarget('clash', { partitionKey: { name: 'item', type: 'S' } }), {});
    assert.match(clash.refusals.map((r) => r.message).join('\n'), /key attribute item collides/);
  });

  test('prepare creates the table and its tombstone table, idempotently, and plan describes them without the password', async () => {
    const target = pgTarget('prepared', STRING_NUMBER_KEY, {
      schema: 'fresh_schema',
      columns: [{ name: 'status', attribute: 'status', type: 'text' }],
    });
    const inspection = await postgresDriver.inspect('t', target, {});
    assert.equal(inspection.willCreate, true);
    await postgresDriver.prepare('t', target, inspection);
    await postgresDriver.prepare('t', target, inspection); // a resumed run prepares again
    const again = await postgresDriver.inspect('t', target, {});
    assert.equal(again.exists, true);
    assert.deepEqual(again.refusals, []);
    const cols = await admin.query(`SELECT table_name, column_name, data_type FROM information_schema.columns
      WHERE table_schema = 'fresh_schema' ORDER BY table_name, ordinal_position`);
    assert.deepEqual(
      cols.rows.map((r) => `${r.table_name}.${r.column_name}:${r.data_type}`),
      [
        'prepared.pk:text',
        'prepared.sk:numeric',
        'prepared.item:jsonb',
        'prepared.src_seq:numeric',
        'prepared.updated_at:timestamp with time zone',
        'prepared.status:text',
        'prepared__dynashift_tombstones.pk:text',
        'prepared__dynashift_tombstones.sk:numeric',
        'prepared__dynashift_tombstones.seq:numeric',
        'prepared__dynashift_tombstones.deleted_at:timestamp with time zone',
      ],
    );
    assert.ok(inspection.describe.some((l) => l.includes(`postgres://dynashift@127.0.0.1:${server.server.port}/postgres`)));
    assert.ok(inspection.permissions.actions.some((a) => /^CREATE on database/.test(a)));
    assert.ok(inspection.permissions.actions.some((a) => /SELECT, INSERT, UPDATE, DELETE on fresh_schema.prepared/.test(a)));
    assert.ok(!JSON.stringify(inspection).includes(server.server.password), 'the plan never carries the password');
  });

  test('an unreachable server fails the plan naming the server, never the password', async () => {
    const target = pgTarget('x', ID_KEY, { connectionString: 'postgres://someone:s3cret-pw@127.0.0.1:1/db' });
    await assert.rejects(postgresDriver.inspect('t', target, {}), (err: unknown) => {
      assert.ok(err instanceof DynashiftError);
      assert.match(err.message, /cannot connect to PostgreSQL at postgres:\/\/someone@127\.0\.0\.1:1\/db/);
      assert.ok(!err.message.includes('s3cret-pw') && !(err.hint ?? '').includes('s3cret-pw'));
      return true;
    });
  });
});

describe('PostgreSQL connections', () => {
  const target = (postgres: TargetConfig['postgres']): TargetConfig => ({ kind: 'postgres', table: 't', postgres });

  test('connectionString wins, then the named environment variable (default DATABASE_URL), then the PG* variables', () => {
    const env = { DATABASE_URL: 'postgres://a:pa@h1:5432/d1', OTHER_URL: 'postgres://b:pb@h2:6543/d2', PGUSER: 'u', PGHOST: 'h3', PGPASSWORD: 'pc' };
    assert.equal(resolveConnection(target({ connectionString: 'postgres://c@h0/d0' }), env).description, 'postgres://c@h0/d0');
    assert.equal(resolveConnection(target({}), env).description, 'postgres://a@h1:5432/d1');
    assert.equal(resolveConnection(target({ connectionStringEnv: 'OTHER_URL' }), env).description, 'postgres://b@h2:6543/d2');
    const fallback = resolveConnection(target({ connectionStringEnv: 'UNSET_URL' }), env);
    assert.equal(fallback.description, 'postgres://u@h3:5432/u');
    assert.deepEqual(fallback.config.connectionString, undefined, 'node-postgres then reads the PG* variables itself');
    assert.match(fallback.notes.join(), /UNSET_URL is not set/);
  });

  test('descriptions and error text never contain the password', () => {
    const c = resolveConnection(target({ connectionString: 'postgres://user:p%40ss@db.example:5432/app?sslmode=require&password=other' }), {});
    assert.equal(c.description, 'postgres://user@db.example:5432/app');
    assert.equal(c.redact('failed for p@ss at x'), 'failed for *** at x');
    assert.match(c.notes.join(), /prefer postgres.connectionStringEnv/);
    assert.equal(
      resolveConnection(target({ connectionString: 'host=x password=y' }), {}).description,
      '(a connection string that is not a postgres:// URL)',
    );
  });

  test('a lost connection makes write() throw, never report the batch written', async () => {
    const layout = pgLayout(pgTarget('t', ID_KEY), ID_KEY).layout;
    const pool = new pg.Pool({ connectionString: 'postgres://x:pw@127.0.0.1:1/db', connectionTimeoutMillis: 2000 });
    const sink = new PostgresSink({ name: 't', pool, layout, concurrency: 2, maxAttempts: 2 });
    try {
      await assert.rejects(sink.write([putOp(ID_KEY, { id: { S: 'a' } })]), /ECONNREFUSED|connect/);
    } finally {
      await pool.end();
    }
  });

  test('a wrong password makes write() throw at once, and the error does not repeat it', async () => {
    const url = new URL(server.server.connectionString);
    url.password = 'wrong-password-123';
    const target = pgTarget('t', ID_KEY, { connectionString: url.toString() });
    const sink = postgresDriver.open('t', target, { keySchema: ID_KEY, concurrency: 1 });
    try {
      await assert.rejects(sink.write([putOp(ID_KEY, { id: { S: 'a' } })]), (err: Error) => {
        assert.match(err.message, /password authentication failed/);
        assert.ok(!err.message.includes('wrong-password-123'));
        return true;
      });
    } finally {
      await sink.close!();
    }
  });
});
