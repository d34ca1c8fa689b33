import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resumeWithTransform, retryWithTransform } from '../../src/engine/resume-check.js';
import { DynashiftError } from '../../src/errors.js';
import type { MigrationState, Phase } from '../../src/state/migration-state.js';

const OLD = { code: 'aaaa', output: 'oooo' };
const NEW_CODE = { code: 'bbbb', output: 'oooo' };
const NOW = Date.parse('2026-12-06T06:00:00Z');
const opts = (rebackfill = false) => ({ rebackfill, now: NOW, stateDir: '/tmp/state' });

function state(
  phase: Phase,
  fingerprint: MigrationState['transformFingerprint'] | null = OLD,
  strategy: 'scan' | 'touch' | 'export' | 'none' = 'scan',
): MigrationState {
  return {
    version: 1,
    migration: 'm',
    configFingerprint: 'f',
    createdAt: '',
    updatedAt: '',
    phase,
    deadLetters: 0,
    ...(fingerprint ? { transformFingerprint: fingerprint } : {}),
    sources: {
      source: {
        table: 'orders',
        stream: {
          streamArn: 'arn',
          viewType: 'NEW_AND_OLD_IMAGES',
          openedAt: '2026-12-06T05:00:00Z',
          skipBefore: 123,
          shards: { s1: { checkpoint: '42', finished: false, applied: 7 } },
        },
        backfill: {
          strategy,
          startedAt: '2026-12-06T05:00:00Z',
          completedAt: '2026-12-06T05:10:00Z',
          partitions: { 0: { done: true, items: 10 } },
          itemsWritten: 10,
          bytesRead: 99,
        },
      },
    },
  };
}

const refusedWith = (code: string, message: RegExp, hint?: RegExp) => (err: unknown) => {
  assert.ok(err instanceof DynashiftError);
  assert.equal(err.code, code);
  assert.match(err.message, message);
  if (hint) assert.match(err.hint ?? '', hint);
  return true;
};

test('the same transform resumes with nothing to say', () => {
  const s = state('catching-up');
  assert.equal(resumeWithTransform(s, OLD, opts()), undefined);
  assert.deepEqual(s.transformFingerprint, OLD);
});

test('a changed transform code is refused with TRANSFORM_CHANGED, and the fix offers restoring, --accept-transform, --rebackfill and starting over', () => {
  const s = state('backfilling');
  assert.throws(
    () => resumeWithTransform(s, NEW_CODE, opts()),
    refusedWith(
      'TRANSFORM_CHANGED',
      /transform code differs/,
      /restore the original transform.*run --accept-transform.*verify.*run --rebackfill.*verify --repair.*start over/,
    ),
  );
  assert.deepEqual(s.transformFingerprint, OLD, 'a refusal records nothing');
});

test('changed output settings (target keys, split, skipExpired) are refused too', () => {
  assert.throws(
    () => resumeWithTransform(state('in-sync'), { code: 'aaaa', output: 'pppp' }, opts()),
    refusedWith('TRANSFORM_CHANGED', /target keys/),
  );
});

test('a state written before transform fingerprints is migrated: the current one is recorded, with a warning', () => {
  const s = state('catching-up', null);
  const warned: string[] = [];
  const note = resumeWithTransform(s, NEW_CODE, { ...opts(), warn: (m) => warned.push(m) });
  assert.match(note ?? '', /predates transform fingerprints/);
  assert.deepEqual(warned, [note]);
  assert.deepEqual(s.transformFingerprint, NEW_CODE);
  assert.equal(s.sources.source!.backfill.completedAt, '2026-12-06T05:10:00Z', 'nothing else changes');
  assert.equal(resumeWithTransform(s, NEW_CODE, opts()), undefined, 'and from then on it is checked');
  assert.throws(() => resumeWithTransform(s, OLD, opts()), refusedWith('TRANSFORM_CHANGED', /transform code/));
});

test('a fresh state records the fingerprint silently', () => {
  const s = state('new', null);
  assert.equal(resumeWithTransform(s, OLD, opts()), undefined);
  assert.deepEqual(s.transformFingerprint, OLD);
});

test('--rebackfill restarts every backfill under the new transform and keeps the stream position and checkpoints', () => {
  const s = state('in-sync');
  const streamBefore = structuredClone(s.sources.source!.stream);
  const note = resumeWithTransform(s, NEW_CODE, opts(true));
  assert.match(note ?? '', /verify --repair/);
  const b = s.sources.source!.backfill;
  assert.deepEqual(b.partitions, {});
  assert.equal(b.itemsWritten, 0);
  assert.equal(b.completedAt, undefined);
  assert.equal(b.startedAt, new Date(NOW).toISOString());
  assert.deepEqual(s.sources.source!.stream, streamBefore, 'the stream keeps applying from where it stopped');
  assert.equal(s.phase, 'backfilling');
  assert.deepEqual(s.transformFingerprint, NEW_CODE);
  assert.deepEqual(s.rebackfill, { at: new Date(NOW).toISOString(), from: OLD });
});

