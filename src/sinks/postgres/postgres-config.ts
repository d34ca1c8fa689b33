import { z } from 'zod';
import { keySchemaSchema, name, tableRefSchema } from '../../config/table-ref-schema.js';
import { createTableSchema } from '../dynamodb/dynamodb-config.js';

/** The config of a `kind: "postgres"` target (docs/postgres.md). */
const pgColumnSchema = z
  .object({
    name: name.describe('Column name'),
    attribute: name.describe('Top-level item attribute copied into the column'),
    type: z.enum(['text', 'numeric', 'bigint', 'boolean', 'jsonb', 'bytea', 'timestamptz']).describe('Column type'),
  })
  .strict();

export const postgresSettingsSchema = z
  .object({
    connectionString: z.string().optional().describe('postgres://user@host:port/db — prefer connectionStringEnv so no password sits in the file'),
    connectionStringEnv: z
      .string()
      .optional()
      .describe('Environment variable holding the connection string (default DATABASE_URL; then the PG* variables)'),
    connectionStringSecret: z
      .string()
      .min(1)
      .optional()
      .describe(
        'AWS runner: Secrets Manager secret (ARN or name) holding the connection string, or an RDS secret (JSON with host, port, username, password, dbname)',
      ),
    schema: z.string().optional().describe('Schema of the table (default public)'),
    columns: z.array(pgColumnSchema).optional().describe('Attributes also projected into typed columns'),
  })
  .strict();

export const postgresTargetSchema = tableRefSchema.extend({
  kind: z.literal('postgres').describe('postgres: one PostgreSQL table per target'),
  keySchema: keySchemaSchema.optional().describe('Target key (default: the source key)'),
  postgres: postgresSettingsSchema.optional().describe('PostgreSQL settings'),
  // Only `false` matters here (refuse a missing table); a DynamoDB create object is accepted and noted as ignored.
  create: z
    .union([z.literal(false), createTableSchema])
    .optional()
    .describe('false refuses to run when the table does not exist (otherwise it is created)'),
});

export type PostgresTargetConfig = z.infer<typeof postgresTargetSchema>;
