import { ColumnValueError } from './postgres-columns.js';

/**
 * How the sink treats a failed batch, decided by SQLSTATE (never by message text):
 *
 * - item: the data of some row is at fault — a value PostgreSQL can't take (class 22), a constraint someone added
 *   (class 23), a key too large for the index (class 54). Splitting the batch finds the row, which is rejected
 *   (dead-lettered); the others land.
 * - retry: the server or the network hiccuped — serialization failure or deadlock (40xxx), lock timeout, shutdown,
 *   too many connections, a lost connection (no SQLSTATE at all). Retried with backoff, then thrown.
 * - fatal: everything else (permissions, a missing table, syntax): thrown at once, so the engine halts without
 *   checkpointing past the batch.
 */
export type FailureKind = 'item' | 'retry' | 'fatal';

const RETRY_STATES = new Set(['40001', '40P01', '55P03', '57014', '57P01', '57P02', '57P03', '53300', '53400']);

export function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  // Node's own errors carry codes too (ECONNRESET); a SQLSTATE is exactly five characters from the server.
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && (err as { severity?: unknown }).severity !== undefined ? code : undefined;
}

export function classify(err: unknown): FailureKind {
  if (err instanceof ColumnValueError) return 'item';
  const state = sqlState(err);
  if (state === undefined) return isAbort(err) ? 'fatal' : 'retry';
  if (state.startsWith('22') || state.startsWith('23') || state.startsWith('54')) return 'item';
  if (state.startsWith('08') || state.startsWith('40') || RETRY_STATES.has(state)) return 'retry';
  return 'fatal';
}

/** The code a rejected write is dead-lettered with: PG_<SQLSTATE>, or the sink's own check. */
export function rejectionCode(err: unknown): string {
  if (err instanceof ColumnValueError) return 'PG_COLUMN_VALUE';
  const state = sqlState(err);
  return state ? `PG_${state}` : 'PG_ERROR';
}

export function rejectionMessage(err: unknown): string {
  const e = err as { message?: string; detail?: string; column?: string };
  const parts = [e.message ?? String(err)];
  if (e.detail) parts.push(e.detail);
  if (e.column) parts.push(`column ${e.column}`);
  return parts.join(' — ');
}

export function isAbort(err: unknown): boolean {
  return (err as { name?: string } | null)?.name === 'AbortError';
}

export function abortError(): Error {
  const err = new Error('write aborted before it completed');
  err.name = 'AbortError';
  return err;
}
