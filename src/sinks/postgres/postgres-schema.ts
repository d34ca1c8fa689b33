import type { PostgresTargetConfig } from './postgres-config.js';
import type { KeySchema, KeyType } from '../../core/item.js';
import { KEY_SQL_TYPE, type ColumnType } from './postgres-columns.js';

/**
 * The layout of one PostgreSQL target (docs/postgres.md):
 *
 *   <schema>.<table>                         <key columns> PRIMARY KEY, item jsonb, src_seq numeric, updated_at, <projected>
 *   <schema>.<table>__dynashift_tombstones   <key columns> PRIMARY KEY, seq numeric, deleted_at
 *
 * Key columns are named after the key attributes, typed S→text, N→numeric, B→bytea, so the primary key enforces
 * DynamoDB's key identity (numeric compares 1.5 = 1.50, as DynamoDB does).
 */
export interface PgLayout {
  schema: string;
  table: string;
  tombstones: string;
  keys: PgKeyColumn[];
  projected: PgProjectedColumn[];
}

export interface PgKeyColumn {
  /** Column name = key attribute name. */
  name: string;
  type: KeyType;
  sqlType: 'text' | 'numeric' | 'bytea';
}

export interface PgProjectedColumn {
  name: string;
  attribute: string;
  type: ColumnType;
}

/** Columns dynashift itself owns; a key attribute or projected column may not take these names. */
export const RESERVED_COLUMNS = ['item', 'src_seq', 'updated_at'] as const;
export const TOMBSTONE_SUFFIX = '__dynashift_tombstones';
/** PostgreSQL silently truncates longer identifiers (NAMEDATALEN − 1), which could make two names collide. */
const MAX_IDENTIFIER_BYTES = 63;

/** Builds and checks the layout; returns the problems instead of throwing, so `plan` can list them all. */
export function pgLayout(target: PostgresTargetConfig, keySchema: KeySchema): { layout: PgLayout; problems: string[] } {
  const problems: string[] = [];
  const schema = target.postgres?.schema ?? 'public';
  const tombstones = `${target.table}${TOMBSTONE_SUFFIX}`;
  const keyAttrs = keySchema.sortKey ? [keySchema.partitionKey, keySchema.sortKey] : [keySchema.partitionKey];
  const keys = keyAttrs.map((k) => ({ name: k.name, type: k.type, sqlType: KEY_SQL_TYPE[k.type] }));
  const projected = (target.postgres?.columns ?? []).map((c) => ({ name: c.name, attribute: c.attribute, type: c.type }));
  for (const [what, name] of [
    ['schema', schema],
    ['table', target.table],
    ['tombstone table', tombstones],
  ] as const) {
    if (Buffer.byteLength(name) > MAX_IDENTIFIER_BYTES) problems.push(`${what} name ${name} is longer than ${MAX_IDENTIFIER_BYTES} bytes`);
  }
  const seen = new Set<string>(RESERVED_COLUMNS);
  for (const c of [
    ...keys.map((k) => ({ name: k.name, what: 'key attribute' })),
    ...projected.map((p) => ({ name: p.name, what: 'projected column' })),
  ]) {
    if (Buffer.byteLength(c.name) > MAX_IDENTIFIER_BYTES) problems.push(`${c.what} ${c.name} is longer than ${MAX_IDENTIFIER_BYTES} bytes`);
    if (c.name.includes('\u0000')) problems.push(`${c.what} ${JSON.stringify(c.name)} contains U+0000`);
    if (seen.has(c.name)) problems.push(`${c.what} ${c.name} collides with another column (${[...RESERVED_COLUMNS].join(', ')} are dynashift's own)`);
    seen.add(c.name);
  }
  return { layout: { schema, table: target.table, tombstones, keys, projected }, problems };
}

/** Quotes an identifier: always, so mixed case and reserved words keep their exact names. */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function mainTable(l: PgLayout): string {
  return `${ident(l.schema)}.${ident(l.table)}`;
}

export function tombstoneTable(l: PgLayout): string {
  return `${ident(l.schema)}.${ident(l.tombstones)}`;
}

/** Idempotent DDL: a resumed run (or a second runner) executes it again harmlessly. */
export function createStatements(l: PgLayout): string[] {
  const keyCols = l.keys.map((k) => `${ident(k.name)} ${k.sqlType} NOT NULL`).join(', ');
  const pk = l.keys.map((k) => ident(k.name)).join(', ');
  return [
    ...(l.schema === 'public' ? [] : [`CREATE SCHEMA IF NOT EXISTS ${ident(l.schema)}`]),
    `CREATE TABLE IF NOT EXISTS ${mainTable(l)} (${keyCols}, item jsonb NOT NULL, src_seq numeric, ` +
      `updated_at timestamptz NOT NULL DEFAULT now()${l.projected.map((c) => `, ${ident(c.name)} ${c.type}`).join('')}, PRIMARY KEY (${pk}))`,
    // Added one by one as well, so a column added to the config later appears on an existing table.
    ...l.projected.map((c) => `ALTER TABLE ${mainTable(l)} ADD COLUMN IF NOT EXISTS ${ident(c.name)} ${c.type}`),
    `CREATE TABLE IF NOT EXISTS ${tombstoneTable(l)} (${keyCols}, seq numeric NOT NULL, ` +
      `deleted_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (${pk}))`,
  ];
}

