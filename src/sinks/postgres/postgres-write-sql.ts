import { ident, mainTable, tombstoneTable, type PgLayout } from './postgres-schema.js';

/**
 * The three guarded statements (rules and reasoning in docs/postgres.md, "The guard"). Each takes one text[] per
 * column and unnests them, so a batch of any size is one statement with a fixed text — rows in, no string building
 * per row. Keys are cast from text in SQL (numeric for N, base64-decoded bytea for B).
 *
 *   stream put (seq p)   applies when no row has src_seq > p and no tombstone has seq > p; removes the tombstone.
 *   backfill put         inserts only when neither a row nor a tombstone exists for the key.
 *   delete (seq d)       removes the row unless its src_seq > d, and records tombstone (key, d), keeping the highest.
 *
 * A key's state is therefore decided by the highest sequence number applied to it, whatever the order the writes
 * arrive in: replays after a crash and late backfill copies can't move it backwards.
 *
 * With `guard.versionAttribute` (versionGuard below) a stream put and a delete also need the stored item's version to
 * be not newer than the incoming one, the rule of the DynamoDB sink's guarded writes; the attribute name is the last
 * parameter of those two statements, and deletes take one more column: the version of the item they remove.
 */
export interface WriteStatements {
  streamPut: string;
  backfillPut: string;
  delete: string;
  /** Takes the per-key advisory locks of a batch, in the order given (the sink sorts them). */
  lock: string;
}

export function writeStatements(l: PgLayout, guard?: { versionAttribute: string }): WriteStatements {
  const main = mainTable(l);
  const tomb = tombstoneTable(l);
  const keyCols = l.keys.map((k) => ident(k.name));
  const keyList = keyCols.join(', ');
  const projCols = l.projected.map((c) => ident(c.name));
  const typedKeys = l.keys.map((k, i) => `${castKey(`u.k${i}`, k.sqlType)} AS k${i}`);
  const typedProj = l.projected.map((c, j) => `${c.type === 'bytea' ? `decode(u.c${j}, 'base64')` : `u.c${j}::${c.type}`} AS c${j}`);
  const kAliases = l.keys.map((_, i) => `k${i}`);
  const cAliases = l.projected.map((_, j) => `c${j}`);
  const matchKeys = (alias: string, other: string, names: string[] = kAliases) =>
    keyCols.map((col, i) => `${alias}.${col} = ${other}.${names[i]}`).join(' AND ');
  const arrays = (n: number, from = 1) => Array.from({ length: n }, (_, i) => `$${from + i}::text[]`).join(', ');

  const putColumns = 2 + l.keys.length + l.projected.length;
  const deleteColumns = l.keys.length + 1 + (guard ? 1 : 0);
  // The version attribute's name rides as the statement's last parameter: no quoting of a user string into SQL.
  const versionOf = (item: string, param: number) => `${item} -> $${param}::text`;
  const putInput = `input AS (
    SELECT ${[...typedKeys, 'u.item::jsonb AS item', 'u.seq::numeric AS seq', ...typedProj].join(', ')}
    FROM unnest(${arrays(putColumns)}) AS u(${[...kAliases, 'item', 'seq', ...cAliases].join(', ')}))`;
  const insertColumns = [...keyCols, 'item', 'src_seq', 'updated_at', ...projCols].join(', ');
  const selectValues = [...kAliases, 'item', 'seq', 'now()', ...cAliases].join(', ');

  const streamPut = `WITH ${putInput},
  fresh AS (
    SELECT i.* FROM input i WHERE NOT EXISTS (SELECT 1 FROM ${tomb} t WHERE ${matchKeys('t', 'i')} AND t.seq > i.seq)),
  applied AS (
    INSERT INTO ${main} AS m (${insertColumns}) SELECT ${selectValues} FROM fresh
    ON CONFLICT (${keyList}) DO UPDATE SET item = EXCLUDED.item, src_seq = EXCLUDED.src_seq, updated_at = EXCLUDED.updated_at${projCols.map((c) => `, ${c} = EXCLUDED.${c}`).join('')}
    WHERE (m.src_seq IS NULL OR m.src_seq <= EXCLUDED.src_seq)${
      guard
        ? `
      AND ${versionNotNewer(versionOf('m.item', putColumns + 1), versionOf('EXCLUDED.item', putColumns + 1))}`
        : ''
    }
    RETURNING ${keyList})
  DELETE FROM ${tomb} t USING applied a WHERE ${keyCols.map((c) => `t.${c} = a.${c}`).join(' AND ')}`;

  const backfillPut = `WITH ${putInput}
  INSERT INTO ${main} (${insertColumns}) SELECT ${selectValues} FROM input i
  WHERE NOT EXISTS (SELECT 1 FROM ${tomb} t WHERE ${matchKeys('t', 'i')})
  ON CONFLICT (${keyList}) DO NOTHING`;

  // coalesce(seq, -1): a delete without a sequence number ranks below every stream change (sequence numbers are ≥ 0),
  // so it removes only a backfill row and leaves no tombstone.
  // With the guard, a delete whose stored item is newer than the one it removes leaves both row and tombstone alone.
  const del = `WITH input AS (
    SELECT ${[...typedKeys, 'u.seq::numeric AS seq', ...(guard ? ['u.prev::jsonb AS prev'] : [])].join(', ')}
    FROM unnest(${arrays(deleteColumns)}) AS u(${[...kAliases, 'seq', ...(guard ? ['prev'] : [])].join(', ')})),
  live AS (
    SELECT i.* FROM input i WHERE NOT EXISTS (SELECT 1 FROM ${main} m WHERE ${matchKeys('m', 'i')} AND (m.src_seq > coalesce(i.seq, -1)${
      guard ? ` OR NOT ${versionNotNewer(versionOf('m.item', deleteColumns + 1), 'i.prev')}` : ''
    }))),
  gone AS (
    DELETE FROM ${main} m USING live l WHERE ${matchKeys('m', 'l')} RETURNING 1)
  INSERT INTO ${tomb} AS t (${keyList}, seq, deleted_at) SELECT ${kAliases.join(', ')}, seq, now() FROM live WHERE seq IS NOT NULL
  ON CONFLICT (${keyList}) DO UPDATE SET seq = EXCLUDED.seq, deleted_at = EXCLUDED.deleted_at WHERE t.seq < EXCLUDED.seq`;

  // count() makes every lock call run; unnest keeps the array order, which the sink has sorted (no deadlocks).
  const lock = 'SELECT count(pg_advisory_xact_lock(k)) FROM unnest($1::bigint[]) AS k';
  return { streamPut, backfillPut, delete: del, lock };
}

