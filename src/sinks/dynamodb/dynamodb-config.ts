import { z } from 'zod';
import { keyAttributeSchema, keySchemaSchema, name, tableRefSchema } from '../../config/table-ref-schema.js';

/** The config of a `kind: "dynamodb"` target (the default): any endpoint that speaks the DynamoDB API. */
const projectionSchema = z
  .object({
    type: z.enum(['ALL', 'KEYS_ONLY', 'INCLUDE']),
    nonKeyAttributes: z.array(name).optional(),
  })
  .strict();

const indexSchema = z
  .object({
    name,
    partitionKey: keyAttributeSchema,
    sortKey: keyAttributeSchema.optional(),
    projection: projectionSchema.optional(),
  })
  .strict();

const throughputSchema = z.object({ readCapacityUnits: z.int().positive(), writeCapacityUnits: z.int().positive() }).strict();

export const createTableSchema = z
  .object({
    keySchema: keySchemaSchema.optional().describe("Target primary key; the source's when omitted"),
    globalSecondaryIndexes: z
      .union([z.literal('copy'), z.literal('none'), z.array(indexSchema)])
      .optional()
      .describe("'copy' (default) copies the source's GSIs"),
    localSecondaryIndexes: z
      .union([z.literal('copy'), z.literal('none'), z.array(indexSchema.omit({ partitionKey: true }))])
      .optional()
      .describe("'copy' (default) copies the source's LSIs when the partition key is unchanged"),
    billingMode: z.enum(['PAY_PER_REQUEST', 'PROVISIONED']).optional().describe("The source's when omitted"),
    provisionedThroughput: throughputSchema.optional(),
    ttlAttribute: z.union([z.string(), z.null()]).optional().describe("TTL attribute; the source's when omitted, null for none"),
    streamViewType: z
      .enum(['NEW_IMAGE', 'OLD_IMAGE', 'NEW_AND_OLD_IMAGES', 'KEYS_ONLY'])
      .optional()
      .describe('Enable a stream on the target (needed later for rollback by reverse replication)'),
    replicas: z
      .array(z.string().min(1))
      .optional()
      .describe('Regions to replicate the new target to (a Global Table); added right after creation, before any item is written'),
    multiRegionConsistency: z
      .enum(['EVENTUAL', 'STRONG'])
      .optional()
      .describe('EVENTUAL (default) or STRONG (multi-Region strong consistency: exactly three Regions, the table must be empty)'),
    witnessRegion: z.string().optional().describe('STRONG only: a witness Region instead of a second replica'),
  })
  .strict();

export const dynamoDbTargetSchema = tableRefSchema.extend({
  kind: z.literal('dynamodb').optional().describe('dynamodb (default; also ScyllaDB Alternator and any DynamoDB-compatible endpoint)'),
  create: z
    .union([z.literal(false), createTableSchema])
    .optional()
    .describe('How to create the target when it does not exist; false refuses to create it'),
  maxBatchSize: z.int().min(1).max(25).optional().describe('Items per BatchWriteItem (25; lower for some DynamoDB-compatible stores)'),
});

export type DynamoDbTargetConfig = z.infer<typeof dynamoDbTargetSchema>;
export type CreateTableConfig = z.infer<typeof createTableSchema>;
