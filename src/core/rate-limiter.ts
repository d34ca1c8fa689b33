/**
 * Capacity-unit budget shared by every worker of one table. Workers pay *after* each request with the capacity the
 * service reports consumed (so the budget tracks what DynamoDB actually charged), and wait while the budget is in debt.
 *
 * Only throttling slows it down (callers tell throttling from other failures: aws/aws-retry.ts). A throttle halves the
 * rate, at most once a second; once throttling stops, the rate climbs back by a quarter of the level it recovers to per
 * quiet second — from half to full in about two seconds. That level is the configured ceiling or, with none, the rate
 * the table was taking when it pushed back; an unlimited limiter that has been back there for a few quiet seconds is
 * unlimited again. A one-off throttle therefore costs seconds, not the run (a 503 used to cost minutes).
 */
export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** Share of the recovery level regained per quiet second. */
const RECOVERY_PER_SECOND = 0.25;
/** An unlimited limiter drops its limit after this long at the recovered level without a throttle. */
const UNLIMIT_AFTER_QUIET_MS = 5_000;

export class RateLimiter {
  private balance: number;
  private last: number;
  private rate: number;
  private lastThrottleAt = -Infinity;
  /** The level recovery aims for: the configured ceiling, or the rate achieved when the table last pushed back. */
  private recoverTo: number;

  /** @param ceiling units per second at most; Infinity for no limit (throttling still slows it down). */
  constructor(
    private readonly ceiling: number,
    private readonly clock: Clock,
    private readonly minRate = 1,
  ) {
    this.rate = ceiling;
    this.recoverTo = ceiling;
    this.balance = Number.isFinite(ceiling) ? ceiling : 0;
    this.last = clock.now();
  }

  /** The rate as of the last consume() or throttled(). */
  get currentRate(): number {
    return this.rate;
  }

  /** The configured most units per second (Infinity: none); the rate returns to it after throttling. */
  get maxRate(): number {
    return this.ceiling;
  }

  /** Records `units` consumed and waits while the budget is overdrawn. */
  async consume(units: number, signal?: AbortSignal): Promise<void> {
    this.refill();
    if (!Number.isFinite(this.rate)) return;
    this.balance -= units;
    while (this.balance < 0 && !signal?.aborted) {
      await this.clock.sleep(Math.min(1000, Math.ceil((-this.balance / this.rate) * 1000)), signal);
      this.refill();
      if (!Number.isFinite(this.rate)) return;
    }
  }

  /**
   * The service throttled a request: halve the rate. `observedRate` (what was being achieved) seeds an unlimited
   * limiter and is the level it recovers to. Call this for throttling only — never for 5xx errors or timeouts.
   */
  throttled(observedRate?: number): void {
    const now = this.clock.now();
    if (now - this.lastThrottleAt < 1000) return; // one cut per second: a burst of throttles is one event
    this.refill();
    this.lastThrottleAt = now;
    const achieved = observedRate !== undefined && observedRate > 0 ? observedRate : undefined;
    const base = Number.isFinite(this.rate) ? this.rate : Math.max(this.minRate, achieved ?? this.minRate * 100);
    if (!Number.isFinite(this.ceiling)) this.recoverTo = Math.max(this.minRate, achieved ?? base);
    this.rate = Math.max(this.minRate, base / 2);
    this.balance = Math.min(this.balance, 0);
  }

  private refill(): void {
    const now = this.clock.now();
    const elapsed = Math.max(0, now - this.last) / 1000;
    this.last = now;
    if (!Number.isFinite(this.rate)) return;
    const quietFor = now - this.lastThrottleAt - 1000;
    if (quietFor > 0 && this.rate < this.recoverTo) {
      const quietSeconds = Math.min(elapsed, quietFor / 1000);
      this.rate = Math.min(this.recoverTo, this.rate + this.recoverTo * RECOVERY_PER_SECOND * quietSeconds);
    }
    if (!Number.isFinite(this.ceiling) && this.rate >= this.recoverTo && quietFor >= UNLIMIT_AFTER_QUIET_MS) {
      this.rate = Infinity;
      this.recoverTo = Infinity;
      this.balance = 0;
      return;
    }
    // Burst of at most one second's worth, so an idle period doesn't bank a spike.
    this.balance = Math.min(this.rate, this.balance + this.rate * elapsed);
  }
}

/**
 * Measures a rate (units per second) over a sliding window, for reports and to seed throttling. Called once per write
 * batch and per page, so adding is O(1): expired events are passed over by an index and dropped in bulk, and the sum
 * is kept as events come and go (a splice from the front per call was 0.5% of a backfill's CPU).
 */
export class RateMeter {
  private events: { at: number; units: number }[] = [];
  private head = 0;
  private total = 0;
  constructor(
    private readonly clock: { now(): number },
    private readonly windowMs = 10_000,
  ) {}

  add(units: number): void {
    this.events.push({ at: this.clock.now(), units });
    this.total += units;
    this.trim();
  }

  perSecond(): number {
    this.trim();
    if (this.head === this.events.length) return 0;
    const span = Math.max(1000, this.clock.now() - this.events[this.head]!.at);
    return (this.total / span) * 1000;
  }

  private trim(): void {
    const cutoff = this.clock.now() - this.windowMs;
    const events = this.events;
    while (this.head < events.length && events[this.head]!.at < cutoff) this.total -= events[this.head++]!.units;
    if (this.head === events.length) {
      this.events = [];
      this.head = 0;
      this.total = 0; // no float drift survives an empty window
    } else if (this.head > 1024 && this.head * 2 > events.length) {
      this.events = events.slice(this.head);
      this.head = 0;
    }
  }
}

/**
 * One table's capacity budget as its users pay into it: units consumed after each request (waiting while the budget is
 * overdrawn), and throttles. A sink or a scan in a backfill worker thread gets one that pays the main thread's budget by
 * message (engine/workers/), so every thread draws on the one budget per table.
 */
export interface UnitBudget {
  spend(units: number, signal?: AbortSignal): Promise<void>;
  throttled(): void;
  /** No ceiling and no throttle in effect as of the last spend: spending does not wait now. */
  unlimited(): boolean;
}

/** The budget of a limiter in this thread; `meter` measures the rate achieved, which seeds the limiter on a throttle. */
export function localBudget(limiter: RateLimiter, meter: RateMeter): UnitBudget {
  return {
    spend: (units, signal) => {
      meter.add(units);
      return limiter.consume(units, signal);
    },
    throttled: () => limiter.throttled(meter.perSecond()),
    unlimited: () => !Number.isFinite(limiter.currentRate),
  };
}
