/**
 * state.json is validated on load: a document that is not a migration state is refused with STATE_CORRUPT, the side
 * (state), the file and a fix — never half-understood — while every state an earlier version wrote still loads.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DynashiftError } from '../../src/errors.js';
import { FileStateStore } from '../../src/state/file-state-store.js';

function storeWith(content: string): { store: FileStateStore; path: string } {
  const dir = mkdtempSync(join(tmpdir(), 'dynashift-state-'));
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'state.json');
  writeFileSync(path, content);
  return { store: new FileStateStore(dir), path };
}

/** A state as the run loop writes it mid-migration: every optional part present. */
const validState = {
  version: 1,
  migration: 'orders',
  configFingerprint: 'abc123',
  createdAt: '2026-11-01T00:00:00.000Z',
  updatedAt: '2026-11-01T01:00:00.000Z',
  phase: 'writes-cutover',
  deadLetters: 3,
  sources: {
    source: {
      table: 'Orders',
      backfill: {
        strategy: 'scan',
        startedAt: '2026-11-01T00:00:01.000Z',
        completedAt: '2026-11-01T00:10:00.000Z',
        itemsWritten: 504,
        bytesRead: 1234,
        estimatedItems: 500,
        partitions: { 0: { done: true, items: 250 }, 1: { done: false, items: 254, cursor: { lastEvaluatedKey: { id: { S: 'x' } } } } },
      },
      stream: {
        streamArn: 'arn:aws:dynamodb:ddblocal:000000000000:table/Orders/stream/2026-11-01T00:00:00.000',
        viewType: 'NEW_AND_OLD_IMAGES',
        openedAt: '2026-11-01T00:00:00.500Z',
        skipBefore: 1_700_000_000_000,
        shards: { 'shardId-1': { checkpoint: '000000000000000000123', finished: false, applied: 17, lastRecordAt: 1_700_000_000_500 } },
      },
    },
  },
  runner: {
    pid: 42,
    host: 'h',
    startedAt: '2026-11-01T00:00:00.000Z',
    heartbeatAt: '2026-11-01T01:00:00.000Z',
    halt: { code: 'TRANSFORM_FAILED', message: 'boom' },
  },
  progress: {
    at: 'x',
    phase: 'in-sync',
    backfill: { items: 1, estimatedItems: 1, itemsPerSecond: 0, partitionsDone: 1, partitions: 1 },
    stream: { records: 0, writes: 0, skipped: 0, recordsPerSecond: 0, lagMs: 0, caughtUp: true, shards: [] },
    deadLetters: 0,
  },
  cutover: {
    direction: 'forward',
    draining: { from: 'forward', to: 'reverse', since: '2026-11-01T00:59:00.000Z', quietMs: 10000 },
    readsAt: 'a',
    writesAt: 'b',
    reverse: { target: { streamArn: 'arn:t', viewType: 'NEW_AND_OLD_IMAGES', openedAt: 'c', shards: {} } },
    history: [{ at: 'a', event: 'cutover-reads' }],
  },
  lastControl: { id: 'i', request: 'cutover-writes', ok: true, message: 'm', at: 'a' },
};

function assertCorrupt(err: unknown, path: string, what: RegExp): true {
  const e = err as DynashiftError;
  assert.equal(e.code, 'STATE_CORRUPT');
  assert.match(e.message, /^state: /, 'the message names the side');
  assert.ok(e.message.includes(path), `the message names the file: ${e.message}`);
  assert.match(e.message, what);
  assert.match(e.hint ?? '', /restore .*state\.json from a backup.*remove the state folder/);
  assert.equal(e.details?.['side'], 'state');
  return true;
}

describe('state.json is validated on load', () => {
  test('an empty object is STATE_CORRUPT naming the missing fields, the file and a fix', async () => {
    const { store, path } = storeWith('{}');
    await assert.rejects(store.load(), (err) =>
      assertCorrupt(err, path, /not a dynashift migration state — missing version, migration, .*phase, sources/),
    );
  });

  test('an unknown phase is STATE_CORRUPT naming the field, not accepted', async () => {
    const { store, path } = storeWith(JSON.stringify({ ...validState, phase: 'bogus' }));
    await assert.rejects(store.load(), (err) => assertCorrupt(err, path, /phase: /));
  });

  test('a checkpoint that is not a sequence number is refused', async () => {
    const bad = structuredClone(validState);
    (bad.sources.source.stream.shards['shardId-1'] as { checkpoint: unknown }).checkpoint = 123;
    const { store, path } = storeWith(JSON.stringify(bad));
    await assert.rejects(store.load(), (err) => assertCorrupt(err, path, /sources\.source\.stream\.shards\.shardId-1\.checkpoint/));
  });

  test('text that is not JSON is STATE_CORRUPT with the same fix', async () => {
    const { store, path } = storeWith('{"version": 1,');
    await assert.rejects(store.load(), (err) => assertCorrupt(err, path, /not valid JSON/));
  });

  test('a valid state from an earlier run loads unchanged, fields this version does not know included', async () => {
    const withExtra = { ...validState, someFutureField: { x: 1 } };
    const { store } = storeWith(JSON.stringify(withExtra));
    assert.deepEqual(await store.load(), withExtra);
  });

  test('a fresh state (no cutover, no runner, no shards yet) loads', async () => {
    const fresh = {
      version: 1,
      migration: 'm',
      configFingerprint: 'f',
      createdAt: 'a',
      updatedAt: 'a',
      phase: 'new',
      deadLetters: 0,
      sources: {
        source: {
          table: 'T',
          backfill: { strategy: 'none', partitions: {}, itemsWritten: 0, bytesRead: 0 },
          stream: { streamArn: '', viewType: '', openedAt: 'a', shards: {} },
        },
      },
    };
    const { store } = storeWith(JSON.stringify(fresh));
    assert.deepEqual(await store.load(), fresh);
  });
});
