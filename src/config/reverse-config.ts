import { DynashiftError } from '../errors.js';
import type { ResolvedConfig } from './resolved-config.js';
import type { TableRefConfig } from './schema.js';

/**
 * The rollback direction as a config of its own: the target becomes the source and the inverse transform maps it
 * back. `verify --reverse` compares inverse(target) with the source through the same code as the forward direction.
 */
export function reverseConfig(config: ResolvedConfig): ResolvedConfig {
  if (!config.inverseTransform) {
    throw new DynashiftError('CONFIG_INVALID', 'the reverse direction needs "inverseTransform" in the config', {
      hint: 'add inverseTransform (target item → source item), as rollback requires',
      exitCode: 2,
    });
  }
  const sources = Object.entries(config.sources);
  const targets = Object.entries(config.targets);
  if (sources.length !== 1 || targets.length !== 1 || (targets[0]![1].kind ?? 'dynamodb') !== 'dynamodb') {
    throw new DynashiftError('CONFIG_INVALID', 'the reverse direction exists only for one source and one DynamoDB target', {
      hint: 'verify forward instead',
      exitCode: 2,
    });
  }
  const [sourceName, source] = sources[0]!;
  const [targetName, target] = targets[0]!;
  // Only where the table lives: the target's own sink settings mean nothing for it as a source.
  const targetRef: TableRefConfig = Object.fromEntries(
    (['table', 'region', 'endpoint', 'profile', 'roleArn', 'externalId'] as const).filter((k) => target[k] !== undefined).map((k) => [k, target[k]]),
  ) as TableRefConfig;
  return {
    ...config,
    name: `${config.name}-reverse`,
    sources: { [targetName]: targetRef },
    targets: { [sourceName]: { ...source, kind: 'dynamodb', create: false } },
    singleTarget: sourceName,
    transform: config.inverseTransform,
    transformSource: 'inverseTransform',
    inverseTransform: config.transform,
  };
}
