import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RateLimiter, RateMeter, type Clock } from '../../src/core/rate-limiter.js';
import { backoffDelay, sleep } from '../../src/core/backoff.js';
import { Semaphore } from '../../src/core/semaphore.js';

/** A clock whose sleep advances fake time at once, and records each wait. */
class FakeClock implements Clock {
  t = 1_000_000;
  sleeps: number[] = [];
  now(): number {
    return this.t;
  }
  async sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    this.t += ms;
  }
  advance(ms: number): void {
    this.t += ms;
  }
  get slept(): number {
    return this.sleeps.reduce((a, b) => a + b, 0);
  }
}

describe('RateLimiter', () => {
  test('consume() does not wait while within the initial one-second budget', async () => {
    const clock = new FakeClock();
    const rl = new RateLimiter(100, clock);
    await rl.consume(60);
    await rl.consume(40);
    assert.deepEqual(clock.sleeps, []);
  });

  test('consume() waits when the budget is overdrawn, long enough to pay the debt at the current rate', async () => {
    const clock = new FakeClock();
    const rl = new RateLimiter(100, clock);
    await rl.consume(100);
    const before = clock.now();
    await rl.consume(50);
    const waited = clock.now() - before;
    assert.ok(waited >= 500 && waited <= 520, `waited ${waited} ms for 50 units at 100/s`);
  });

  test('a single wait is at most one second (so aborts and rate changes are noticed)', async () => {
    const clock = new FakeClock();
    const rl = new RateLimiter(10, clock);
    await rl.consume(10);
    await rl.consume(50); // 5 s of debt
    assert.ok(clock.sleeps.length >= 5);
    assert.ok(
      clock.sleeps.every((ms) => ms <= 1000),
      `sleeps ${clock.sleeps.join(',')}`,
    );
    assert.ok(clock.slept >= 5000 && clock.slept <= 5100, `slept ${clock.slept}`);
  });

  test('the ceiling is respected over a simulated minute (±10%)', async () => {
    const clock = new FakeClock();
    const ceiling = 200;
    const rl = new RateLimiter(ceiling, clock);
    const start = clock.now();
    let consumed = 0;
    while (clock.now() - start < 60_000) {
      await rl.consume(7);
      consumed += 7;
    }
    const elapsed = (clock.now() - start) / 1000;
    const rate = consumed / elapsed;
    assert.ok(Math.abs(rate - ceiling) <= ceiling * 0.1, `achieved ${rate.toFixed(1)} units/s against a ceiling of ${ceiling}`);
  });

  test('an idle period banks at most one second of budget (no spike after idling)', async () => {
    const clock = new FakeClock();
    const rl = new RateLimiter(100, clock);
    await rl.consume(100);
    clock.advance(60_000);
    await rl.consume(100);
    assert.deepEqual(clock.sleeps, []);
    await rl.consume(100);
    assert.ok(clock.slept >= 1000, `slept ${clock.slept}`);
  });

  test('throttled() halves the rate', () => {
    const clock = new FakeClock();
    const rl = new RateLimiter(1000, clock);
    assert.equal(rl.currentRate, 1000);
    rl.throttled();
    assert.equal(rl.currentRate, 500);
  });

  test('throttled() cuts at most once per second: a burst of throttles is one event', () => {
    const clock = new FakeClock();
    const rl = new RateLimiter(1000, clock);
    rl.throttled();
    clock.advance(10);
    rl.throttled();
    clock.advance(500);
    rl.throttled();
    clock.advance(400);
    rl.throttled();
    assert.equal(rl.currentRate, 500);
    clock.advance(200); // 1110 ms after the first cut: 110 ms of recovery (25% of 1000 per second), then halved
    rl.throttled();
    assert.equal(rl.currentRate, (500 + 1000 * 0.25 * 0.11) / 2);
  });

  test('throttled() empties the burst budget so the next consume waits', async () => {
    const clock = new FakeClock();
    const rl = new RateLimiter(100, clock);
    rl.throttled();
    await rl.consume(10);
    assert.ok(clock.slept > 0, 'waited after a throttle');
  });

  test('the rate never drops below minRate', () => {
    const clock = new FakeClock();
    const rl = new RateLimiter(16, clock, 5);
    for (let i = 0; i < 10; i++) {
      rl.throttled();
      clock.advance(1001);
    }
    assert.equal(rl.currentRate, 5);
  });

  test('once throttling stops, the rate is back at the configured ceiling within 3 seconds', async () => {
    const clock = new FakeClock();
    const rl = new RateLimiter(1000, clock);
    rl.throttled();
    assert.equal(rl.currentRate, 500);
    clock.advance(1000); // the second after a cut does not recover: a burst of throttles is one event
    await rl.consume(1);
    assert.equal(rl.currentRate, 500);
    clock.advance(1000);
    await rl.consume(1);
    assert.equal(rl.currentRate, 750); // a quarter of the ceiling per quiet second
    clock.advance(1000);
    await rl.consume(1);
    assert.equal(rl.currentRate, 1000);
    clock.advance(60_000);
    await rl.consume(1);
    assert.equal(rl.currentRate, 1000, 'never above the ceiling');
  });

  test('even from minRate, the rate is back at the ceiling within 6 seconds of the last throttle', async () => {
    const clock = new FakeClock();
    const rl = new RateLimiter(1000, clock);
    for (let i = 0; i < 12; i++) {
      rl.throttled();
      clock.advance(1000);
    }
    assert.equal(rl.currentRate, 1);
    for (let s = 0; s < 5; s++) {
      clock.advance(1000);
      await rl.consume(0);
    }
    assert.equal(rl.currentRate, 1000);
  });

  test('an Infinity ceiling never waits until throttled', async () => {
    const clock = new FakeClock();
    const rl = new RateLimiter(Infinity, clock);
    for (let i = 0; i < 1000; i++) await rl.consume(1_000_000);
    assert.deepEqual(clock.sleeps, []);
    assert.equal(rl.currentRate, Infinity);
  });

  test('an Infinity ceiling, once throttled, limits to half the observed rate and then waits', async () => {
    const clock = new FakeClock();
    const rl = new RateLimiter(Infinity, clock);
    rl.throttled(400);
    assert.equal(rl.currentRate, 200);
    await rl.consume(200);
    assert.ok(clock.slept >= 900, `slept ${clock.slept}`);
  });

  test('an Infinity ceiling throttled without an observed rate starts from minRate × 100 / 2', () => {
    const rl = new RateLimiter(Infinity, new FakeClock(), 2);
    rl.throttled();
    assert.equal(rl.currentRate, 100);
  });

  test('an Infinity ceiling recovers to the rate observed when throttled within seconds, then is unlimited again', async () => {
    const clock = new FakeClock();
    const rl = new RateLimiter(Infinity, clock);
    rl.throttled(1000);
    assert.equal(rl.currentRate, 500);
    clock.advance(3000);
    await rl.consume(1);
    assert.equal(rl.currentRate, 1000, 'back at the observed rate 3 s after the throttle');
    clock.advance(5000);
    await rl.consume(1);
    assert.equal(rl.currentRate, Infinity, 'unlimited again after quiet seconds at that rate');
    clock.sleeps = [];
    for (let i = 0; i < 100; i++) await rl.consume(1_000_000);
    assert.deepEqual(clock.sleeps, [], 'no waiting once unlimited again');
  });

  test('an aborted signal stops the wait', async () => {
    const clock = new FakeClock();
    const rl = new RateLimiter(1, clock);
    const ac = new AbortController();
    ac.abort();
    await rl.consume(1_000_000, ac.signal);
    assert.ok(clock.slept === 0, `slept ${clock.slept}`);
  });
});

