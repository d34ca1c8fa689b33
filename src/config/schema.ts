import { z } from 'zod';
import { dynamoDbTargetSchema, createTableSchema, type DynamoDbTargetConfig } from '../sinks/dynamodb/dynamodb-config.js';
import { filesSettingsSchema, filesTargetSchema, type FilesTargetConfig } from '../sinks/files/files-config.js';
import { postgresSettingsSchema, postgresTargetSchema, type PostgresTargetConfig } from '../sinks/postgres/postgres-config.js';
import { keyAttributeSchema, keySchemaSchema, name, tableRefSchema } from './table-ref-schema.js';

export { createTableSchema, keyAttributeSchema, keySchemaSchema, tableRefSchema };
export { dynamoDbTargetSchema, filesSettingsSchema, filesTargetSchema, postgresSettingsSchema, postgresTargetSchema };
export type { DynamoDbTargetConfig, FilesTargetConfig, PostgresTargetConfig };

/**
 * The config format, shared by `dynashift.config.ts` (through defineMigration) and JSON files. The JSON Schema for
 * editors is generated from this (npm run schema → schema/dynashift.schema.json).
 */

/** A target: one variant per sink kind, each owned by its driver's folder; `kind` may be left out for DynamoDB. */
export const targetSchema = z.discriminatedUnion('kind', [dynamoDbTargetSchema, postgresTargetSchema, filesTargetSchema]);

const exportBackfillSchema = z
  .object({
    uri: z.string().min(1).optional().describe('Export folder or s3://bucket/prefix holding AWSDynamoDB/<ExportId>/'),
    start: z
      .object({
        s3Bucket: z.string().min(1),
        s3Prefix: z.string().optional(),
        format: z.enum(['DYNAMODB_JSON', 'ION']).optional(),
      })
      .strict()
      .optional()
      .describe('Start an ExportTableToPointInTime (PITR required) instead of reading an existing export'),
    incremental: z.array(z.string().min(1)).optional().describe('Incremental exports applied in order after the full one'),
    imported: z
      .boolean()
      .optional()
      .describe('The target was already loaded from this export with ImportTable: copy nothing, only catch up from the stream'),
    region: z.string().optional(),
    endpoint: z.url().optional().describe('S3-compatible endpoint'),
    forcePathStyle: z.boolean().optional(),
    profile: z.string().optional(),
    roleArn: z.string().optional(),
  })
  .strict();

const touchBackfillSchema = z
  .object({
    marker: z.string().min(1).optional().describe('Attribute written to every item to send it through the stream (default _dynashift_touch)'),
    maxWriteUnitsPerSecond: z.number().positive().optional().describe('Cap on source write units per second for touching'),
  })
  .strict();

export const backfillSchema = z
  .object({
    strategy: z
      .enum(['scan', 'none', 'export', 'touch'])
      .optional()
      .describe(
        "'scan' (default): parallel Scan; 'export': DynamoDB export files; 'touch': update every item so it flows through the stream; 'none': stream only",
      ),
    export: exportBackfillSchema.optional(),
    touch: touchBackfillSchema.optional(),
    segments: z.int().min(1).max(1_000_000).optional().describe('Parallel Scan segments (default 16; capped at one per pageSize items of the table)'),
    concurrency: z.int().min(1).max(256).optional().describe('Segments scanned at once (default 8)'),
    workers: z
      .int()
      .min(1)
      .max(256)
      .optional()
      .describe(
        'Worker threads the scan backfill runs its segments in (default: the cores available but one, at least 1, at most 8; never more than segments, concurrency or write.concurrency); 1 runs it in the main thread',
      ),
    pageSize: z.int().min(1).max(10_000).optional().describe('Scan Limit per page (default 1000)'),
    readShare: z.number().gt(0).max(1).optional().describe("Share of the source's provisioned read capacity the backfill may use (default 0.5)"),
    maxReadUnitsPerSecond: z
      .number()
      .positive()
      .optional()
      .describe('Hard cap on read units per second (on-demand tables have no provisioned figure to take a share of)'),
    consistentRead: z.boolean().optional().describe('Strongly consistent Scan (default true; needed by the consistency argument)'),
    skipExpired: z
      .boolean()
      .optional()
      .describe(
        'Leave out items whose TTL time has passed (they stay readable until DynamoDB deletes them); items without the TTL attribute are kept',
      ),
  })
  .strict();

export const streamSchema = z
  .object({
    pollIntervalMs: z
      .int()
      .min(10)
      .max(60_000)
      .optional()
      .describe('Wait after an empty GetRecords page (default 250, as often as Lambda polls a shard)'),
    discoveryIntervalMs: z.int().min(100).max(600_000).optional().describe('Shard re-listing interval (default 10000)'),
    duringBackfill: z
      .boolean()
      .optional()
      .describe(
        'Apply the stream while the backfill runs (default true), so no backfill is bounded by the 24-hour stream retention; false applies it only after the backfill, which must then end within the retention',
      ),
  })
  .strict();

