import type { BackfillStrategy, BackfillStrategyName } from './backfill-strategy.js';
import { exportStrategy } from './export-strategy.js';
import { noneStrategy } from './none-strategy.js';
import { scanStrategy } from './scan-strategy.js';
import { touchStrategy } from './touch-strategy.js';

export type { BackfillStrategy, BackfillStrategyName };

/** Every backfill strategy, by the name the config and the state use. The only place that maps names to behaviour. */
export const BACKFILL_STRATEGIES: Readonly<Record<BackfillStrategyName, BackfillStrategy>> = {
  scan: scanStrategy,
  export: exportStrategy,
  touch: touchStrategy,
  none: noneStrategy,
};

export function strategyFor(name: BackfillStrategyName): BackfillStrategy {
  return BACKFILL_STRATEGIES[name];
}

/** The strategies the AWS runner (Step Functions + Lambda) implements. */
export const AWS_RUNNER_STRATEGIES = (Object.values(BACKFILL_STRATEGIES) as BackfillStrategy[])
  .filter((s) => s.awsRunner !== undefined)
  .map((s) => s.name);
