import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import { DynashiftError } from '../../errors.js';
import type { KeyAttribute, KeySchema } from '../../core/item.js';
import type { CreateTableConfig } from '../../config/schema.js';
import type { IndexInfo, TableInfo } from '../../aws/inspect-table.js';

/** The target table dynashift will create: the source's shape unless the config overrides parts of it. */
export interface TableSpec {
  keySchema: KeySchema;
  gsis: Omit<IndexInfo, 'readCapacityUnits' | 'writeCapacityUnits'>[];
  lsis: Omit<IndexInfo, 'readCapacityUnits' | 'writeCapacityUnits'>[];
  billingMode: 'PAY_PER_REQUEST' | 'PROVISIONED';
  throughput?: { readCapacityUnits: number; writeCapacityUnits: number };
  ttlAttribute?: string;
  streamViewType?: string;
  /** Global Table replicas to add after creation. */
  replicas?: { regions: string[]; consistency: 'EVENTUAL' | 'STRONG'; witnessRegion?: string };
  /** Things copied from the source that had to be left out, for the plan. */
  notes: string[];
}

export function targetTableSpec(source: TableInfo | undefined, create: CreateTableConfig | undefined): TableSpec {
  const notes: string[] = [];
  const keySchema = create?.keySchema ?? source?.keySchema;
  if (!keySchema) {
    throw new DynashiftError('CONFIG_INVALID', 'the target key schema is unknown', {
      hint: 'set target.create.keySchema: { partitionKey: { name, type }, sortKey?: { name, type } }',
      exitCode: 2,
    });
  }
  const gsisCfg = create?.globalSecondaryIndexes ?? 'copy';
  const gsis =
    gsisCfg === 'none'
      ? []
      : gsisCfg === 'copy'
        ? (source?.gsis ?? []).map(({ readCapacityUnits: _r, writeCapacityUnits: _w, ...i }) => i)
        : gsisCfg.map((g) => ({ ...g, projection: g.projection ?? { type: 'ALL' as const } }));

  const lsisCfg = create?.localSecondaryIndexes ?? 'copy';
  let lsis: TableSpec['lsis'] = [];
  if (lsisCfg === 'copy') {
    const sameHash = source?.keySchema?.partitionKey.name === keySchema.partitionKey.name;
    if (sameHash) lsis = (source?.lsis ?? []).map(({ readCapacityUnits: _r, writeCapacityUnits: _w, ...i }) => i);
    else if (source?.lsis.length)
      notes.push(`source LSIs (${source.lsis.map((i) => i.name).join(', ')}) not copied: the target partition key differs`);
  } else if (lsisCfg !== 'none') {
    lsis = lsisCfg.map((l) => ({ ...l, partitionKey: keySchema.partitionKey, projection: l.projection ?? { type: 'ALL' as const } }));
  }
  if (lsis.length > 0 && !keySchema.sortKey) {
    notes.push('LSIs need a table sort key: not created');
    lsis = [];
  }

  const billingMode = create?.billingMode ?? source?.billingMode ?? 'PAY_PER_REQUEST';
  let throughput = create?.provisionedThroughput;
  if (billingMode === 'PROVISIONED' && !throughput) {
    if (source?.readCapacityUnits && source.writeCapacityUnits) {
      throughput = { readCapacityUnits: source.readCapacityUnits, writeCapacityUnits: source.writeCapacityUnits };
    } else {
      throw new DynashiftError('CONFIG_INVALID', 'target billing mode is PROVISIONED but no throughput is known', {
        hint: 'set target.create.provisionedThroughput: { readCapacityUnits, writeCapacityUnits } or billingMode: PAY_PER_REQUEST',
        exitCode: 2,
      });
    }
  }
  const ttlAttribute = create?.ttlAttribute === null ? undefined : (create?.ttlAttribute ?? source?.ttlAttribute);
  const replicas = create?.replicas?.length
    ? ({
        regions: create.replicas,
        consistency: create.multiRegionConsistency ?? 'EVENTUAL',
        ...(create.witnessRegion ? { witnessRegion: create.witnessRegion } : {}),
      } as const)
    : undefined;
  // Eventually consistent Global Tables replicate through the table's stream; ask for the view they need.
  const streamViewType = create?.streamViewType ?? (replicas?.consistency === 'EVENTUAL' ? 'NEW_AND_OLD_IMAGES' : undefined);
  return {
    ...(replicas ? { replicas } : {}),
    keySchema,
    gsis,
    lsis,
    billingMode,
    ...(throughput ? { throughput } : {}),
    ...(ttlAttribute ? { ttlAttribute } : {}),
    ...(streamViewType ? { streamViewType } : {}),
    notes,
  };
}

export function createTableInput(table: string, spec: TableSpec): CreateTableCommandInput {
  const defs = new Map<string, string>();
  const define = (a: KeyAttribute | undefined): void => {
    if (!a) return;
    const prior = defs.get(a.name);
    if (prior && prior !== a.type) {
      throw new DynashiftError('CONFIG_INVALID', `attribute ${a.name} is used as a key with types ${prior} and ${a.type}`, {
        hint: 'give it one type in the target key schema and every index',
        exitCode: 2,
      });
    }
    defs.set(a.name, a.type);
  };
  const keyElems = (k: { partitionKey: KeyAttribute; sortKey?: KeyAttribute }) => {
    define(k.partitionKey);
    define(k.sortKey);
    return [
      { AttributeName: k.partitionKey.name, KeyType: 'HASH' as const },
      ...(k.sortKey ? [{ AttributeName: k.sortKey.name, KeyType: 'RANGE' as const }] : []),
    ];
  };
  const projection = (p: IndexInfo['projection']) => ({
    ProjectionType: p.type,
    ...(p.nonKeyAttributes?.length ? { NonKeyAttributes: p.nonKeyAttributes } : {}),
  });
  const pt = spec.throughput
    ? { ReadCapacityUnits: spec.throughput.readCapacityUnits, WriteCapacityUnits: spec.throughput.writeCapacityUnits }
    : undefined;
  const input: CreateTableCommandInput = {
    TableName: table,
    KeySchema: keyElems(spec.keySchema),
    BillingMode: spec.billingMode,
    ...(pt ? { ProvisionedThroughput: pt } : {}),
    ...(spec.gsis.length
      ? {
          GlobalSecondaryIndexes: spec.gsis.map((g) => ({
            IndexName: g.name,
            KeySchema: keyElems(g),
            Projection: projection(g.projection),
            ...(pt ? { ProvisionedThroughput: pt } : {}),
          })),
        }
      : {}),
    ...(spec.lsis.length
      ? {
          LocalSecondaryIndexes: spec.lsis.map((l) => ({ IndexName: l.name, KeySchema: keyElems(l), Projection: projection(l.projection) })),
        }
      : {}),
    ...(spec.streamViewType ? { StreamSpecification: { StreamEnabled: true, StreamViewType: spec.streamViewType as 'NEW_AND_OLD_IMAGES' } } : {}),
    AttributeDefinitions: [],
  };
  input.AttributeDefinitions = [...defs].map(([AttributeName, AttributeType]) => ({ AttributeName, AttributeType: AttributeType as 'S' }));
  return input;
}
