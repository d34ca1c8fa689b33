import type { ResolvedConfig } from '../config/resolved-config.js';
import type { KeySchema } from '../core/item.js';
import { keyAttributeNames } from '../core/item.js';

/**
 * Whether a change can move an item to another target key. Then deletes need the OLD image: the new image alone
 * doesn't say which target item the previous version produced.
 */
export function keyCanMove(config: ResolvedConfig, sourceKey: KeySchema, targetKeys: KeySchema[]): boolean {
  if (config.transform) return true;
  const sourceNames = new Set(keyAttributeNames(sourceKey));
  return targetKeys.some((k) => keyAttributeNames(k).some((n) => !sourceNames.has(n)));
}
