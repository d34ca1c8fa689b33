import { z } from 'zod';
import { keySchemaSchema, tableRefSchema } from '../../config/table-ref-schema.js';

/** The config of a `kind: "files"` target: a DynamoDB-JSON export for ImportTable. */
export const filesSettingsSchema = z
  .object({
    uri: z.string().min(1).describe('Folder or s3://bucket/prefix to write the export to (AWSDynamoDB/<exportId>/ beneath it)'),
    exportId: z
      .string()
      .regex(/^[A-Za-z0-9._-]+$/)
      .optional()
      .describe('Export folder name (default: target.table)'),
    maxFileBytes: z.int().min(65536).optional().describe('Uncompressed JSON per data file (default 256 MiB)'),
    region: z.string().optional(),
    endpoint: z.url().optional().describe('S3-compatible endpoint (e.g. a local S3 for tests)'),
    forcePathStyle: z.boolean().optional(),
  })
  .strict();

export const filesTargetSchema = tableRefSchema.extend({
  kind: z.literal('files').describe('files: a DynamoDB-JSON export for ImportTable (write-once)'),
  keySchema: keySchemaSchema.optional().describe('Target key (default: the source key)'),
  files: filesSettingsSchema.optional().describe('Export-format files settings'),
});

export type FilesTargetConfig = z.infer<typeof filesTargetSchema>;
