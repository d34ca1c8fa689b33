import pg from 'pg';
import type { PostgresTargetConfig } from './postgres-config.js';
import type { Refusal } from '../../errors.js';
import { typed, type DriverContext, type SinkDriver, type SinkOpenOptions, type TargetInspection } from '../driver.js';
import { connect, resolveConnection, unreachable } from './postgres-connection.js';
import { PostgresReader } from './postgres-reader.js';
import { createStatements, layoutMismatches, pgLayout, readTableState, type PgLayout } from './postgres-schema.js';
import { PostgresSink } from './postgres-sink.js';
import { postgresKind } from './postgres-kind.js';

/** What `prepare` needs from `inspect`. No connection details: the plan (and `plan --json`) may print it. */
interface PgDetail {
  layout: PgLayout;
}

/**
 * `kind: "postgres"`: one table per target, the whole item in a jsonb column, guarded writes so that a replayed or
 * late write never moves a key backwards (docs/postgres.md).
 */
export const postgresDriver: SinkDriver = typed<PostgresTargetConfig>({
  ...postgresKind,

  async inspect(_name: string, target: PostgresTargetConfig, ctx: DriverContext): Promise<TargetInspection> {
    const refusals: Refusal[] = [];
    const conn = resolveConnection(target);
    const notes = [...conn.notes];
    const keySchema = target.keySchema ?? ctx.source?.keySchema;
    if (target.create !== undefined && target.create !== false) {
      notes.push(
        `target ${target.table}: "create" settings apply to DynamoDB targets; a PostgreSQL target takes its key from target.keySchema (or the source)`,
      );
    }
    if (!keySchema) {
      refusals.push({
        code: 'TARGET_KEY_MISSING',
        message: `the key of PostgreSQL target ${target.table} is unknown`,
        hint: 'set target.keySchema: { partitionKey: { name, type }, sortKey?: { name, type } }',
      });
      return {
        exists: false,
        willCreate: false,
        describe: [`database   ${conn.description}`],
        notes,
        refusals,
        permissions: { actions: [], resources: [] },
      };
    }
    const { layout, problems } = pgLayout(target, keySchema);
    for (const p of problems)
      refusals.push({
        code: 'CONFIG_INVALID',
        message: `PostgreSQL target ${target.table}: ${p}`,
        hint: 'rename the table, key attribute or column (target.table, target.keySchema, target.postgres.columns)',
      });

    const client = await connect(conn);
    let state;
    try {
      state = await readTableState(client, layout);
    } catch (err) {
      throw unreachable(conn, err);
    } finally {
      await client.end().catch(() => {});
    }
    for (const m of layoutMismatches(layout, state)) {
      refusals.push({
        code: 'TARGET_KEY_MISMATCH',
        message: m,
        hint: 'drop or rename the existing table, or set target.keySchema (and postgres.columns) to match it',
      });
    }
    if (!state.exists && target.create === false) {
      refusals.push({
        code: 'TARGET_NOT_FOUND',
        message: `table ${layout.schema}.${layout.table} does not exist and target.create is false`,
        hint: 'create the table first or remove "create": false so dynashift creates it',
      });
    }
    if (state.anyRows) {
      const count = state.estimatedRows > 0 ? ` ~${Math.round(state.estimatedRows)}` : '';
      notes.push(
        `target ${layout.schema}.${layout.table} already holds${count} rows (fine when resuming; to start over, TRUNCATE it and ${layout.tombstones})`,
      );
    }
    if (state.tombstones.any) {
      notes.push(
        `target ${layout.schema}.${layout.tombstones} holds tombstones (fine when resuming; a fresh migration must TRUNCATE both tables, or old tombstones block backfill rows)`,
      );
    }
    const willCreate = !state.exists && target.create !== false;
    const table = `${layout.schema}.${layout.table}`;
    return {
      exists: state.exists,
      willCreate,
      keySchema,
      notes,
      refusals,
      itemCount: Math.round(state.estimatedRows),
      describe: describe(layout, conn.description, state.exists),
      permissions: {
        actions: [
          ...(willCreate || !state.tombstones.exists
            ? [
                layout.schema === 'public' || state.schemaExists
                  ? `CREATE on schema ${layout.schema}`
                  : `CREATE on database (for schema ${layout.schema})`,
              ]
            : []),
          ...(state.exists && layout.projected.some((c) => !state.columns.has(c.name)) ? [`ALTER (owner) on ${table} to add projected columns`] : []),
          `SELECT, INSERT, UPDATE, DELETE on ${table} and ${layout.schema}.${layout.tombstones}`,
        ],
        resources: [`${conn.description} ${table}`, `${conn.description} ${layout.schema}.${layout.tombstones}`],
      },
      detail: { layout } satisfies PgDetail,
    };
  },

  async prepare(_name: string, target: PostgresTargetConfig, inspection: TargetInspection): Promise<void> {
    // Always run: the tables may exist but not the tombstone table, or lack a newly configured projected column.
    const { layout } = inspection.detail as PgDetail;
    const conn = resolveConnection(target);
    const client = await connect(conn);
    try {
      await client.query('BEGIN');
      for (const sql of createStatements(layout)) await client.query(sql);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      if (err instanceof Error) err.message = conn.redact(err.message);
      throw err;
    } finally {
      await client.end().catch(() => {});
    }
  },

  open(name: string, target: PostgresTargetConfig, opts: SinkOpenOptions) {
    const conn = resolveConnection(target);
    const { layout, problems } = pgLayout(target, opts.keySchema);
    if (problems.length > 0) throw new Error(`PostgreSQL target ${target.table}: ${problems.join('; ')}`);
    // allowExitOnIdle: the engine has no close step; idle connections must not keep the process alive.
    const pool = new pg.Pool({
      ...conn.config,
      max: opts.concurrency + 1,
      allowExitOnIdle: true,
      idleTimeoutMillis: 10_000,
      connectionTimeoutMillis: 30_000,
    });
    pool.on('error', () => {}); // an idle client's dropped connection: the next query fails and is retried or thrown
    const sink = new PostgresSink({
      name,
      pool,
      layout,
      concurrency: opts.concurrency,
      redact: conn.redact,
      ...(opts.maxWriteUnitsPerSecond ? { maxRowsPerSecond: opts.maxWriteUnitsPerSecond } : {}),
      ...(opts.guard ? { guard: opts.guard } : {}),
    });
    const reader = new PostgresReader(() => connect(conn), pool, layout, opts.keySchema);
    return Object.assign(sink, {
      keySchema: reader.keySchema,
      readPartitions: (count: number) => reader.readPartitions(count),
      readPartition: (p: string, signal?: AbortSignal) => reader.readPartition(p, signal),
      getItems: (keys: Parameters<PostgresReader['getItems']>[0]) => reader.getItems(keys),
    });
  },
});

function describe(l: PgLayout, database: string, exists: boolean): string[] {
  const key = l.keys.map((k) => `${k.name}:${k.type} → ${k.name} ${k.sqlType}`).join(', ');
  return [
    `database   ${database}`,
    `table      ${l.schema}.${l.table} (${exists ? 'exists' : 'will be created'})`,
    `key        ${key} (PRIMARY KEY)`,
    `columns    item jsonb (the whole item, DynamoDB JSON), src_seq numeric, updated_at timestamptz${l.projected.map((c) => `, ${c.name} ${c.type} ← ${c.attribute}`).join('')}`,
    `tombstones ${l.schema}.${l.tombstones}`,
  ];
}
