import type { DynamoDbTargetConfig } from './dynamodb-config.js';
import type { Refusal } from '../../errors.js';
import { clientsFor, destroyClients, isLoopback, withClients } from '../../aws/clients.js';
import { roleFor } from '../../aws/errors.js';
import { inspectTable } from '../../aws/inspect-table.js';
import { keyAttributeNames, type KeySchema } from '../../core/item.js';
import { typed, type DriverContext, type SinkDriver, type SinkOpenOptions, type TargetInspection } from '../driver.js';
import { createTable } from './create-table.js';
import { DynamoDbReader } from './dynamodb-reader.js';
import { DYNAMODB_CAPABILITIES, DynamoDbSink } from './dynamodb-sink.js';
import { targetTableSpec, type TableSpec } from './table-spec.js';

/** New on-demand tables take about this many write units per second at once (dynamodb-semantics §6). */
const ON_DEMAND_INITIAL_WCU = 4000;

/** Any endpoint that speaks the DynamoDB API: DynamoDB itself, DynamoDB Local, ScyllaDB Alternator. */
export const dynamoDbDriver: SinkDriver = typed<DynamoDbTargetConfig>({
  kind: 'dynamodb',
  capabilities: DYNAMODB_CAPABILITIES,

  async inspect(name: string, target: DynamoDbTargetConfig, ctx: DriverContext): Promise<TargetInspection> {
    const info = await withClients(target, roleFor('target', name, target), (c) => inspectTable(c.dynamodb, target.table));
    const refusals: Refusal[] = [];
    const notes: string[] = [];
    const describe: string[] = [];
    let spec: TableSpec | undefined;
    try {
      spec = targetTableSpec(ctx.source, target.create === false ? undefined : target.create);
    } catch (err) {
      refusals.push({
        code: 'TARGET_KEY_MISSING',
        message: (err as Error).message,
        hint: (err as { hint?: string }).hint ?? 'set target.create.keySchema',
      });
    }
    const wanted = target.create ? target.create.keySchema : undefined;
    if (info.exists && wanted && info.keySchema && !sameKeySchema(info.keySchema, wanted)) {
      refusals.push({
        code: 'TARGET_KEY_MISMATCH',
        message: `target table ${target.table} exists with key ${fmtKey(info.keySchema)}, but the config asks for ${fmtKey(wanted)}`,
        hint: 'drop or rename the existing table, or make target.create.keySchema match it',
      });
    }
    if (!info.exists && target.create === false) {
      refusals.push({
        code: 'TARGET_NOT_FOUND',
        message: `target table ${target.table} does not exist and target.create is false`,
        hint: 'create the table first or remove "create": false so dynashift creates it',
      });
    }
    refusals.push(...replicaRefusals(target, info, spec));
    if (spec?.replicas) {
      describe.push(
        `replicas   ${spec.replicas.regions.join(', ')}${spec.replicas.witnessRegion ? ` + witness ${spec.replicas.witnessRegion}` : ''} (${spec.replicas.consistency === 'STRONG' ? 'multi-Region strong consistency' : 'eventually consistent Global Table'})`,
      );
      notes.push(
        spec.replicas.consistency === 'STRONG'
          ? `target ${target.table}: STRONG Global Tables must be empty when replicas are added — dynashift adds them right after creating the table, before the backfill; every write is then synchronously replicated (slower backfill)`
          : `target ${target.table}: replicas are added right after creation (one Region at a time, waiting for ACTIVE); every backfill write is replicated to ${spec.replicas.regions.length} more Region(s) and billed there too`,
      );
    }
    const keySchema = info.exists && info.keySchema ? info.keySchema : spec?.keySchema;
    if (keySchema) describe.push(`key        ${fmtKey(keySchema)}`);
    if (info.exists) {
      describe.push(
        `capacity   ${info.billingMode === 'PROVISIONED' ? `provisioned ${info.readCapacityUnits} RCU / ${info.writeCapacityUnits} WCU` : 'on-demand'}`,
      );
      if (info.itemCount > 0)
        notes.push(
          `target ${target.table} already holds ~${info.itemCount} items (fine when resuming; otherwise they stay unless the source has the same keys)`,
        );
    } else if (spec) {
      for (const g of spec.gsis) describe.push(`GSI        ${g.name} (${fmtKey(g)}, ${g.projection.type})`);
      for (const l of spec.lsis) describe.push(`LSI        ${l.name} (${fmtKey(l)}, ${l.projection.type})`);
      describe.push(
        `billing    ${spec.billingMode}${spec.throughput ? ` ${spec.throughput.readCapacityUnits} RCU / ${spec.throughput.writeCapacityUnits} WCU` : ''}`,
      );
      describe.push(`ttl        ${spec.ttlAttribute ?? 'none'}`);
      if (spec.streamViewType) describe.push(`stream     ${spec.streamViewType}`);
      notes.push(...spec.notes.map((n) => `target ${target.table}: ${n}`));
    }
    const willCreate = !info.exists && target.create !== false;
    const writeUnitsPerSecond = info.exists
      ? info.billingMode === 'PROVISIONED'
        ? info.writeCapacityUnits
        : ON_DEMAND_INITIAL_WCU
      : spec?.billingMode === 'PROVISIONED'
        ? spec.throughput?.writeCapacityUnits
        : ON_DEMAND_INITIAL_WCU;
    const arn = info.arn ?? `arn:aws:dynamodb:${target.region ?? '<region>'}:<account>:table/${target.table}`;
    return {
      exists: info.exists,
      willCreate,
      describe,
      notes,
      refusals,
      ...(keySchema ? { keySchema } : {}),
      ...(info.exists
        ? {
            identity: {
              ...(info.arn ? { arn: info.arn } : {}),
              ...(info.tableId ? { tableId: info.tableId } : {}),
              ...(info.createdAt ? { createdAt: info.createdAt } : {}),
            },
          }
        : {}),
      itemCount: info.itemCount,
      ...(writeUnitsPerSecond ? { writeUnitsPerSecond } : {}),
      permissions: {
        actions: [
          'dynamodb:DescribeTable',
          'dynamodb:DescribeTimeToLive',
          'dynamodb:BatchWriteItem',
          'dynamodb:PutItem',
          'dynamodb:DeleteItem',
          'dynamodb:Scan',
          'dynamodb:BatchGetItem',
          ...(willCreate ? ['dynamodb:CreateTable', 'dynamodb:UpdateTimeToLive'] : []),
          ...(target.roleArn ? ['sts:AssumeRole'] : []),
        ],
        resources: [arn],
      },
      detail: spec,
    };
  },

  async prepare(name: string, target: DynamoDbTargetConfig, inspection: TargetInspection): Promise<void> {
    if (!inspection.willCreate) return;
    await withClients(target, roleFor('target', name, target), (c) => createTable(c.dynamodb, target.table, inspection.detail as TableSpec));
  },

  open(name: string, target: DynamoDbTargetConfig, opts: SinkOpenOptions) {
    // Reverse replication opens the source table as a sink: its errors and warnings name the source.
    const side = opts.side ?? 'target';
    const clients = clientsFor(target, roleFor(side, name, target));
    const { dynamodb, calls } = clients;
    const sink = new DynamoDbSink({
      name,
      client: dynamodb,
      table: target.table,
      concurrency: opts.concurrency,
      side,
      calls,
      ...(target.maxBatchSize ? { maxBatchSize: target.maxBatchSize } : {}),
      ...(opts.maxWriteUnitsPerSecond ? { maxWriteUnitsPerSecond: opts.maxWriteUnitsPerSecond } : {}),
      ...(opts.writeBudget ? { budget: opts.writeBudget } : {}),
      ...(opts.guard ? { guard: { versionAttribute: opts.guard.versionAttribute, keyNames: keyAttributeNames(opts.keySchema) } } : {}),
    });
    const reader = new DynamoDbReader(dynamodb, target.table, opts.keySchema);
    return Object.assign(sink, {
      // The sink owns the clients it was opened with: the engine closes it when the run ends.
      close: async () => {
        destroyClients(clients);
      },
      keySchema: reader.keySchema,
      readPartitions: (count: number) => reader.readPartitions(count),
      readPartition: (p: string, signal?: AbortSignal) => reader.readPartition(p, signal),
      getItems: (keys: Parameters<DynamoDbReader['getItems']>[0]) => reader.getItems(keys),
    });
  },
});

