import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyControl, controlFailure, type ControlContext } from '../../src/engine/cutover.js';
import { DynashiftError } from '../../src/errors.js';
import type { ControlRequest, ControlRequestKind } from '../../src/state/control-channel.js';
import type { MigrationState, Phase } from '../../src/state/migration-state.js';

function ctx(phase: Phase, over: Partial<ControlContext> = {}): ControlContext {
  const state = { phase } as MigrationState;
  return {
    state,
    cut: { direction: 'forward', history: [] },
    caughtUp: true,
    direction: 'forward',
    deadLetters: 0,
    lagMs: 0,
    openReverse: async () => ({ target: { streamArn: 'arn:target', viewType: 'NEW_AND_OLD_IMAGES', openedAt: '', shards: {} } }),
    ...over,
  };
}
const req = (kind: ControlRequestKind, options: ControlRequest['options'] = {}): ControlRequest => ({ id: '1', kind, at: '', options });

test('reads move only from in-sync, caught up, with no dead letters', async () => {
  assert.equal((await applyControl(req('cutover-reads'), ctx('catching-up'))).ok, false);
  assert.equal((await applyControl(req('cutover-reads'), ctx('in-sync', { caughtUp: false }))).ok, false);
  const blocked = await applyControl(req('cutover-reads'), ctx('in-sync', { deadLetters: 2 }));
  assert.equal(blocked.ok, false);
  // The refusal names the way out, not only --force: a rerun resolves what it applies; retry and discard the rest.
  const said = `${blocked.message}\nfix: ${blocked.hint}`;
  assert.match(said, /2 unresolved dead letter\(s\)/);
  assert.match(said, /dead-letters list/);
  assert.match(said, /dead-letters retry/);
  assert.match(said, /dead-letters discard --reason/);
  const c = ctx('in-sync');
  assert.equal((await applyControl(req('cutover-reads'), c)).ok, true);
  assert.equal(c.state.phase, 'reads-cutover');
  assert.ok(c.cut.readsAt);
});

test('writes move after reads and drain forward before reverse replication starts', async () => {
  assert.equal((await applyControl(req('cutover-writes'), ctx('in-sync'))).ok, false, 'reads first');
  const c = ctx('reads-cutover');
  assert.equal((await applyControl(req('cutover-writes', { quietMs: 1234 }), c)).ok, true);
  assert.equal(c.state.phase, 'writes-cutover');
  assert.deepEqual({ ...c.cut.draining, since: undefined }, { from: 'forward', to: 'reverse', quietMs: 1234, since: undefined });
  assert.ok(c.cut.reverse?.target, 'reverse positions are opened at cutover time');
});

test('a refused reverse setup leaves the phase unchanged', async () => {
  const c = ctx('reads-cutover', {
    openReverse: async () => {
      throw new Error('no inverse transform');
    },
  });
  await assert.rejects(applyControl(req('cutover-writes'), c), /no inverse transform/);
  assert.equal(c.state.phase, 'reads-cutover');
  assert.equal(c.cut.draining, undefined);
});

test('rollback from writes drains reverse, then forward resumes; from reads it moves reads back', async () => {
  const c = ctx('writes-cutover');
  c.cut.direction = 'reverse';
  assert.equal((await applyControl(req('rollback'), c)).ok, true);
  assert.equal(c.state.phase, 'reads-cutover');
  assert.equal(c.cut.draining?.from, 'reverse');
  assert.equal(c.cut.draining?.to, 'forward');
  assert.equal((await applyControl(req('rollback'), c)).ok, true);
  assert.equal(c.state.phase, 'in-sync');
  assert.equal((await applyControl(req('rollback'), c)).ok, false, 'nothing left to roll back');
});

test('rollback while forward is still draining just cancels the switch', async () => {
  const c = ctx('writes-cutover');
  c.cut.draining = { from: 'forward', to: 'reverse', since: '', quietMs: 1 };
  assert.equal((await applyControl(req('rollback'), c)).ok, true);
  assert.equal(c.cut.draining, undefined);
  assert.equal(c.cut.direction, 'forward');
});

test('rollback after --no-reverse is refused unless forced (writes to the target would be lost)', async () => {
  const c = ctx('writes-cutover');
  c.cut.direction = 'none';
  assert.equal((await applyControl(req('rollback'), c)).ok, false);
  assert.equal((await applyControl(req('rollback', { force: true }), c)).ok, true);
});

test('finish drains the running direction to none, only after writes moved', async () => {
  assert.equal((await applyControl(req('finish'), ctx('reads-cutover'))).ok, false);
  const c = ctx('writes-cutover');
  c.cut.direction = 'reverse';
  assert.equal((await applyControl(req('finish'), c)).ok, true);
  assert.equal(c.cut.finishRequested, true);
  assert.deepEqual([c.cut.draining?.from, c.cut.draining?.to], ['reverse', 'none']);
});

test("writes move only while forward is caught up, so the reverse position follows all of forward's writes", async () => {
  const lagging = ctx('reads-cutover', { caughtUp: false, lagMs: 4000 });
  const refused = await applyControl(req('cutover-writes'), lagging);
  assert.equal(refused.ok, false);
  assert.match(refused.message, /not caught up/);
  assert.equal(lagging.state.phase, 'reads-cutover');
  assert.equal(lagging.cut.reverse, undefined, 'no reverse position is taken while forward lags');
  assert.equal((await applyControl(req('cutover-writes', { force: true }), ctx('reads-cutover', { caughtUp: false }))).ok, true, '--force overrides');
});

test("a control request that throws keeps the error's own code: typed errors and AWS failures are not reported as CUTOVER_REFUSED", () => {
  const typed = controlFailure(new DynashiftError('NOT_IN_SYNC', 'behind', { hint: 'wait' }), 'fallback');
  assert.deepEqual([typed.ok, typed.code, typed.hint], [false, 'NOT_IN_SYNC', 'wait']);
  const network = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED', $metadata: {} });
  const unreachable = controlFailure(network, 'fallback');
  assert.equal(unreachable.code, 'ENDPOINT_UNREACHABLE');
  const other = controlFailure(new TypeError('x is undefined'), 'see the log');
  assert.deepEqual([other.code, other.hint], ['AWS_ERROR', 'see the log']);
  assert.match(other.message, /unexpected error: x is undefined/);
});
