import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyControl, type ControlContext } from '../../src/engine/cutover.js';
import { PHASE_MOVES, enterPhase, firstPhase } from '../../src/engine/phase-machine.js';
import type { ControlRequestKind } from '../../src/state/control-channel.js';
import type { MigrationState, Phase } from '../../src/state/migration-state.js';

const PHASES = Object.keys(PHASE_MOVES) as Phase[];

test('every phase a live command can reach, from every phase, is a move of the phase machine', async () => {
  const kinds: ControlRequestKind[] = ['cutover-reads', 'cutover-writes', 'rollback', 'finish'];
  for (const from of PHASES) {
    for (const kind of kinds) {
      for (const force of [false, true]) {
        for (const cutDirection of ['forward', 'reverse', 'none'] as const) {
          const state = { phase: from, sources: {} } as unknown as MigrationState;
          const ctx: ControlContext = {
            state,
            cut: { direction: cutDirection, history: [] },
            caughtUp: true,
            direction: cutDirection,
            deadLetters: 0,
            lagMs: 0,
            openReverse: async () => ({}),
          };
          await applyControl({ id: '1', kind, at: '', options: { force, noReverse: cutDirection === 'none' } }, ctx);
          const to = state.phase;
          assert.ok(to === from || PHASE_MOVES[from].includes(to), `${kind}${force ? ' --force' : ''} moved ${from} → ${to}`);
        }
      }
    }
  }
});

test('a move the machine does not have throws and leaves the phase as it was', () => {
  const state = { phase: 'new' as Phase };
  assert.throws(() => enterPhase(state, 'writes-cutover'), /no phase move new → writes-cutover/);
  assert.equal(state.phase, 'new');
  for (const final of ['finished', 'exported'] as const) assert.deepEqual(PHASE_MOVES[final], [], `${final} is final`);
});

test('entering the current phase is no move', () => {
  const state = { phase: 'in-sync' as Phase };
  assert.equal(enterPhase(state, 'in-sync'), false);
  assert.equal(enterPhase(state, 'reads-cutover'), true);
  assert.equal(state.phase, 'reads-cutover');
});

test('a fresh migration starts backfilling only when a source has a snapshot left to copy', () => {
  const source = (strategy: 'scan' | 'none' | 'export', completedAt?: string) => ({
    backfill: { strategy, partitions: {}, itemsWritten: 0, bytesRead: 0, ...(completedAt ? { completedAt } : {}) },
  });
  assert.equal(firstPhase({ sources: { a: source('scan') } } as unknown as MigrationState), 'backfilling');
  assert.equal(firstPhase({ sources: { a: source('none', 'now') } } as unknown as MigrationState), 'catching-up');
  assert.equal(
    firstPhase({ sources: { a: source('export', 'now') } } as unknown as MigrationState),
    'catching-up',
    'an export loaded by ImportTable',
  );
});
