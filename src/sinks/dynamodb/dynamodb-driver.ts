import type { TargetConfig } from '../../config/schema.js';
import type { Refusal } from '../../errors.js';
import { clientsFor } from '../../aws/clients.js';
import { inspectTable } from '../../engine/inspect.js';
import type { KeySchema } from '../../core/item.js';
import type { DriverContext, SinkDriver, SinkOpenOptions, TargetInspection } from '../driver.js';
import { createTable } from './create-table.js';
import { DynamoDbReader } from './dynamodb-reader.js';
import { DynamoDbSink } from './dynamodb-sink.js';
import { targetTableSpec, type TableSpec } from './table-spec.js';

/** New on-demand tables take about this many write units per second at once (dynamodb-semantics §6). */
const ON_DEMAND_INITIAL_WCU = 4000;

/** Any endpoint that speaks the DynamoDB API: DynamoDB itself, DynamoDB Local, ScyllaDB Alternator. */
export const dynamoDbDriver: SinkDriver = {
  kind: 'dynamodb',

  async inspect(name: string, target: TargetConfig, ctx: DriverContext): Promise<TargetInspection> {
    const info = await inspectTable(clientsFor(target).dynamodb, target.table);
    const refusals: Refusal[] = [];
    const notes: string[] = [];
    const describe: string[] = [];
    let spec: TableSpec | undefined;
    try {
      spec = targetTableSpec(ctx.source, target.create === false ? undefined : target.create);
    } catch (err) {
      refusals.push({ code: 'TARGET_KEY_MISSING', message: (err as Error).message, hint: (err as { hint?: string }).hint ?? 'set target.create.keySchema' });
    }
    const wanted = target.create ? target.create.keySchema : undefined;
    if (info.exists && wanted && info.keySchema && !sameKeySchema(info.keySchema, wanted)) {
      refusals.push({ code: 'TARGET_KEY_MISMATCH', message: `target table ${target.table} exists with key ${fmtKey(info.keySchema)}, but the config asks for ${fmtKey(wanted)}`,
        hint: 'drop or rename the existing table, or make target.create.keySchema match it' });
    }
    if (!info.exists && target.create === false) {
      refusals.push({ code: 'TARGET_KEY_MISMATCH', message: `target table ${target.table} does not exist and target.create is false`,
        hint: 'create the table first or remove "create": false so dynashift creates it' });
    }
    const keySchema = info.exists && info.keySchema ? info.keySchema : spec?.keySchema;
    if (keySchema) describe.push(`key        ${fmtKey(keySchema)}`);
    if (info.exists) {
      describe.push(`capacity   ${info.billingMode === 'PROVISIONED' ? `provisioned ${info.readCapacityUnits} RCU / ${info.writeCapacityUnits} WCU` : 'on-demand'}`);
      if (info.itemCount > 0) notes.push(`target ${target.table} already holds ~${info.itemCount} items (fine when resuming; otherwise they stay unless the source has the same keys)`);
    } else if (spec) {
      for (const g of spec.gsis) describe.push(`GSI        ${g.name} (${fmtKey(g)}, ${g.projection.type})`);
      for (const l of spec.lsis) describe.push(`LSI        ${l.name} (${fmtKey(l)}, ${l.projection.type})`);
      describe.push(`billing    ${spec.billingMode}${spec.throughput ? ` ${spec.throughput.readCapacityUnits} RCU / ${spec.throughput.writeCapacityUnits} WCU` : ''}`);
      describe.push(`ttl        ${spec.ttlAttribute ?? 'none'}`);
      if (spec.streamViewType) describe.push(`stream     ${spec.streamViewType}`);
      notes.push(...spec.notes.map((n) => `target ${target.table}: ${n}`));
    }
    const willCreate = !info.exists && target.create !== false;
    const writeUnitsPerSecond = info.exists
      ? (info.billingMode === 'PROVISIONED' ? info.writeCapacityUnits : ON_DEMAND_INITIAL_WCU)
      : (spec?.billingMode === 'PROVISIONED' ? spec.throughput?.writeCapacityUnits : ON_DEMAND_INITIAL_WCU);
    const arn = info.arn ?? `arn:aws:dynamodb:${target.region ?? '<region>'}:<account>:table/${target.table}`;
    return {
      exists: info.exists, willCreate, describe, notes, refusals,
      ...(keySchema ? { keySchema } : {}),
      itemCount: info.itemCount,
      ...(writeUnitsPerSecond ? { writeUnitsPerSecond } : {}),
      permissions: {
        actions: ['dynamodb:DescribeTable', 'dynamodb:DescribeTimeToLive', 'dynamodb:BatchWriteItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem',
          'dynamodb:Scan', 'dynamodb:BatchGetItem', ...(willCreate ? ['dynamodb:CreateTable', 'dynamodb:UpdateTimeToLive'] : []), ...(target.roleArn ? ['sts:AssumeRole'] : [])],
        resources: [arn],
      },
      detail: spec,
    };
  },

  async prepare(_name: string, target: TargetConfig, inspection: TargetInspection): Promise<void> {
    if (!inspection.willCreate) return;
    await createTable(clientsFor(target).dynamodb, target.table, inspection.detail as TableSpec);
  },

  open(name: string, target: TargetConfig, opts: SinkOpenOptions) {
    const { dynamodb } = clientsFor(target);
    const sink = new DynamoDbSink({
      name, client: dynamodb, table: target.table, concurrency: opts.concurrency,
      ...(target.maxBatchSize ? { maxBatchSize: target.maxBatchSize } : {}),
      ...(opts.maxWriteUnitsPerSecond ? { maxWriteUnitsPerSecond: opts.maxWriteUnitsPerSecond } : {}),
    });
    const reader = new DynamoDbReader(dynamodb, target.table, opts.keySchema);
    return Object.assign(sink, {
      keySchema: reader.keySchema,
      readPartitions: (count: number) => reader.readPartitions(count),
      readPartition: (p: string, signal?: AbortSignal) => reader.readPartition(p, signal),
      getItems: (keys: Parameters<DynamoDbReader['getItems']>[0]) => reader.getItems(keys),
    });
  },
};

export function sameKeySchema(a: KeySchema, b: KeySchema): boolean {
  return a.partitionKey.name === b.partitionKey.name && a.partitionKey.type === b.partitionKey.type
    && a.sortKey?.name === b.sortKey?.name && a.sortKey?.type === b.sortKey?.type;
}

export function fmtKey(k: { partitionKey: { name: string; type: string }; sortKey?: { name: string; type: string } }): string {
  return k.sortKey ? `${k.partitionKey.name}:${k.partitionKey.type} + ${k.sortKey.name}:${k.sortKey.type}` : `${k.partitionKey.name}:${k.partitionKey.type}`;
}