export const writeSchema = z
  .object({
    concurrency: z
      .int()
      .min(1)
      .max(512)
      .optional()
      .describe(
        'BatchWriteItem requests in flight per target (default 16); after cutover writes, also the source items reverse replication brings up to date at once',
      ),
    maxWriteUnitsPerSecond: z.number().positive().optional().describe('Cap on target write units per second'),
  })
  .strict();

/**
 * The AWS runner's DynamoDB state table (the stack's `StateTableName` output). Set, the operating commands (status,
 * cutover, rollback, finish) work on the migration the Step Functions tasks and the stream handler run.
 */
export const runnerStateSchema = tableRefSchema
  .extend({
    maxLagSeconds: z
      .int()
      .min(1)
      .max(86_400)
      .optional()
      .describe("Cutover refuses while the stream handler's newest batch was older than this, or a batch this old was seen recently (default 60)"),
    evidenceSeconds: z
      .int()
      .min(1)
      .max(86_400)
      .optional()
      .describe("How recent the stream handler's last applied batch must be for cutover (default 300)"),
    cacheSeconds: z
      .int()
      .min(0)
      .max(300)
      .optional()
      .describe(
        'How long the stream handler reuses the state it read; the commands wait this long before a switch of direction takes effect (default 30)',
      ),
  })
  .strict()
  .describe("The AWS runner's DynamoDB state table (the stack's StateTableName output): the operating commands then work on the runner's migration");

const common = {
  name: z
    .string()
    .regex(/^[A-Za-z0-9._-]+$/, 'use letters, digits, dot, dash, underscore')
    .optional()
    .describe('Migration name (state folder name); derived from the tables when omitted'),
  sources: z.record(name, tableRefSchema).optional().describe('Several sources feeding the targets (merge)'),
  source: tableRefSchema.optional(),
  target: targetSchema.optional(),
  targets: z.record(name, targetSchema).optional().describe('Several targets (split): the transform routes items by target name'),
  backfill: backfillSchema.optional(),
  stream: streamSchema.optional(),
  write: writeSchema.optional(),
  guard: z
    .object({
      versionAttribute: name.describe('Attribute holding a version number or an ISO-8601 timestamp (e.g. updatedAt)'),
    })
    .strict()
    .optional()
    .describe(
      'Make every target write conditional on the incoming version being at least the stored one (for dual-writing applications and Global Tables)',
    ),
  onError: z
    .enum(['halt', 'dead-letter'])
    .optional()
    .describe("What to do with an item the transform or target rejects: 'halt' (default) or 'dead-letter' and continue"),
  stateDir: z.string().optional().describe('State folder, relative to the config file (default .dynashift)'),
  lambda: z
    .object({
      vpc: z
        .object({
          vpcId: z.string().min(1).describe('The VPC of the subnets'),
          subnetIds: z
            .array(z.string().min(1))
            .min(1)
            .describe('Subnets the functions run in (private, with a route to DynamoDB and Secrets Manager)'),
          securityGroupIds: z.array(z.string().min(1)).min(1).describe('Security groups of the functions (the database must admit them)'),
        })
        .strict()
        .optional()
        .describe('Run the functions that write to the targets in this VPC (to reach e.g. an RDS database)'),
    })
    .strict()
    .optional()
    .describe('AWS runner (dynashift deploy): settings of the deployed functions'),
  state: runnerStateSchema.optional(),
};

/** JSON config: the transform is a module path (relative to the config file) exporting `transform` or a default. */
export const jsonConfigSchema = z
  .object({
    $schema: z.string().optional(),
    ...common,
    transform: z.string().optional().describe('Path of a module (.ts/.js) exporting the transform function'),
    inverseTransform: z.string().optional().describe('Path of a module exporting target item → source item, for rollback by reverse replication'),
  })
  .strict();

/** TS config: the transform is the function itself (or a module path, as in JSON). */
export const tsConfigSchema = z
  .object({
    ...common,
    transform: z.union([z.string(), z.custom<(...args: unknown[]) => unknown>((v) => typeof v === 'function', 'expected a function')]).optional(),
    inverseTransform: z
      .union([z.string(), z.custom<(...args: unknown[]) => unknown>((v) => typeof v === 'function', 'expected a function')])
      .optional(),
  })
  .strict();

export type KeyAttributeConfig = z.infer<typeof keyAttributeSchema>;
export type TableRefConfig = z.infer<typeof tableRefSchema>;
export type TargetConfig = z.infer<typeof targetSchema>;
export type CreateTableConfig = z.infer<typeof createTableSchema>;
/** The target of the given kind (`kind` left out: dynamodb). */
export type TargetOfKind<K extends string> = Extract<TargetConfig, { kind?: K }>;
export type BackfillConfig = z.infer<typeof backfillSchema>;