describe('RateMeter', () => {
  test('reports 0 when nothing was recorded', () => {
    assert.equal(new RateMeter(new FakeClock()).perSecond(), 0);
  });

  test('measures units per second over the span of the recorded events', () => {
    const clock = new FakeClock();
    const m = new RateMeter(clock, 10_000);
    m.add(100);
    clock.advance(5_000);
    m.add(100);
    assert.equal(m.perSecond(), 40); // 200 units over 5 s
  });

  test('a burst inside one second is measured over at least one second', () => {
    const clock = new FakeClock();
    const m = new RateMeter(clock, 10_000);
    m.add(50);
    m.add(50);
    assert.equal(m.perSecond(), 100);
  });

  test('events older than the window drop out', () => {
    const clock = new FakeClock();
    const m = new RateMeter(clock, 10_000);
    m.add(1_000);
    clock.advance(5_000);
    m.add(100);
    clock.advance(7_000); // the first event is now 12 s old
    const r = m.perSecond();
    assert.ok(Math.abs(r - 100 / 7) < 1e-9, `rate ${r}`);
    clock.advance(20_000);
    assert.equal(m.perSecond(), 0);
  });

  test('over thousands of events, with expired ones dropped in bulk, the rate equals the window recomputed from scratch', () => {
    const clock = new FakeClock();
    const m = new RateMeter(clock, 10_000);
    const all: { at: number; units: number }[] = [];
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    for (let i = 0; i < 20_000; i++) {
      clock.advance(next() % 7); // ~3 ms apart: a window holds ~3,300 events, as a sink's does in a fast backfill
      const units = (next() % 50) + 1;
      m.add(units);
      all.push({ at: clock.now(), units });
      if (i % 997 === 0) {
        const live = all.filter((e) => e.at >= clock.now() - 10_000);
        const want = (live.reduce((n, e) => n + e.units, 0) / Math.max(1000, clock.now() - live[0]!.at)) * 1000;
        assert.equal(m.perSecond(), want, `event ${i}`);
      }
    }
  });
});

