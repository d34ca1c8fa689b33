import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runnerSync, type RunnerSourceView } from '../../src/engine/runner-sync.js';
import type { StreamProgress } from '../../src/state/dynamodb-state-store.js';
import type { MigrationState } from '../../src/state/migration-state.js';

const NOW = Date.parse('2026-12-06T12:00:00Z');
const settings = { table: 'state', maxLagSeconds: 60, evidenceSeconds: 300, cacheSeconds: 30 };

function state(complete = true): MigrationState {
  return {
    phase: 'catching-up',
    sources: {
      source: {
        table: 'orders',
        backfill: {
          strategy: 'scan',
          partitions: { '0': { done: true, items: 5 }, '1': { done: complete, items: 3 } },
          itemsWritten: 8,
          bytesRead: 0,
          ...(complete ? { completedAt: '2026-12-06T11:00:00Z' } : {}),
        },
        stream: { streamArn: 'arn:s', viewType: 'NEW_AND_OLD_IMAGES', openedAt: '', shards: {} },
      },
    },
  } as unknown as MigrationState;
}

function view(progress: Partial<StreamProgress>, spool: RunnerSourceView['spool'] = { mode: 'live', spooled: 3 }): RunnerSourceView[] {
  return [
    {
      source: 'source',
      progress: { source: 'source', records: 10, spooledRecords: 4, skipped: 0, writes: 10, failedBatches: 0, ...progress },
      ...(spool ? { spool, spoolKeys: 0 } : {}),
    },
  ];
}

const atTip = { lastAppliedAt: NOW - 5_000, lastAgeMs: 2_000 };

test('in sync: backfill complete, spool live, a recent applied batch at the tip, nothing behind or returned', () => {
  const r = runnerSync(state(), view(atTip), settings, NOW);
  assert.equal(r.inSync, true);
});

function refusal(s: MigrationState, v: RunnerSourceView[]) {
  const r = runnerSync(s, v, settings, NOW);
  assert.equal(r.inSync, false);
  if (r.inSync) throw new Error('unreachable');
  assert.equal(r.error.code, 'NOT_IN_SYNC');
  assert.equal(r.error.exitCode, 2);
  assert.ok(r.error.hint && r.error.hint.length > 20, 'a fix hint');
  return r;
}

test('not in sync while the backfill is incomplete: names the segments, side source', () => {
  const r = refusal(state(false), view(atTip));
  assert.match(r.reason, /backfill of source source is not complete \(1\/2 segments done\)/);
  assert.equal(r.error.side, 'source');
});

test('not in sync while the spool is not live: names the mode and the keys left, side state', () => {
  const r = refusal(state(), [{ ...view(atTip)[0]!, spool: { mode: 'handoff', spooled: 9 }, spoolKeys: 4 }]);
  assert.match(r.reason, /spool of source source is in mode handoff with 4 key\(s\) left/);
  assert.equal(r.error.side, 'state');
});

test('not in sync without a recent applied batch: none at all, or older than evidenceSeconds (a spooled batch is no evidence)', () => {
  assert.match(refusal(state(), view({ lastSpooledAt: NOW - 1000 })).reason, /applied no batch of source source in the last 300 s/);
  assert.match(refusal(state(), view({ lastAppliedAt: NOW - 301_000, lastAgeMs: 0 })).reason, /applied no batch .* \(last at /);
  assert.match(refusal(state(), view({}, undefined)).error.hint!, /IteratorAge metric is 0, then pass --force/);
});

test('not in sync when the last batch lags over maxLagSeconds, or a lagging batch was seen within the window', () => {
  assert.match(
    refusal(state(), view({ lastAppliedAt: NOW - 1000, lastAgeMs: 61_000 })).reason,
    /61 s behind the stream \(over state.maxLagSeconds 60\)/,
  );
  const r = refusal(state(), view({ ...atTip, lastBehindAt: NOW - 100_000, lastBehindMs: 900_000 }));
  assert.match(r.reason, /900 s behind the stream was handled 100 s ago/);
  // Outside the window, an old lagging batch no longer counts.
  assert.equal(runnerSync(state(), view({ ...atTip, lastBehindAt: NOW - 301_000, lastBehindMs: 900_000 }), settings, NOW).inSync, true);
});

test('not in sync when a batch was returned for redelivery within the window (a shard halted at a failing record)', () => {
  const r = refusal(state(), view({ ...atTip, lastFailedAt: NOW - 10_000 }));
  assert.match(r.reason, /returned for redelivery 10 s ago/);
  assert.match(r.error.hint!, /dead-letters list/);
});

test('a source without a snapshot to copy (backfill none) needs no completed backfill', () => {
  const s = state(false);
  s.sources.source!.backfill.strategy = 'none';
  assert.equal(runnerSync(s, view(atTip, undefined), settings, NOW).inSync, true);
});