/**
 * `stored` is not newer than `incoming`, both DynamoDB JSON attribute values (SQL NULL: attribute absent) — the
 * DynamoDB guard's condition `attribute_not_exists(v) OR v <= :v`: no stored version always passes; otherwise both
 * must be numbers (compared exactly, as numeric), strings (byte order, COLLATE "C": ISO-8601 timestamps in one format
 * and zone sort in time order) or binaries. Other types, or two different ones, never compare: the write is skipped.
 * Never NULL, so NOT of it is safe.
 */
export function versionNotNewer(stored: string, incoming: string): string {
  const both = (t: string) => `(${stored}) ->> '${t}' IS NOT NULL AND (${incoming}) ->> '${t}' IS NOT NULL`;
  return (
    `((${stored}) IS NULL OR ((${incoming}) IS NOT NULL AND (` +
    `(${both('N')} AND ((${stored}) ->> 'N')::numeric <= ((${incoming}) ->> 'N')::numeric)` +
    ` OR (${both('S')} AND ((${stored}) ->> 'S') COLLATE "C" <= ((${incoming}) ->> 'S') COLLATE "C")` +
    ` OR (${both('B')} AND decode((${stored}) ->> 'B', 'base64') <= decode((${incoming}) ->> 'B', 'base64')))))`
  );
}

export function castKey(expr: string, sqlType: 'text' | 'numeric' | 'bytea'): string {
  if (sqlType === 'numeric') return `${expr}::numeric`;
  if (sqlType === 'bytea') return `decode(${expr}, 'base64')`;
  return expr;
}
