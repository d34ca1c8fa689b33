import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TaskGroup } from '../../src/core/task-group.js';

const later = <T>(ms: number, value: T): Promise<T> => new Promise((r) => setTimeout(() => r(value), ms));

describe('TaskGroup', () => {
  test('resolves with every result in order', async () => {
    const group = new TaskGroup();
    assert.deepEqual(await group.all([later(20, 'a'), Promise.resolve('b'), later(5, 'c')]), ['a', 'b', 'c']);
    assert.equal(group.signal.aborted, false);
  });

  test('a failure is reported only once every other task has settled (none is left in flight)', async () => {
    const group = new TaskGroup();
    let slowSettled = false;
    const slow = later(50, 'slow').then((v) => {
      slowSettled = true;
      return v;
    });
    await assert.rejects(group.all([slow, Promise.reject(new Error('boom'))]), /boom/);
    assert.equal(slowSettled, true, 'the group rejected while a task was still running');
  });

  test('the first failure aborts the signal and is the one reported, not the aborts it caused', async () => {
    const group = new TaskGroup();
    const waiting = new Promise<never>((_, reject) =>
      group.signal.addEventListener('abort', () => reject(Object.assign(new Error('aborted'), { name: 'AbortError' }))),
    );
    const failing = later(10, undefined).then(() => {
      throw new Error('the real cause');
    });
    await assert.rejects(group.all([waiting, failing]), /the real cause/);
    assert.equal(group.signal.aborted, true);
  });

  test("the signal follows the caller's", async () => {
    const caller = new AbortController();
    const group = new TaskGroup(caller.signal);
    assert.equal(group.signal.aborted, false);
    caller.abort();
    assert.equal(group.signal.aborted, true);
    const already = new TaskGroup(caller.signal);
    assert.equal(already.signal.aborted, true);
  });
});
