/**
 * The dashboard's memory and reads stay bounded however long a run lasts: the history is a ring buffer, and the
 * dead-letter list reads only the end of the file, newest first, with keys but never items.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { History } from '../../src/cli/observe/history.js';
import { readDeadLetterTail } from '../../src/cli/observe/dead-letter-tail.js';
import type { ProgressSnapshot } from '../../src/state/migration-state.js';

function snap(second: number): ProgressSnapshot {
  return {
    at: new Date(second * 1000).toISOString(),
    phase: 'catching-up',
    backfill: { items: 0, estimatedItems: 0, itemsPerSecond: second, partitions: 0, partitionsDone: 0 },
    stream: { records: 0, writes: 0, skipped: 0, recordsPerSecond: 0, lagMs: second * 10, caughtUp: false, shards: [] },
    deadLetters: 0,
  };
}

test('the history keeps only the newest `capacity` seconds, oldest first', () => {
  const h = new History(5);
  for (let s = 1; s <= 3; s++) h.add(snap(s));
  assert.deepEqual(
    h.list().map((p) => p.itemsPerSecond),
    [1, 2, 3],
  );
  for (let s = 4; s <= 12; s++) h.add(snap(s));
  assert.deepEqual(
    h.list().map((p) => p.itemsPerSecond),
    [8, 9, 10, 11, 12],
  );
  assert.deepEqual(
    h.list().map((p) => p.lagMs),
    [80, 90, 100, 110, 120],
  );
});

test('the dead-letter tail reads the newest rows from the end of a large file, keys only, and skips a torn last line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dynashift-dl-'));
  const file = join(dir, 'dead-letter.jsonl');
  assert.deepEqual(readDeadLetterTail(file), [], 'no file: no rows');
  writeFileSync(file, '');
  for (let i = 0; i < 5000; i++) {
    appendFileSync(
      file,
      `${JSON.stringify({
        at: '2026-12-06T00:00:00.000Z',
        stage: 'backfill',
        source: 'source',
        sourceKey: { id: { S: `k${i}` } },
        item: { id: { S: `k${i}` }, secret: { S: 'card-number' } },
        error: { code: 'TRANSFORM_FAILED', message: `bad ${i}` },
      })}\n`,
    );
  }
  appendFileSync(file, '{"at":"2026-12-06T00:00:01.000Z","stage":"str'); // a write in progress
  const rows = readDeadLetterTail(file, { maxRows: 3, maxBytes: 4096 });
  assert.deepEqual(
    rows.map((r) => r.key),
    ['{"id":{"S":"k4999"}}', '{"id":{"S":"k4998"}}', '{"id":{"S":"k4997"}}'],
  );
  assert.deepEqual(rows[0]!.error, { code: 'TRANSFORM_FAILED', message: 'bad 4999' });
  assert.ok(!JSON.stringify(rows).includes('card-number'), 'items never reach the page');
  // A byte window that cuts a line in half drops the partial first line rather than showing garbage.
  const many = readDeadLetterTail(file, { maxRows: 1000, maxBytes: 4096 });
  assert.ok(many.length > 3 && many.length < 40, `only what fits in 4 KiB: ${many.length}`);
  assert.ok(many.every((r) => /^\{"id":\{"S":"k\d+"\}\}$/.test(r.key)));
});
