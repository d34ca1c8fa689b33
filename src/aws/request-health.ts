/**
 * What went wrong with requests the SDK (or dynashift) retried, per side and operation: counted always, and reported
 * as a warning for everything but throttling. A retried 503 is invisible in throughput figures, so without this a
 * struggling endpoint shows up as nothing but a slow run; a server that stops answering shows up as a timeout warning
 * after the client's request timeout.
 *
 * SDK clients are built in many places (aws/clients.ts is the one factory), so the reporter is one per process; the
 * CLI hands it its logger. Warnings are rate-limited per (side, operation, error): at most one every `WARN_EVERY_MS`,
 * carrying how many occurred since the last one.
 */
export interface RequestFailure {
  /** source, target, state — or the table name when the client was built without a side. */
  side: string;
  /** The config path of the table (`targets.<name>`, `sources.<name>`) when it says more than the side. */
  setting?: string;
  table: string;
  operation: string;
  /** The error's name (service error code) or Node's socket error code. */
  error: string;
  status?: number;
  throttled: boolean;
  timeout: boolean;
}

interface WarnLogger {
  warn(obj: object, msg?: string): void;
}

export interface FailureCount {
  side: string;
  operation: string;
  error: string;
  throttled: boolean;
  count: number;
}

const WARN_EVERY_MS = 10_000;

export class RequestHealth {
  private log: WarnLogger | undefined;
  private readonly counts = new Map<string, FailureCount>();
  private readonly warned = new Map<string, { at: number; unreported: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Where warnings go; undefined to stop reporting (counting goes on). */
  setLogger(log: WarnLogger | undefined): void {
    this.log = log;
  }

  record(f: RequestFailure): void {
    const key = `${f.side}\u0000${f.operation}\u0000${f.error}`;
    const c = this.counts.get(key) ?? { side: f.side, operation: f.operation, error: f.error, throttled: f.throttled, count: 0 };
    c.count++;
    this.counts.set(key, c);
    if (f.throttled) return; // the rate limiter answers throttling; it is not a fault
    const w = this.warned.get(key) ?? { at: -Infinity, unreported: 0 };
    w.unreported++;
    this.warned.set(key, w);
    const now = this.now();
    if (now - w.at < WARN_EVERY_MS) return;
    const where = f.setting && f.setting !== f.side ? `${f.side} (${f.setting})` : f.side;
    const msg = f.timeout
      ? `${where}: ${f.operation} got no answer within the request timeout; retrying`
      : `${where}: ${f.operation} failed with ${f.error}${f.status ? ` (HTTP ${f.status})` : ''}; retrying`;
    this.log?.warn(
      {
        side: f.side,
        ...(f.setting ? { setting: f.setting } : {}),
        table: f.table,
        operation: f.operation,
        error: f.error,
        ...(f.status ? { status: f.status } : {}),
        occurrences: w.unreported,
        total: c.count,
      },
      msg,
    );
    w.at = now;
    w.unreported = 0;
  }

  /** Every failure counted so far, by side, operation and error. */
  snapshot(): FailureCount[] {
    return [...this.counts.values()].map((c) => ({ ...c }));
  }

  /** Failures that were not throttling, in total. */
  get failures(): number {
    let n = 0;
    for (const c of this.counts.values()) if (!c.throttled) n += c.count;
    return n;
  }

  get throttles(): number {
    let n = 0;
    for (const c of this.counts.values()) if (c.throttled) n += c.count;
    return n;
  }
}

export const requestHealth = new RequestHealth();
