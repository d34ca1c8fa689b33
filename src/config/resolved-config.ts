import type { BackfillConfig, TableRefConfig, TargetConfig } from './schema.js';
import type { Transform } from '../core/transform.js';

/** A loaded, validated config with every default filled in. */
export interface ResolvedConfig {
  name: string;
  /** Absolute path of the config file. */
  configPath: string;
  /** Absolute path of this migration's state folder. */
  stateDir: string;
  sources: Record<string, TableRefConfig>;
  targets: Record<string, TargetConfig>;
  /** Name of the only target when the config used `target:` (the transform returns items, not a routing object). */
  singleTarget?: string;
  transform?: Transform;
  /** Where the transform came from, for messages ("inline" for a TS function). */
  transformSource?: string;
  /** Target item → source item, for reverse replication after `cutover writes`. */
  inverseTransform?: Transform;
  backfill: Required<Omit<BackfillConfig, 'maxReadUnitsPerSecond' | 'export' | 'touch' | 'workers'>> &
    Pick<BackfillConfig, 'maxReadUnitsPerSecond' | 'export' | 'touch' | 'workers'>;
  stream: { pollIntervalMs: number; discoveryIntervalMs: number; duringBackfill: boolean };
  write: { concurrency: number; maxWriteUnitsPerSecond?: number };
  onError: 'halt' | 'dead-letter';
  guard?: { versionAttribute: string };
  /** AWS runner settings for `dynashift deploy` (config `lambda`). */
  lambda?: { vpc?: { vpcId: string; subnetIds: string[]; securityGroupIds: string[] } };
  /** The AWS runner's state table: the operating commands use it instead of the state folder. */
  state?: RunnerStateConfig;
}

/** `state` with its defaults: where the AWS runner keeps the migration, and the in-sync thresholds it is judged by. */
export type RunnerStateConfig = TableRefConfig & { maxLagSeconds: number; evidenceSeconds: number; cacheSeconds: number };

export const DEFAULTS = {
  backfill: { strategy: 'scan', segments: 16, concurrency: 8, pageSize: 1000, readShare: 0.5, consistentRead: true, skipExpired: false },
  stream: { pollIntervalMs: 250, discoveryIntervalMs: 10_000, duringBackfill: true },
  write: { concurrency: 16 },
  onError: 'halt',
  stateDir: '.dynashift',
  state: { maxLagSeconds: 60, evidenceSeconds: 300, cacheSeconds: 30 },
} as const;
