/**
 * A run shorter than one progress interval still reports its final state: the line view and the JSON view write the last
 * snapshot held back by the interval when they stop, and nothing twice.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { createJsonProgressView, createProgressView } from '../../src/cli/progress.js';
import type { ProgressSnapshot } from '../../src/state/migration-state.js';

function snapshot(phase: ProgressSnapshot['phase'], items: number): ProgressSnapshot {
  return {
    at: new Date().toISOString(),
    phase,
    backfill: { items, estimatedItems: 504, itemsPerSecond: 1000, partitionsDone: 1, partitions: 1 },
    stream: { records: 0, writes: 0, skipped: 0, recordsPerSecond: 0, lagMs: 0, caughtUp: true, shards: [] },
    deadLetters: 0,
  };
}

test('the plain line view writes the first snapshot at once and, on stop, the last one the interval held back', () => {
  const lines: string[] = [];
  const view = createProgressView({ tty: false, intervalMs: 60_000, write: (l) => lines.push(l) });
  view.update(snapshot('backfilling', 10));
  view.update(snapshot('backfilling', 200));
  view.update(snapshot('in-sync', 504));
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /phase=backfilling backfill=10\/504/);
  view.stop();
  view.stop();
  assert.equal(lines.length, 2, 'stop writes the held-back snapshot once');
  assert.match(lines[1]!, /phase=in-sync backfill=504\/504/);
});

test('the JSON view logs the final snapshot on stop when the interval held it back, and nothing more when it did not', () => {
  const records: { msg: string; phase: string; backfill: { items: number } }[] = [];
  const log = pino({ base: undefined }, { write: (s: string) => void records.push(JSON.parse(s)) });
  const view = createJsonProgressView(log, 60_000);
  view.update(snapshot('backfilling', 10));
  view.update(snapshot('in-sync', 504));
  view.stop();
  assert.deepEqual(
    records.map((r) => [r.msg, r.phase, r.backfill.items]),
    [
      ['progress', 'backfilling', 10],
      ['progress', 'in-sync', 504],
    ],
  );
  const once: typeof records = [];
  const single = createJsonProgressView(pino({ base: undefined }, { write: (s: string) => void once.push(JSON.parse(s)) }), 60_000);
  single.update(snapshot('in-sync', 504));
  single.stop();
  assert.equal(once.length, 1, 'a snapshot already written is not written again on stop');
});
