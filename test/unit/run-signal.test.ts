import { test } from 'node:test';
import assert from 'node:assert/strict';
import { anySignal, runController } from '../../src/core/run-signal.js';

/** Collects the process warnings emitted while `fn` runs (they are emitted on the next tick). */
async function warningsDuring(fn: () => void): Promise<string[]> {
  const seen: string[] = [];
  const onWarning = (w: Error): void => void seen.push(w.name);
  process.on('warning', onWarning);
  try {
    fn();
    await new Promise((r) => setTimeout(r, 20));
  } finally {
    process.off('warning', onWarning);
  }
  return seen;
}

const addListeners = (signal: AbortSignal, n: number): void => {
  for (let i = 0; i < n; i++) signal.addEventListener('abort', () => {});
};

test("a run's signal takes one abort listener per in-flight task without Node's leak warning (write.concurrency 16 and more)", async () => {
  assert.deepEqual(await warningsDuring(() => addListeners(runController().signal, 64)), []);
  assert.deepEqual(await warningsDuring(() => addListeners(anySignal([runController().signal, runController().signal]), 64)), []);
});

test('a plain AbortController does warn at that count (what runController prevents)', async () => {
  assert.deepEqual(await warningsDuring(() => addListeners(new AbortController().signal, 64)), ['MaxListenersExceededWarning']);
});