/** What a Global Table target needs; each refusal says what to change. */
export function replicaRefusals(target: DynamoDbTargetConfig, info: { exists: boolean; itemCount: number }, spec: TableSpec | undefined): Refusal[] {
  const create = target.create === false ? undefined : target.create;
  const r = spec?.replicas;
  if (!create?.replicas?.length || !r) {
    return create?.multiRegionConsistency || create?.witnessRegion
      ? [
          {
            code: 'REPLICAS_INVALID',
            message: 'multiRegionConsistency/witnessRegion need target.create.replicas',
            hint: 'list the replica Regions in target.create.replicas',
          },
        ]
      : [];
  }
  const out: Refusal[] = [];
  const home = target.region ?? process.env.AWS_REGION ?? 'us-east-1';
  const all = [home, ...r.regions, ...(r.witnessRegion ? [r.witnessRegion] : [])];
  if (new Set(all).size !== all.length) {
    out.push({
      code: 'REPLICAS_INVALID',
      message: `replica Regions repeat or include the table's own Region (${home}): ${all.join(', ')}`,
      hint: 'list each other Region once in target.create.replicas',
    });
  }
  if (info.exists) {
    out.push({
      code: 'REPLICAS_INVALID',
      message: `target ${target.table} already exists: dynashift adds replicas only to a table it creates`,
      hint: 'add the replicas to the existing table yourself (UpdateTable ReplicaUpdates), or let dynashift create a new target',
    });
  }
  if (r.witnessRegion && r.consistency !== 'STRONG') {
    out.push({
      code: 'REPLICAS_INVALID',
      message: 'a witness Region exists only for multiRegionConsistency STRONG',
      hint: 'remove witnessRegion or set multiRegionConsistency: "STRONG"',
    });
  }
  if (r.consistency === 'STRONG' && all.length !== 3) {
    out.push({
      code: 'REPLICAS_INVALID',
      message: `multi-Region strong consistency needs exactly three Regions (the table's, plus two replicas or one replica and a witness); the config has ${all.length}`,
      hint: 'list two replica Regions, or one replica Region and a witnessRegion',
    });
  }
  if (spec.billingMode === 'PROVISIONED') {
    out.push({
      code: 'REPLICAS_INVALID',
      message: 'a Global Table with provisioned capacity needs write auto scaling, which dynashift does not configure',
      hint: 'use billingMode PAY_PER_REQUEST for the target (or create the Global Table yourself with auto scaling)',
    });
  }
  if (isLoopback(target.endpoint)) {
    out.push({
      code: 'REPLICAS_INVALID',
      message: `the target endpoint ${target.endpoint} is local: DynamoDB Local has no replicas`,
      hint: 'remove target.create.replicas for local runs',
    });
  }
  return out;
}

export function sameKeySchema(a: KeySchema, b: KeySchema): boolean {
  return (
    a.partitionKey.name === b.partitionKey.name &&
    a.partitionKey.type === b.partitionKey.type &&
    a.sortKey?.name === b.sortKey?.name &&
    a.sortKey?.type === b.sortKey?.type
  );
}

export function fmtKey(k: { partitionKey: { name: string; type: string }; sortKey?: { name: string; type: string } }): string {
  return k.sortKey
    ? `${k.partitionKey.name}:${k.partitionKey.type} + ${k.sortKey.name}:${k.sortKey.type}`
    : `${k.partitionKey.name}:${k.partitionKey.type}`;
}
