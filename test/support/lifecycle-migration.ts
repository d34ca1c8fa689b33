/**
 * The migration the lifecycle tests share: `orders` (key `id`) into `orders_v2` keyed by the item's group
 * (`gk` = `grp`, sort key `id`), so an update of `grp` moves the item's target key, with the inverse transform that
 * reverse replication needs. Writes the two transform modules and the config into `dir`; returns the config's path.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const GROUP_KEY_TRANSFORM = `export default (item) => ({ ...item, gk: item.grp });\n`;
export const GROUP_KEY_INVERSE = `export default ({ gk, ...item }) => item;\n`;

export function writeLifecycleMigration(dir: string, opts: { name: string; endpoint: string; backfill?: Record<string, unknown> }): string {
  writeFileSync(join(dir, 'transform.mjs'), GROUP_KEY_TRANSFORM);
  writeFileSync(join(dir, 'inverse.mjs'), GROUP_KEY_INVERSE);
  const cfg = join(dir, 'dynashift.config.json');
  const config = {
    name: opts.name,
    source: { table: 'orders', endpoint: opts.endpoint, region: 'us-east-1' },
    target: {
      table: 'orders_v2',
      endpoint: opts.endpoint,
      region: 'us-east-1',
      create: {
        keySchema: { partitionKey: { name: 'gk', type: 'S' }, sortKey: { name: 'id', type: 'S' } },
        streamViewType: 'NEW_AND_OLD_IMAGES',
      },
    },
    transform: './transform.mjs',
    inverseTransform: './inverse.mjs',
    backfill: opts.backfill ?? { segments: 4, concurrency: 2 },
    stream: { pollIntervalMs: 100, discoveryIntervalMs: 500 },
  };
  writeFileSync(cfg, JSON.stringify(config, null, 2));
  return cfg;
}