/** What the database holds now under the layout's names. */
export interface PgTableState {
  exists: boolean;
  /** Primary-key columns in key order, with their SQL types. */
  primaryKey: { name: string; type: string }[];
  /** Every column and its type. */
  columns: Map<string, string>;
  tombstones: { exists: boolean; primaryKey: { name: string; type: string }[]; any: boolean };
  /** pg_class.reltuples: an estimate, 0 before the first ANALYZE. */
  estimatedRows: number;
  /** Whether the table holds any row at all (exact, unlike the estimate). */
  anyRows: boolean;
  schemaExists: boolean;
}

interface Queryable {
  query<R extends Record<string, unknown>>(text: string, values?: unknown[]): Promise<{ rows: R[] }>;
}

export async function readTableState(db: Queryable, l: PgLayout): Promise<PgTableState> {
  const main = await describeTable(db, l.schema, l.table);
  const tomb = await describeTable(db, l.schema, l.tombstones);
  const any = async (exists: boolean, table: string): Promise<boolean> =>
    exists && (await db.query<{ any: boolean }>(`SELECT EXISTS (SELECT 1 FROM ${table}) AS any`)).rows[0]?.any === true;
  const schema = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = $1', [l.schema]);
  return {
    exists: main.exists,
    primaryKey: main.primaryKey,
    columns: main.columns,
    estimatedRows: main.estimatedRows,
    anyRows: await any(main.exists, mainTable(l)),
    tombstones: { exists: tomb.exists, primaryKey: tomb.primaryKey, any: await any(tomb.exists, tombstoneTable(l)) },
    schemaExists: (schema.rows[0]?.n ?? 0) > 0,
  };
}

async function describeTable(db: Queryable, schema: string, table: string) {
  const rel = await db.query<{ oid: number; reltuples: number }>(
    `SELECT c.oid::int AS oid, c.reltuples::float8 AS reltuples FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')`,
    [schema, table],
  );
  const found = rel.rows[0];
  if (!found) return { exists: false, primaryKey: [], columns: new Map<string, string>(), estimatedRows: 0 };
  const cols = await db.query<{ name: string; type: string; pk: number | null }>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, array_position(i.indkey::int2[], a.attnum) AS pk
     FROM pg_attribute a LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary
     WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [found.oid],
  );
  const primaryKey = cols.rows
    .filter((c) => c.pk !== null)
    .sort((a, b) => a.pk! - b.pk!)
    .map((c) => ({ name: c.name, type: c.type }));
  return { exists: true, primaryKey, columns: new Map(cols.rows.map((c) => [c.name, c.type])), estimatedRows: Math.max(0, found.reltuples) };
}

/** Why an existing table can't be this target; empty when it fits. */
export function layoutMismatches(l: PgLayout, state: PgTableState): string[] {
  const out: string[] = [];
  const wantedKey = l.keys.map((k) => `${k.name} ${k.sqlType}`).join(', ');
  if (state.exists) {
    const haveKey = state.primaryKey.map((k) => `${k.name} ${k.type}`).join(', ');
    if (haveKey !== wantedKey)
      out.push(`table ${l.schema}.${l.table} has primary key (${haveKey || 'none'}), but the target key needs (${wantedKey})`);
    for (const [name, type] of [
      ['item', 'jsonb'],
      ['src_seq', 'numeric'],
    ] as const) {
      const have = state.columns.get(name);
      if (have !== type)
        out.push(`table ${l.schema}.${l.table} ${have ? `has ${name} ${have}` : `lacks the ${name} column`}; dynashift needs ${name} ${type}`);
    }
    for (const c of l.projected) {
      const have = state.columns.get(c.name);
      if (have && have !== c.type && !(c.type === 'timestamptz' && have === 'timestamp with time zone')) {
        out.push(`column ${c.name} of ${l.schema}.${l.table} is ${have}, but postgres.columns says ${c.type}`);
      }
    }
  }
  if (state.tombstones.exists) {
    const haveKey = state.tombstones.primaryKey.map((k) => `${k.name} ${k.type}`).join(', ');
    if (haveKey !== wantedKey) out.push(`tombstone table ${l.schema}.${l.tombstones} has primary key (${haveKey || 'none'}), not (${wantedKey})`);
  }
  return out;
}
