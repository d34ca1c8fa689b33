import {
  DescribeContinuousBackupsCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  type DynamoDBClient,
  type TableDescription,
} from '@aws-sdk/client-dynamodb';
import { errorName } from './errors.js';
import type { KeyAttribute, KeySchema, KeyType } from '../core/item.js';

/** What dynashift needs to know about a table, read-only (gh-ost's "inspector"). */
export interface TableInfo {
  table: string;
  exists: boolean;
  status?: string;
  keySchema?: KeySchema;
  gsis: IndexInfo[];
  lsis: IndexInfo[];
  billingMode: 'PAY_PER_REQUEST' | 'PROVISIONED';
  readCapacityUnits?: number;
  writeCapacityUnits?: number;
  itemCount: number;
  sizeBytes: number;
  stream: { enabled: boolean; viewType?: string; arn?: string };
  ttlAttribute?: string;
  pitr?: boolean;
  arn?: string;
  /** DescribeTable's TableId and creation time: with the ARN, which table this really is (engine/table-identity.ts). */
  tableId?: string;
  createdAt?: string;
}

export interface IndexInfo {
  name: string;
  partitionKey: KeyAttribute;
  sortKey?: KeyAttribute;
  projection: { type: 'ALL' | 'KEYS_ONLY' | 'INCLUDE'; nonKeyAttributes?: string[] };
  readCapacityUnits?: number;
  writeCapacityUnits?: number;
}

export async function inspectTable(client: DynamoDBClient, table: string): Promise<TableInfo> {
  let desc: TableDescription | undefined;
  try {
    desc = (await client.send(new DescribeTableCommand({ TableName: table }))).Table;
  } catch (err) {
    if (errorName(err) === 'ResourceNotFoundException') return missing(table);
    throw err;
  }
  if (!desc) return missing(table);
  const types = new Map((desc.AttributeDefinitions ?? []).map((d) => [d.AttributeName!, d.AttributeType as KeyType]));
  const keyOf = (elements: { AttributeName?: string; KeyType?: string }[] | undefined): KeySchema => {
    const attr = (role: string): KeyAttribute | undefined => {
      const el = elements?.find((e) => e.KeyType === role);
      return el ? { name: el.AttributeName!, type: types.get(el.AttributeName!) ?? 'S' } : undefined;
    };
    const sortKey = attr('RANGE');
    return { partitionKey: attr('HASH')!, ...(sortKey ? { sortKey } : {}) };
  };
  const index = (i: {
    IndexName?: string;
    KeySchema?: { AttributeName?: string; KeyType?: string }[];
    Projection?: { ProjectionType?: string; NonKeyAttributes?: string[] };
    ProvisionedThroughput?: { ReadCapacityUnits?: number; WriteCapacityUnits?: number };
  }): IndexInfo => ({
    name: i.IndexName!,
    ...keyOf(i.KeySchema),
    projection: {
      type: (i.Projection?.ProjectionType ?? 'ALL') as IndexInfo['projection']['type'],
      ...(i.Projection?.NonKeyAttributes ? { nonKeyAttributes: i.Projection.NonKeyAttributes } : {}),
    },
    ...(i.ProvisionedThroughput?.ReadCapacityUnits ? { readCapacityUnits: i.ProvisionedThroughput.ReadCapacityUnits } : {}),
    ...(i.ProvisionedThroughput?.WriteCapacityUnits ? { writeCapacityUnits: i.ProvisionedThroughput.WriteCapacityUnits } : {}),
  });
  const provisioned = desc.BillingModeSummary?.BillingMode !== 'PAY_PER_REQUEST' && (desc.ProvisionedThroughput?.ReadCapacityUnits ?? 0) > 0;
  return {
    table,
    exists: true,
    status: desc.TableStatus,
    keySchema: keyOf(desc.KeySchema),
    gsis: (desc.GlobalSecondaryIndexes ?? []).map(index),
    lsis: (desc.LocalSecondaryIndexes ?? []).map(index),
    billingMode: provisioned ? 'PROVISIONED' : 'PAY_PER_REQUEST',
    ...(provisioned
      ? {
          readCapacityUnits: desc.ProvisionedThroughput!.ReadCapacityUnits,
          writeCapacityUnits: desc.ProvisionedThroughput!.WriteCapacityUnits,
        }
      : {}),
    itemCount: desc.ItemCount ?? 0,
    sizeBytes: desc.TableSizeBytes ?? 0,
    stream: {
      enabled: desc.StreamSpecification?.StreamEnabled === true,
      ...(desc.StreamSpecification?.StreamViewType ? { viewType: desc.StreamSpecification.StreamViewType } : {}),
      ...(desc.LatestStreamArn ? { arn: desc.LatestStreamArn } : {}),
    },
    ttlAttribute: await ttlAttribute(client, table),
    pitr: await pitrEnabled(client, table),
    arn: desc.TableArn,
    ...(desc.TableId ? { tableId: desc.TableId } : {}),
    ...(desc.CreationDateTime ? { createdAt: new Date(desc.CreationDateTime).toISOString() } : {}),
  };
}

async function ttlAttribute(client: DynamoDBClient, table: string): Promise<string | undefined> {
  try {
    const res = await client.send(new DescribeTimeToLiveCommand({ TableName: table }));
    const d = res.TimeToLiveDescription;
    return d?.TimeToLiveStatus === 'ENABLED' || d?.TimeToLiveStatus === 'ENABLING' ? d.AttributeName : undefined;
  } catch {
    return undefined; // not fatal: TTL only shapes the target's defaults
  }
}

async function pitrEnabled(client: DynamoDBClient, table: string): Promise<boolean | undefined> {
  try {
    const res = await client.send(new DescribeContinuousBackupsCommand({ TableName: table }));
    return res.ContinuousBackupsDescription?.PointInTimeRecoveryDescription?.PointInTimeRecoveryStatus === 'ENABLED';
  } catch {
    return undefined; // DynamoDB Local has no PITR; only the export strategy needs it
  }
}

function missing(table: string): TableInfo {
  return { table, exists: false, gsis: [], lsis: [], billingMode: 'PAY_PER_REQUEST', itemCount: 0, sizeBytes: 0, stream: { enabled: false } };
}
