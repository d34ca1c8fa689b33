import type { ResolvedConfig } from '../../config/resolved-config.js';
import { clientsFor, type TableClients } from '../../aws/clients.js';
import { roleFor } from '../../aws/errors.js';
import { systemClock } from '../../core/clock.js';
import type { KeySchema } from '../../core/item.js';
import { RateLimiter } from '../../core/rate-limiter.js';
import { ItemMapper } from '../../core/transform.js';
import { driverFor } from '../../sinks/drivers.js';
import type { TargetReader } from '../../sinks/driver.js';
import type { Sink } from '../../sinks/sink.js';
import type { Logger } from '../logger.js';
import type { Plan } from '../plan.js';

/** What a run is made of once the plan passed: the config, what inspection found, the clients, open sinks, the mapper. */
export interface RunContext {
  config: ResolvedConfig;
  plan: Plan;
  sourceClients: Record<string, TableClients>;
  sourceKeys: Record<string, KeySchema>;
  /** The backfill's read budget per source, one for the whole run so that progress can report its state. */
  readLimiters: Record<string, RateLimiter>;
  sinks: Record<string, Sink & TargetReader>;
  mapper: ItemMapper;
}

/** Creates the targets the plan says are missing, opens a sink on each and a client on each source. */
export async function openRunContext(config: ResolvedConfig, plan: Plan, log: Logger): Promise<RunContext> {
  const sinks: Record<string, Sink & TargetReader> = {};
  const targetKeys: Record<string, KeySchema> = {};
  for (const [name, target] of Object.entries(config.targets)) {
    const t = plan.targets[name]!;
    const driver = await driverFor(target);
    if (t.willCreate) log.info({ target: name, table: target.table, kind: driver.kind }, 'creating target');
    await driver.prepare(name, target, t.inspection);
    targetKeys[name] = t.keySchema!;
    sinks[name] = driver.open(name, target, {
      keySchema: t.keySchema!,
      concurrency: config.write.concurrency,
      ...(config.guard ? { guard: config.guard } : {}),
      ...(config.write.maxWriteUnitsPerSecond ? { maxWriteUnitsPerSecond: config.write.maxWriteUnitsPerSecond } : {}),
    });
  }
  const sourceClients: Record<string, TableClients> = {};
  const sourceKeys: Record<string, KeySchema> = {};
  const readLimiters: Record<string, RateLimiter> = {};
  for (const [name, ref] of Object.entries(config.sources)) {
    sourceClients[name] = clientsFor(ref, roleFor('source', name, ref));
    sourceKeys[name] = plan.sources[name]!.keySchema!;
    readLimiters[name] = new RateLimiter(readCeiling({ config, plan }, name), systemClock);
  }
  const mapper = new ItemMapper({ transform: config.transform, targets: targetKeys, singleTarget: config.singleTarget });
  return { config, plan, sourceClients, sourceKeys, readLimiters, sinks, mapper };
}

/** The backfill's read budget on a source: the configured ceiling, else its share of provisioned capacity. */
export function readCeiling(ctx: Pick<RunContext, 'config' | 'plan'>, source: string): number {
  const { config } = ctx;
  const info = ctx.plan.sources[source]!;
  return (
    config.backfill.maxReadUnitsPerSecond ??
    (info.billingMode === 'PROVISIONED' && info.readCapacityUnits ? info.readCapacityUnits * config.backfill.readShare : Infinity)
  );
}
