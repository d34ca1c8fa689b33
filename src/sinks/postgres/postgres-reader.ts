import pg from 'pg';
import type { AttributeMap, KeySchema } from '../../core/item.js';
import { keyId } from '../../core/item.js';
import { ColumnValueError, keyParam } from './postgres-columns.js';
import { ident, mainTable, type PgLayout } from './postgres-schema.js';
import { jsonToItem } from './postgres-types.js';
import { castKey } from './postgres-write-sql.js';

const LOOKUP_CHUNK = 1000;

/**
 * Reads a PostgreSQL target back, for verify.
 *
 * Partitions are hash buckets of the primary key, `i/n`: a row belongs to exactly one bucket for as long as its key
 * exists, even while it is being updated, so n parallel readers see every row once. Each partition is one
 * server-side cursor over a sequential scan, fetched page by page (bounded memory) inside a REPEATABLE READ
 * snapshot; concurrent sequential scans of one table share their reads (synchronize_seqscans), so n partitions cost
 * about one pass over the table. Every partition uses its own connection, not the write pool, so a slow consumer
 * can't starve the writers.
 */
export class PostgresReader {
  readonly keySchema: KeySchema;

  constructor(
    private readonly connect: () => Promise<pg.Client>,
    private readonly pool: pg.Pool,
    private readonly layout: PgLayout,
    keySchema: KeySchema,
    private readonly pageSize = 1000,
  ) {
    this.keySchema = keySchema;
  }

  readPartitions(count: number): string[] {
    const n = Math.max(1, Math.floor(count));
    return Array.from({ length: n }, (_, i) => `${i}/${n}`);
  }

  async *readPartition(partition: string, signal?: AbortSignal): AsyncIterable<AttributeMap[]> {
    const [index, count] = parsePartition(partition);
    const keys = this.layout.keys.map((k) => `m.${ident(k.name)}`);
    const hashed = keys.length === 1 ? `${keys[0]}::text` : `row(${keys.join(', ')})::text`;
    // & max-bigint clears the sign bit: a non-negative bucket without abs(), which overflows on the minimum value.
    const where = count === 1 ? '' : ` WHERE (hashtextextended(${hashed}, 0) & 9223372036854775807) % ${count} = ${index}`;
    const client = await this.connect();
    let open = false;
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      open = true;
      await client.query(`DECLARE dynashift_read NO SCROLL CURSOR FOR SELECT m.item FROM ${mainTable(this.layout)} m${where}`);
      while (!signal?.aborted) {
        const page = await client.query<{ item: unknown }>(`FETCH ${this.pageSize} FROM dynashift_read`);
        if (page.rows.length > 0) yield page.rows.map((r) => jsonToItem(r.item));
        if (page.rows.length < this.pageSize) break;
      }
      await client.query('COMMIT');
      open = false;
    } finally {
      // Also reached when the consumer stops early (return() on the iterator): the snapshot must not linger.
      if (open) await client.query('ROLLBACK').catch(() => {});
      await client.end().catch(() => {});
    }
  }

  async getItems(keys: AttributeMap[]): Promise<(AttributeMap | undefined)[]> {
    const found = new Map<string, AttributeMap>();
    const cols = this.layout.keys;
    for (let start = 0; start < keys.length; start += LOOKUP_CHUNK) {
      const params: string[][] = cols.map(() => []);
      for (const key of keys.slice(start, start + LOOKUP_CHUNK)) {
        try {
          const values = cols.map((k) => keyParam(key[k.name], k.type, k.name));
          values.forEach((v, i) => params[i]!.push(v));
        } catch (err) {
          if (!(err instanceof ColumnValueError)) throw err; // a key of the wrong type can't exist in the table
        }
      }
      if (params[0]!.length === 0) continue;
      const typed = cols.map((k, i) => `${castKey(`u.k${i}`, k.sqlType)} AS k${i}`).join(', ');
      const aliases = cols.map((_, i) => `k${i}`).join(', ');
      const on = cols.map((k, i) => `m.${ident(k.name)} = i.k${i}`).join(' AND ');
      const res = await this.pool.query<Record<string, unknown>>(
        `SELECT ${cols.map((k, i) => `m.${ident(k.name)} AS k${i}`).join(', ')}, m.item
         FROM ${mainTable(this.layout)} m JOIN (SELECT ${typed} FROM unnest(${cols.map((_, i) => `$${i + 1}::text[]`).join(', ')}) AS u(${aliases})) i ON ${on}`,
        params,
      );
      for (const row of res.rows) found.set(this.rowKeyId(row), jsonToItem(row['item']));
    }
    return keys.map((k) => {
      try {
        return found.get(keyId(k, this.keySchema));
      } catch {
        return undefined;
      }
    });
  }

  /** The key identity from the typed columns (not the jsonb), so it matches keyId() of the requested key. */
  private rowKeyId(row: Record<string, unknown>): string {
    const key: AttributeMap = {};
    this.layout.keys.forEach((k, i) => {
      const v = row[`k${i}`];
      key[k.name] = k.type === 'S' ? { S: String(v) } : k.type === 'N' ? { N: String(v) } : { B: new Uint8Array(v as Buffer) };
    });
    return keyId(key, this.keySchema);
  }
}

function parsePartition(partition: string): [number, number] {
  const m = /^(\d+)\/(\d+)$/.exec(partition);
  const index = Number(m?.[1]);
  const count = Number(m?.[2]);
  if (!m || count < 1 || index >= count) throw new Error(`not a partition of this reader: ${JSON.stringify(partition)} (expected "i/n")`);
  return [index, count];
}
