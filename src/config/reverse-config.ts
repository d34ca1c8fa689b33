import { DynashiftError } from '../errors.js';
import type { ResolvedConfig } from './resolved-config.js';

/**
 * The rollback direction as a config of its own: the target becomes the source and the inverse transform maps it
 * back. `verify --reverse` compares inverse(target) with the source through the same code as the forward direction.
 */
export function reverseConfig(config: ResolvedConfig): ResolvedConfig {
  if (!config.inverseTransform) {
    throw new DynashiftError('CONFIG_INVALID', 'the reverse direction needs "inverseTransform" in the config', {
      hint: 'add inverseTransform (target item → source item), as rollback requires', exitCode: 2,
    });
  }
  const sources = Object.entries(config.sources);
  const targets = Object.entries(config.targets);
  if (sources.length !== 1 || targets.length !== 1 || (targets[0]![1].kind ?? 'dynamodb') !== 'dynamodb') {
    throw new DynashiftError('CONFIG_INVALID', 'the reverse direction exists only for one source and one DynamoDB target', {
      hint: 'verify forward instead', exitCode: 2,
    });
  }
  const [sourceName, source] = sources[0]!;
  const [targetName, target] = targets[0]!;
  const { kind: _k, create: _c, keySchema: _ks, postgres: _p, maxBatchSize: _m, ...targetRef } = target;
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
