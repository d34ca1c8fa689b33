/**
 * Capacity-unit budget shared by every worker of one table. Workers pay *after* each request with the capacity the
 * service reports consumed (so the budget tracks what DynamoDB actually charged), and wait while the budget is in debt.
 * Throttling halves the rate (multiplicative decrease); each quiet second adds back 5% of the ceiling (additive
 * increase) — the AIMD loop TCP uses, which settles just under what the table can take.
 */
export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export class RateLimiter {
  private balance: number;
  private last: number;
  private rate: number;
  private lastThrottleAt = -Infinity;

  /** @param ceiling units per second at most; Infinity for no limit (throttling still slows it down). */
  constructor(
    private readonly ceiling: number,
    private readonly clock: Clock,
    private readonly minRate = 1,
  ) {
    this.rate = ceiling;
    this.balance = Number.isFinite(ceiling) ? ceiling : 0;
    this.last = clock.now();
  }

  get currentRate(): number {
    return this.rate;
  }

  /** The configured most units per second (Infinity: none); the rate returns to it after throttling. */
  get maxRate(): number {
    return this.ceiling;
  }

  /** Records `units` consumed and waits while the budget is overdrawn. */
  async consume(units: number, signal?: AbortSignal): Promise<void> {
    if (!Number.isFinite(this.rate)) return;
    this.refill();
    this.balance -= units;
    while (this.balance < 0 && !signal?.aborted) {
      await this.clock.sleep(Math.min(1000, Math.ceil((-this.balance / this.rate) * 1000)), signal);
      this.refill();
    }
  }

  /** A throttling signal: halve the rate from what was being achieved. `observedRate` seeds an unlimited limiter. */
  throttled(observedRate?: number): void {
    const now = this.clock.now();
    if (now - this.lastThrottleAt < 1000) return; // one cut per second: a burst of throttles is one event
    this.lastThrottleAt = now;
    this.refill();
    const base = Number.isFinite(this.rate) ? this.rate : Math.max(this.minRate, observedRate ?? this.minRate * 100);
    this.rate = Math.max(this.minRate, base / 2);
    this.balance = Math.min(this.balance, 0);
  }

  private refill(): void {
    const now = this.clock.now();
    const elapsed = Math.max(0, now - this.last) / 1000;
    this.last = now;
    if (!Number.isFinite(this.rate)) return;
    if (now - this.lastThrottleAt > 1000 && this.rate < this.ceiling) {
      const ceiling = Number.isFinite(this.ceiling) ? this.ceiling : Infinity;
      const step = Number.isFinite(ceiling) ? ceiling * 0.05 : this.rate * 0.05;
      this.rate = Math.min(ceiling, this.rate + step * elapsed);
    }
    // Burst of at most one second's worth, so an idle period doesn't bank a spike.
    this.balance = Math.min(this.rate, this.balance + this.rate * elapsed);
  }
}

/** Measures a rate (units per second) over a sliding window, for reports and to seed throttling. */
export class RateMeter {
  private events: { at: number; units: number }[] = [];
  constructor(
    private readonly clock: { now(): number },
    private readonly windowMs = 10_000,
  ) {}

  add(units: number): void {
    this.events.push({ at: this.clock.now(), units });
    this.trim();
  }

  perSecond(): number {
    this.trim();
    if (this.events.length === 0) return 0;
    const span = Math.max(1000, this.clock.now() - this.events[0]!.at);
    return (this.events.reduce((n, e) => n + e.units, 0) / span) * 1000;
  }

  private trim(): void {
    const cutoff = this.clock.now() - this.windowMs;
    let i = 0;
    while (i < this.events.length && this.events[i]!.at < cutoff) i++;
    if (i > 0) this.events.splice(0, i);
  }
}
