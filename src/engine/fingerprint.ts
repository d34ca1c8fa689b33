import { createHash } from 'node:crypto';
import type { ResolvedConfig } from '../config/resolved-config.js';
import { strategyFor } from './strategies/registry.js';

/** The parts of a config that checkpoints depend on; resuming with a different one is refused. */
export function fingerprint(config: ResolvedConfig): string {
  const shape = {
    sources: Object.fromEntries(Object.entries(config.sources).map(([n, s]) => [n, [s.table, s.region ?? '', s.endpoint ?? '']])),
    targets: Object.fromEntries(Object.entries(config.targets).map(([n, t]) => [n, [t.kind ?? 'dynamodb', t.table, t.region ?? '', t.endpoint ?? '', t.postgres?.schema ?? '']])),
    backfill: [config.backfill.strategy, strategyFor(config.backfill.strategy).fingerprint(config)],
  };
  return createHash('sha256').update(JSON.stringify(shape)).digest('hex').slice(0, 16);
}
