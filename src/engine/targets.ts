import type { ResolvedConfig } from '../config/resolved-config.js';
import type { KeySchema } from '../core/item.js';
import { keyAttributeNames } from '../core/item.js';
import { targetTableSpec, type TableSpec } from '../sinks/dynamodb/table-spec.js';
import type { TableInfo } from './inspect.js';

/** The key schema each target will have: the existing table's, else the one dynashift creates. */
export function resolveTargetSpecs(
  config: ResolvedConfig,
  sourceInfos: Record<string, TableInfo>,
  targetInfos: Record<string, TableInfo>,
): Record<string, { spec: TableSpec; keySchema: KeySchema; exists: boolean }> {
  const firstSource = Object.values(sourceInfos).find((s) => s.exists);
  const out: Record<string, { spec: TableSpec; keySchema: KeySchema; exists: boolean }> = {};
  for (const [name, target] of Object.entries(config.targets)) {
    const info = targetInfos[name];
    const spec = targetTableSpec(firstSource, target.create === false ? undefined : target.create);
    const keySchema = info?.exists && info.keySchema ? info.keySchema : spec.keySchema;
    out[name] = { spec, keySchema, exists: info?.exists === true };
  }
  return out;
}

/**
 * Whether a change can move an item to another target key. Then deletes need the OLD image: the new image alone
 * doesn't say which target item the previous version produced.
 */
export function keyCanMove(config: ResolvedConfig, sourceKey: KeySchema, targetKeys: KeySchema[]): boolean {
  if (config.transform) return true;
  const sourceNames = new Set(keyAttributeNames(sourceKey));
  return targetKeys.some((k) => keyAttributeNames(k).some((n) => !sourceNames.has(n)));
}
