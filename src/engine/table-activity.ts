import type { TableClients } from '../aws/clients.js';
import type { RateLimiter } from '../core/rate-limiter.js';
import type { Sink } from '../sinks/sink.js';
import type { MigrationState, TableActivity } from '../state/migration-state.js';
import type { RunContext } from './run/run-context.js';

/**
 * The monitoring view of every table a run talks to, built from counters the clients and sinks already keep: read
 * sides from the source clients and their read budgets, write sides from each sink's activity().
 */
export function tableActivity(input: {
  sources: Record<string, { table: string; clients: TableClients; readLimiter?: RateLimiter | undefined }>;
  targets: Record<string, { table: string; sink: Sink }>;
}): TableActivity[] {
  const out: TableActivity[] = [];
  for (const [name, s] of Object.entries(input.sources)) {
    const { requests, throttles, retries } = s.clients.calls;
    out.push({
      side: 'source',
      name,
      table: s.table,
      requests,
      throttles,
      retries,
      rateLimits: s.readLimiter ? [{ kind: 'read', unitsPerSecond: finite(s.readLimiter.currentRate), ceiling: finite(s.readLimiter.maxRate) }] : [],
    });
  }
  for (const [name, t] of Object.entries(input.targets)) {
    const a = t.sink.activity?.();
    if (!a) continue;
    out.push({
      side: 'target',
      name,
      table: t.table,
      requests: a.requests,
      throttles: a.throttles,
      retries: a.retries,
      writesInFlight: a.writesInFlight,
      rateLimits: a.rateLimit ? [{ kind: 'write', unitsPerSecond: finite(a.rateLimit.unitsPerSecond), ceiling: finite(a.rateLimit.ceiling) }] : [],
    });
  }
  return out;
}

/** The activity of a run's tables: its sources (clients, read budgets) and its targets (sinks). */
export function runActivity(ctx: RunContext, state: MigrationState): TableActivity[] {
  return tableActivity({
    sources: Object.fromEntries(
      Object.entries(ctx.sourceClients).map(([name, clients]) => [
        name,
        { table: state.sources[name]?.table ?? '', clients, readLimiter: ctx.readLimiters[name] },
      ]),
    ),
    targets: Object.fromEntries(Object.entries(ctx.sinks).map(([name, sink]) => [name, { table: ctx.config.targets[name]!.table, sink }])),
  });
}

function finite(n: number): number | null {
  return Number.isFinite(n) ? n : null;
}
