import type { z } from 'zod';
import type { tsConfigSchema } from './schema.js';
import type { Transform } from '../core/transform.js';

/** What a `dynashift.config.ts` default-exports. */
export type MigrationDefinition = Omit<z.input<typeof tsConfigSchema>, 'transform' | 'inverseTransform'> & {
  /** `item → item | item[] | null` (or a module path). See the Transform type. */
  transform?: Transform | string;
  /**
   * Target item → source item, for rollback: after `cutover writes` dynashift keeps the source current from the
   * target's stream through it. Must undo `transform` exactly (checked on samples).
   */
  inverseTransform?: Transform | string;
};

/**
 * Types a migration config in `dynashift.config.ts`:
 * @example
 * export default defineMigration({
 *   source: { table: 'Orders', region: 'eu-west-1' },
 *   target: { table: 'OrdersByCustomer', create: { keySchema: { partitionKey: { name: 'customerId', type: 'S' },
 *                                                               sortKey: { name: 'orderId', type: 'S' } } } },
 *   transform: (item) => (item.status === 'deleted' ? null : item),
 * });
 */
export function defineMigration(definition: MigrationDefinition): MigrationDefinition {
  return definition;
}