test('--rebackfill is refused after a cutover, and for backfills whose snapshot predates the checkpoints', () => {
  for (const phase of ['reads-cutover', 'writes-cutover', 'finished'] as Phase[]) {
    assert.throws(
      () => resumeWithTransform(state(phase), NEW_CODE, opts(true)),
      refusedWith('TRANSFORM_CHANGED', new RegExp(`phase ${phase}`), /rollback/),
    );
  }
  for (const strategy of ['export', 'none'] as const) {
    assert.throws(
      () => resumeWithTransform(state('in-sync', OLD, strategy), NEW_CODE, opts(true)),
      refusedWith('TRANSFORM_CHANGED', new RegExp(strategy), /start over/),
    );
  }
  const touch = state('in-sync', OLD, 'touch');
  resumeWithTransform(touch, NEW_CODE, opts(true));
  assert.deepEqual(touch.sources.source!.backfill.touch, {}, 'touch starts its passes again');
});

const accepting = { ...opts(), acceptTransform: true };

test('--accept-transform records the new transform and keeps everything written and every position as it is', () => {
  const s = state('catching-up');
  const before = structuredClone(s);
  const note = resumeWithTransform(s, NEW_CODE, accepting);
  assert.match(note ?? '', /accepted.*items already written keep what the old transform made of them.*dynashift verify.*verify --repair/);
  assert.deepEqual(s.transformFingerprint, NEW_CODE);
  assert.deepEqual(s.transformAccepted, { at: new Date(NOW).toISOString(), from: OLD });
  assert.deepEqual(s.sources, before.sources, 'no backfill restarts, the stream keeps its checkpoints');
  assert.equal(s.phase, 'catching-up');
  assert.equal(s.rebackfill, undefined);
  assert.equal(resumeWithTransform(s, NEW_CODE, opts()), undefined, 'a later plain resume goes on under the accepted transform');
  assert.throws(() => resumeWithTransform(s, OLD, opts()), refusedWith('TRANSFORM_CHANGED', /transform code/), 'and going back is a change again');
});

test('--accept-transform works in every phase (it writes nothing), and says so when there is nothing to accept', () => {
  for (const phase of ['backfilling', 'in-sync', 'reads-cutover', 'writes-cutover'] as Phase[]) {
    const s = state(phase);
    resumeWithTransform(s, { code: 'aaaa', output: 'pppp' }, accepting);
    assert.deepEqual(s.transformFingerprint, { code: 'aaaa', output: 'pppp' }, phase);
  }
  const same = state('in-sync');
  assert.match(resumeWithTransform(same, OLD, accepting) ?? '', /nothing to accept/);
  assert.equal(same.transformAccepted, undefined);
});

test('--accept-transform and --rebackfill together are refused (CONFIG_INVALID): they are two different answers', () => {
  const s = state('in-sync');
  assert.throws(
    () => resumeWithTransform(s, NEW_CODE, { ...accepting, rebackfill: true }),
    refusedWith('CONFIG_INVALID', /--rebackfill and --accept-transform/, /--rebackfill.*--accept-transform/),
  );
  assert.deepEqual(s.transformFingerprint, OLD);
});

test('dead-letters retry under a changed transform is refused (TRANSFORM_CHANGED) with retry --accept-transform and --rebackfill as the fixes', () => {
  const s = state('in-sync');
  assert.throws(
    () => retryWithTransform(s, NEW_CODE, { now: NOW, stateDir: '/tmp/state' }),
    refusedWith(
      'TRANSFORM_CHANGED',
      /transform code differs.*not accepted/,
      /dead-letters retry --accept-transform.*verify.*run --rebackfill.*restore/,
    ),
  );
  assert.deepEqual(s.transformFingerprint, OLD);
  assert.equal(
    retryWithTransform(state('in-sync'), OLD, { now: NOW, stateDir: '/tmp/state' }),
    undefined,
    'the recorded transform retries with nothing to say',
  );
  const note = retryWithTransform(s, NEW_CODE, { acceptTransform: true, now: NOW, stateDir: '/tmp/state' });
  assert.match(note ?? '', /accepted/);
  assert.deepEqual(s.transformFingerprint, NEW_CODE, 'retry --accept-transform records it as run --accept-transform does');
  assert.deepEqual(s.transformAccepted, { at: new Date(NOW).toISOString(), from: OLD });
});
