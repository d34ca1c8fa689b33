import { z } from 'zod';

/**
 * The config pieces every kind of table-like endpoint shares: a name, a key schema, and where a table lives. Sources
 * use tableRefSchema as is; each sink driver extends it with its own fields (src/sinks/<kind>/<kind>-config.ts).
 */
export const name = z.string().min(1);

export const keyAttributeSchema = z
  .object({
    name: name.describe('Attribute name'),
    type: z.enum(['S', 'N', 'B']).describe('Attribute type: S (string), N (number) or B (binary)'),
  })
  .strict();

export const keySchemaSchema = z
  .object({
    partitionKey: keyAttributeSchema,
    sortKey: keyAttributeSchema.optional(),
  })
  .strict();

export const tableRefSchema = z
  .object({
    table: name.describe('Table name'),
    region: z
      .string()
      .optional()
      .describe(
        "AWS Region; else AWS_REGION, AWS_DEFAULT_REGION or the profile's region (an error when none is set, except for a loopback endpoint)",
      ),
    endpoint: z.url().optional().describe('Custom endpoint (DynamoDB Local, ScyllaDB Alternator, a VPC endpoint)'),
    profile: z.string().optional().describe('Shared-config profile to take credentials from'),
    roleArn: z
      .string()
      .regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/.+/, 'expected an IAM role ARN like arn:aws:iam::123456789012:role/Name')
      .optional()
      .describe('IAM role to assume (cross-account access)'),
    externalId: z.string().optional().describe('External ID for the role assumption'),
  })
  .strict();
