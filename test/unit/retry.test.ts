import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { retry, type RetryClock, type RetryVerdict } from '../../src/core/retry.js';

class FakeClock implements RetryClock {
  t = 0;
  sleeps: number[] = [];
  now(): number {
    return this.t;
  }
  async sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    this.t += ms;
  }
}

const byName = (err: unknown): RetryVerdict => {
  const name = (err as Error).name;
  return name === 'Throttle' ? 'throttled' : name === 'Transient' ? 'retry' : 'fatal';
};
const fail = (name: string): Error => Object.assign(new Error(name), { name });
const top = () => 0.999999;

describe('retry', () => {
  test('a call that succeeds is made once and waits for nothing', async () => {
    const clock = new FakeClock();
    let calls = 0;
    assert.equal(await retry(async () => ++calls, { clock, classify: byName }), 1);
    assert.deepEqual(clock.sleeps, []);
  });

  test('passing failures are retried with exponential backoff until the call succeeds', async () => {
    const clock = new FakeClock();
    let calls = 0;
    const out = await retry(
      async () => {
        if (++calls < 4) throw fail('Transient');
        return 'done';
      },
      { clock, classify: byName, baseMs: 100, maxMs: 250, random: top },
    );
    assert.equal(out, 'done');
    assert.deepEqual(clock.sleeps, [99, 199, 249]);
  });

  test('a fatal error is thrown at once, without a retry', async () => {
    const clock = new FakeClock();
    let calls = 0;
    await assert.rejects(
      retry(
        async () => {
          calls++;
          throw fail('Validation');
        },
        { clock, classify: byName },
      ),
      /Validation/,
    );
    assert.equal(calls, 1);
    assert.deepEqual(clock.sleeps, []);
  });

  test('the failure budget bounds how long a call keeps failing; what exhausted() returns is thrown', async () => {
    const clock = new FakeClock();
    let calls = 0;
    await assert.rejects(
      retry(
        async () => {
          calls++;
          clock.t += 1_000; // each attempt hangs for a second before it fails (a timeout)
          throw fail('Transient');
        },
        {
          clock,
          classify: byName,
          budgetMs: 10_000,
          baseMs: 100,
          maxMs: 1_000,
          random: top,
          exhausted: ({ attempts, failingForMs }) => new Error(`gave up after ${attempts} attempts, ${failingForMs} ms`),
        },
      ),
      (err: Error) => {
        const [, attempts, ms] = /after (\d+) attempts, (\d+) ms/.exec(err.message)!.map(Number);
        assert.ok(ms! >= 10_000 && ms! < 12_000, `failing for ${ms} ms counted from the start of the first attempt`);
        assert.equal(attempts, calls);
        return true;
      },
    );
  });

  test('throttling does not spend the failure budget', async () => {
    const clock = new FakeClock();
    let calls = 0;
    const out = await retry(
      async () => {
        if (++calls < 30) throw fail('Throttle');
        return calls;
      },
      { clock, classify: byName, budgetMs: 1_000, baseMs: 100, maxMs: 5_000, random: top },
    );
    assert.equal(out, 30);
    assert.ok(clock.t > 1_000, 'throttled for longer than the budget, and still retried');
  });

  test('maxAttempts bounds the calls, throttled ones included', async () => {
    const clock = new FakeClock();
    let calls = 0;
    await assert.rejects(
      retry(
        async () => {
          calls++;
          throw fail('Throttle');
        },
        { clock, classify: byName, maxAttempts: 3 },
      ),
      /Throttle/,
    );
    assert.equal(calls, 3);
  });

  test('a result that asks for another round is retried with backoff (unprocessed items)', async () => {
    const clock = new FakeClock();
    let left = 3;
    const out = await retry(async () => --left, { clock, classify: byName, again: (n) => n > 0, baseMs: 10, random: top });
    assert.equal(out, 0);
    assert.equal(clock.sleeps.length, 2);
  });

  test('onRetry hears every retry with its verdict, and only retries', async () => {
    const clock = new FakeClock();
    const heard: string[] = [];
    let calls = 0;
    await retry(
      async () => {
        calls++;
        if (calls === 1) throw fail('Throttle');
        if (calls === 2) throw fail('Transient');
        return 'ok';
      },
      { clock, classify: byName, onRetry: (e) => heard.push(`${e.verdict}:${(e.error as Error).name}:${e.attempt}`) },
    );
    assert.deepEqual(heard, ['throttled:Throttle:0', 'retry:Transient:1']);
  });

  test('an aborted signal ends the retries: resolves undefined, makes no further call', async () => {
    const clock = new FakeClock();
    const ac = new AbortController();
    let calls = 0;
    const out = await retry(
      async () => {
        calls++;
        ac.abort();
        throw fail('Transient');
      },
      { clock, classify: byName, signal: ac.signal },
    );
    assert.equal(out, undefined);
    assert.equal(calls, 1);
  });
});
