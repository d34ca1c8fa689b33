import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** A dead letter as the dashboard lists it: where and why, and the item's key (never the item itself). */
export interface DeadLetterRow {
  at: string;
  stage: string;
  source: string;
  target?: string;
  key: string;
  error: { code: string; message: string };
}

/**
 * The newest dead letters, newest first, read from the end of the file only (at most `maxBytes`), so a file that has
 * grown to gigabytes in a `dead-letter` run costs the page the same as a small one. Items are left out: they are user
 * data, and the page may be open on a shared screen.
 */
export function readDeadLetterTail(path: string, opts: { maxRows?: number; maxBytes?: number } = {}): DeadLetterRow[] {
  const maxRows = opts.maxRows ?? 50;
  const maxBytes = opts.maxBytes ?? 256 * 1024;
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  let text: string;
  let partialFirst: boolean;
  try {
    const size = fstatSync(fd).size;
    const start = Math.max(0, size - maxBytes);
    const buf = Buffer.alloc(size - start);
    readSync(fd, buf, 0, buf.length, start);
    text = buf.toString('utf8');
    partialFirst = start > 0;
  } finally {
    closeSync(fd);
  }
  const lines = text.split('\n');
  if (partialFirst) lines.shift(); // cut in the middle by the byte window
  const rows: DeadLetterRow[] = [];
  for (let i = lines.length - 1; i >= 0 && rows.length < maxRows; i--) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    const row = parseLine(line);
    if (row) rows.push(row);
  }
  return rows;
}

function parseLine(line: string): DeadLetterRow | undefined {
  let e: { at?: unknown; stage?: unknown; source?: unknown; target?: unknown; sourceKey?: unknown; error?: { code?: unknown; message?: unknown } };
  try {
    e = JSON.parse(line) as typeof e;
  } catch {
    return undefined; // a line still being appended
  }
  return {
    at: String(e.at ?? ''),
    stage: String(e.stage ?? ''),
    source: String(e.source ?? ''),
    ...(e.target !== undefined ? { target: String(e.target) } : {}),
    key: clip(JSON.stringify(e.sourceKey ?? null), 300),
    error: { code: String(e.error?.code ?? ''), message: clip(String(e.error?.message ?? ''), 500) },
  };
}

function clip(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}
