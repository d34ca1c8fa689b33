/**
 * The parts of `backfill.workers` that need no thread: how many workers a config gets, how write.concurrency is shared
 * between them, and errors crossing the thread boundary with their code (the integration test,
 * test/integration/backfill-workers.test.ts, runs the threads themselves on DynamoDB Local).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULTS } from '../../src/config/resolved-config.js';
import { DynashiftError } from '../../src/errors.js';
import { ItemFailureHalt } from '../../src/engine/failure-policy.js';
import { shareOf } from '../../src/engine/workers/worker-pool.js';
import { workerCount } from '../../src/engine/workers/worker-count.js';
import { fromThreadError, toThreadError } from '../../src/engine/workers/thread-error.js';

const config = (backfill: object = {}, write: object = {}) => ({
  backfill: { ...DEFAULTS.backfill, ...backfill },
  write: { ...DEFAULTS.write, ...write },
});

test('the default worker count is the cores available but one, at most 8, and never more than segments, concurrency or write slots', () => {
  assert.equal(workerCount(config(), 1), 1, 'one core: the in-thread path');
  assert.equal(workerCount(config(), 2), 1, 'two cores: the in-thread path (a second thread has no core of its own)');
  assert.equal(workerCount(config(), 4), 3);
  assert.equal(workerCount(config(), 64), 8);
  assert.equal(workerCount(config({ segments: 3 }), 16), 3);
  assert.equal(workerCount(config({ concurrency: 2 }), 16), 2);
  assert.equal(workerCount(config({}, { concurrency: 4 }), 16), 4);
  assert.equal(workerCount(config({ workers: 1 }), 16), 1, 'workers: 1 keeps the in-thread path');
  assert.equal(workerCount(config({ workers: 12, segments: 32, concurrency: 32 }), 2), 12, 'an explicit count is not capped by the cores');
});

test('write.concurrency is split between the workers: the shares add up to it and differ by at most one', () => {
  for (const [total, n] of [
    [16, 2],
    [16, 3],
    [5, 4],
    [7, 7],
  ] as const) {
    const shares = Array.from({ length: n }, (_, i) => shareOf(total, n, i));
    assert.equal(
      shares.reduce((a, b) => a + b, 0),
      total,
      `${total} over ${n}: ${shares}`,
    );
    assert.ok(Math.max(...shares) - Math.min(...shares) <= 1);
  }
});

test("an error crossing the thread boundary keeps a DynashiftError's code, hint, details, side and exit code", () => {
  const original = new DynashiftError('ITEM_REJECTED', 'the target refused it', {
    hint: 'fix the item',
    details: { deadLetterFile: '/x' },
    side: 'target',
    exitCode: 1,
  });
  const back = fromThreadError(structuredClone(toThreadError(original)));
  assert.ok(back instanceof DynashiftError);
  assert.equal((back as DynashiftError).code, 'ITEM_REJECTED');
  assert.equal((back as DynashiftError).hint, 'fix the item');
  assert.deepEqual((back as DynashiftError).details, { deadLetterFile: '/x' });
  assert.equal((back as DynashiftError).side, 'target');
  assert.equal(back.message, 'the target refused it');

  const halt = fromThreadError(structuredClone(toThreadError(new ItemFailureHalt('TRANSFORM_FAILED', 'boom', { hint: 'h' }))));
  assert.ok(halt instanceof ItemFailureHalt, 'a halt is still a halt: runners that stop differently catch it by class');
  assert.equal((halt as ItemFailureHalt).code, 'TRANSFORM_FAILED');

  const plain = fromThreadError(structuredClone(toThreadError(new TypeError('not a function'))));
  assert.equal(plain.name, 'TypeError');
  assert.equal(plain.message, 'not a function');
});