describe('backoffDelay', () => {
  test('grows exponentially from the base and is capped at the maximum', () => {
    const top = () => 0.999999;
    assert.equal(backoffDelay(0, 50, 5000, top), 49);
    assert.equal(backoffDelay(1, 50, 5000, top), 99);
    assert.equal(backoffDelay(3, 50, 5000, top), 399);
    assert.equal(backoffDelay(20, 50, 5000, top), 4999);
    assert.equal(backoffDelay(10_000, 50, 5000, top), 4999);
  });

  test('full jitter: the delay spans 0 up to the cap', () => {
    assert.equal(
      backoffDelay(5, 50, 5000, () => 0),
      0,
    );
    const d = backoffDelay(2, 50, 5000, () => 0.5);
    assert.equal(d, 100);
  });
});

describe('sleep', () => {
  test('resolves at once for a non-positive delay or an aborted signal', async () => {
    const t0 = Date.now();
    await sleep(0);
    const ac = new AbortController();
    ac.abort();
    await sleep(10_000, ac.signal);
    assert.ok(Date.now() - t0 < 500);
  });

  test('an abort during the wait resolves it early without throwing', async () => {
    const ac = new AbortController();
    const t0 = Date.now();
    setTimeout(() => ac.abort(), 10);
    await sleep(10_000, ac.signal);
    assert.ok(Date.now() - t0 < 1000);
  });
});

describe('Semaphore', () => {
  test('never runs more tasks at once than its limit, and runs them all', async () => {
    const sem = new Semaphore(3);
    let active = 0;
    let peak = 0;
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        sem.run(async () => {
          active++;
          peak = Math.max(peak, active);
          await new Promise((r) => setTimeout(r, 1));
          active--;
          return i;
        }),
      ),
    );
    assert.equal(peak, 3);
    assert.deepEqual(
      results,
      Array.from({ length: 20 }, (_, i) => i),
    );
  });

  test('a released permit goes to the waiter it wakes: a caller arriving meanwhile cannot barge in above the limit', async () => {
    const sem = new Semaphore(1);
    let active = 0;
    let peak = 0;
    const started: string[] = [];
    const task = (name: string, until?: Promise<void>) => async () => {
      active++;
      peak = Math.max(peak, active);
      started.push(name);
      await until;
      active--;
    };
    let releaseFirst!: () => void;
    const first = sem.run(task('first', new Promise<void>((r) => (releaseFirst = r))));
    const waiter = sem.run(task('waiter'));
    await Promise.resolve();
    releaseFirst();
    // Newcomers arrive one microtask apart while the permit passes from `first` to `waiter`.
    const newcomers: Promise<void>[] = [];
    for (let i = 0; i < 5; i++) {
      newcomers.push(sem.run(task(`newcomer${i}`)));
      await null;
    }
    await Promise.all([first, waiter, ...newcomers]);
    assert.equal(peak, 1, 'never more tasks in flight than the limit');
    assert.deepEqual(started, ['first', 'waiter', 'newcomer0', 'newcomer1', 'newcomer2', 'newcomer3', 'newcomer4'], 'first come, first served');
  });

  test('a failing task frees its slot', async () => {
    const sem = new Semaphore(1);
    await assert.rejects(
      sem.run(async () => {
        throw new Error('x');
      }),
      /x/,
    );
    assert.equal(await sem.run(async () => 'ok'), 'ok');
  });

  test('a freed slot goes to the waiter, not to a caller arriving at that moment: never over the limit', async () => {
    const sem = new Semaphore(1);
    let active = 0;
    let peak = 0;
    const order: string[] = [];
    const task = (name: string) => async () => {
      active++;
      peak = Math.max(peak, active);
      order.push(name);
      await new Promise((r) => setTimeout(r, 1));
      active--;
    };
    const first = sem.run(task('first'));
    const waiter = sem.run(task('waiter'));
    await first;
    // The slot was handed to `waiter` as `first` ended; a newcomer now must queue behind it.
    const late = sem.run(task('late'));
    await Promise.all([waiter, late]);
    assert.equal(peak, 1);
    assert.deepEqual(order, ['first', 'waiter', 'late']);
  });

  test('urgent waiters (change records) are served before earlier normal ones (backfill pages), each kind in order', async () => {
    const sem = new Semaphore(1);
    const order: string[] = [];
    const task = (name: string) => async () => {
      order.push(name);
      await new Promise((r) => setTimeout(r, 1));
    };
    const running = sem.run(task('running'));
    const queued = [
      sem.run(task('backfill-1')),
      sem.run(task('backfill-2')),
      sem.run(task('stream-1'), { urgent: true }),
      sem.run(task('stream-2'), { urgent: true }),
    ];
    await Promise.all([running, ...queued]);
    assert.deepEqual(order, ['running', 'stream-1', 'stream-2', 'backfill-1', 'backfill-2']);
  });
});
