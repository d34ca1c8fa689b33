import { createHash } from 'node:crypto';
import type { ResolvedConfig } from '../config/resolved-config.js';
import { driverFor } from '../sinks/drivers.js';

/** The parts of a config that checkpoints depend on; resuming with a different one is refused. */
export function fingerprint(config: ResolvedConfig): string {
  const shape = {
    sources: Object.fromEntries(Object.entries(config.sources).map(([n, s]) => [n, [s.table, s.region ?? '', s.endpoint ?? '']])),
    targets: Object.fromEntries(Object.entries(config.targets).map(([n, t]) => [n, targetLocation(t)])),
    backfill: [config.backfill.strategy, config.backfill.strategy === 'export' ? (config.backfill.export?.uri ?? config.backfill.export?.start?.s3Bucket ?? '') : config.backfill.segments],
  };
  return createHash('sha256').update(JSON.stringify(shape)).digest('hex').slice(0, 16);
}

/** [kind, …where the driver says the target lives]; unchanged in shape so existing checkpoints keep their fingerprint. */
function targetLocation(target: ResolvedConfig['targets'][string]): string[] {
  const driver = driverFor(target);
  return [driver.kind, ...(driver.location?.(target) ?? [target.table, target.region ?? '', target.endpoint ?? '', ''])];
}
