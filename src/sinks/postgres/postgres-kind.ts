import type { PostgresTargetConfig } from './postgres-config.js';
import type { SinkKind } from '../driver.js';
import { declareCapabilities } from '../sink.js';

/** Rows per transaction: large enough to amortize the round trips, small enough to keep locks and retries short. */
export const PG_MAX_BATCH = 500;
/** The version guard is part of the guarded statements (postgres-write-sql.ts). No stream: no rollback from it. */
export const POSTGRES_CAPABILITIES = declareCapabilities({ conditionalWrites: true, maxBatchSize: PG_MAX_BATCH, transactions: true });

/** What the planner and engine know of `kind: "postgres"` without loading its driver (and `pg`). */
export const postgresKind: SinkKind<PostgresTargetConfig> = {
  kind: 'postgres',
  capabilities: POSTGRES_CAPABILITIES,
  location: (target) => [target.table, target.region ?? '', target.endpoint ?? '', target.postgres?.schema ?? ''],
};
