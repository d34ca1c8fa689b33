import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DynashiftError } from '../../src/errors.js';
import type { TableInfo } from '../../src/aws/inspect-table.js';
import { createTableInput, targetTableSpec, type TableSpec } from '../../src/sinks/dynamodb/table-spec.js';

function sourceInfo(over: Partial<TableInfo> = {}): TableInfo {
  return {
    table: 'Orders',
    exists: true,
    keySchema: { partitionKey: { name: 'pk', type: 'S' }, sortKey: { name: 'sk', type: 'N' } },
    gsis: [
      {
        name: 'byCustomer',
        partitionKey: { name: 'customer', type: 'S' },
        sortKey: { name: 'created', type: 'N' },
        projection: { type: 'INCLUDE', nonKeyAttributes: ['total'] },
        readCapacityUnits: 5,
        writeCapacityUnits: 6,
      },
    ],
    lsis: [{ name: 'byStatus', partitionKey: { name: 'pk', type: 'S' }, sortKey: { name: 'status', type: 'S' }, projection: { type: 'KEYS_ONLY' } }],
    billingMode: 'PAY_PER_REQUEST',
    itemCount: 0,
    sizeBytes: 0,
    stream: { enabled: true, viewType: 'NEW_AND_OLD_IMAGES' },
    ttlAttribute: 'expiresAt',
    ...over,
  };
}

function configInvalid(err: unknown): boolean {
  assert.ok(err instanceof DynashiftError, `expected DynashiftError, got ${String(err)}`);
  assert.equal(err.code, 'CONFIG_INVALID');
  assert.equal(err.exitCode, 2);
  return true;
}

describe('targetTableSpec', () => {
  test('by default copies the source key schema, GSIs (without capacity figures), LSIs, billing mode and TTL', () => {
    const spec = targetTableSpec(sourceInfo(), undefined);
    assert.deepEqual(spec.keySchema, { partitionKey: { name: 'pk', type: 'S' }, sortKey: { name: 'sk', type: 'N' } });
    assert.deepEqual(spec.gsis, [
      {
        name: 'byCustomer',
        partitionKey: { name: 'customer', type: 'S' },
        sortKey: { name: 'created', type: 'N' },
        projection: { type: 'INCLUDE', nonKeyAttributes: ['total'] },
      },
    ]);
    assert.deepEqual(spec.lsis, [
      { name: 'byStatus', partitionKey: { name: 'pk', type: 'S' }, sortKey: { name: 'status', type: 'S' }, projection: { type: 'KEYS_ONLY' } },
    ]);
    assert.equal(spec.billingMode, 'PAY_PER_REQUEST');
    assert.equal(spec.ttlAttribute, 'expiresAt');
    assert.equal(spec.throughput, undefined);
    assert.equal(spec.streamViewType, undefined);
    assert.deepEqual(spec.notes, []);
  });

  test('an empty create block behaves like the default copy', () => {
    assert.deepEqual(targetTableSpec(sourceInfo(), {}), targetTableSpec(sourceInfo(), undefined));
  });

  test('a PROVISIONED source passes its throughput on', () => {
    const spec = targetTableSpec(sourceInfo({ billingMode: 'PROVISIONED', readCapacityUnits: 10, writeCapacityUnits: 20 }), undefined);
    assert.equal(spec.billingMode, 'PROVISIONED');
    assert.deepEqual(spec.throughput, { readCapacityUnits: 10, writeCapacityUnits: 20 });
  });

  test('create.keySchema overrides the source key schema', () => {
    const keySchema = { partitionKey: { name: 'pk', type: 'S' as const }, sortKey: { name: 'created', type: 'N' as const } };
    const spec = targetTableSpec(sourceInfo(), { keySchema });
    assert.deepEqual(spec.keySchema, keySchema);
    // Same partition key: LSIs are still copied.
    assert.equal(spec.lsis.length, 1);
  });

  test('LSIs are dropped, with a note naming them, when the partition key changes', () => {
    const spec = targetTableSpec(sourceInfo(), { keySchema: { partitionKey: { name: 'customer', type: 'S' }, sortKey: { name: 'sk', type: 'N' } } });
    assert.deepEqual(spec.lsis, []);
    assert.equal(spec.notes.length, 1);
    assert.match(spec.notes[0]!, /byStatus/);
    assert.match(spec.notes[0]!, /partition key/);
    assert.equal(spec.gsis.length, 1, 'GSIs are still copied');
  });

  test('LSIs are dropped, with a note, when the target has no sort key', () => {
    const spec = targetTableSpec(sourceInfo(), { keySchema: { partitionKey: { name: 'pk', type: 'S' } } });
    assert.deepEqual(spec.lsis, []);
    assert.ok(
      spec.notes.some((n) => /sort key/.test(n)),
      spec.notes.join('; '),
    );
  });

  test("'none' creates no GSIs and no LSIs", () => {
    const spec = targetTableSpec(sourceInfo(), { globalSecondaryIndexes: 'none', localSecondaryIndexes: 'none' });
    assert.deepEqual(spec.gsis, []);
    assert.deepEqual(spec.lsis, []);
    assert.deepEqual(spec.notes, []);
  });

  test('explicit index lists replace the source ones and default the projection to ALL; LSIs take the table partition key', () => {
    const spec = targetTableSpec(sourceInfo(), {
      globalSecondaryIndexes: [{ name: 'g1', partitionKey: { name: 'x', type: 'S' } }],
      localSecondaryIndexes: [{ name: 'l1', sortKey: { name: 'y', type: 'N' } }],
    });
    assert.deepEqual(spec.gsis, [{ name: 'g1', partitionKey: { name: 'x', type: 'S' }, projection: { type: 'ALL' } }]);
    assert.deepEqual(spec.lsis, [
      { name: 'l1', partitionKey: { name: 'pk', type: 'S' }, sortKey: { name: 'y', type: 'N' }, projection: { type: 'ALL' } },
    ]);
  });

  test('billing mode PAY_PER_REQUEST can be forced over a PROVISIONED source, dropping throughput', () => {
    const spec = targetTableSpec(sourceInfo({ billingMode: 'PROVISIONED', readCapacityUnits: 10, writeCapacityUnits: 20 }), {
      billingMode: 'PAY_PER_REQUEST',
    });
    assert.equal(spec.billingMode, 'PAY_PER_REQUEST');
    assert.equal(spec.throughput, undefined);
  });

  test('PROVISIONED with explicit throughput uses it', () => {
    const spec = targetTableSpec(sourceInfo(), {
      billingMode: 'PROVISIONED',
      provisionedThroughput: { readCapacityUnits: 3, writeCapacityUnits: 4 },
    });
    assert.deepEqual(spec.throughput, { readCapacityUnits: 3, writeCapacityUnits: 4 });
  });

  test('PROVISIONED without throughput and without source figures is CONFIG_INVALID (exit 2)', () => {
    assert.throws(() => targetTableSpec(sourceInfo(), { billingMode: 'PROVISIONED' }), configInvalid);
    assert.throws(
      () => targetTableSpec(undefined, { billingMode: 'PROVISIONED', keySchema: { partitionKey: { name: 'pk', type: 'S' } } }),
      configInvalid,
    );
  });

  test('an unknown key schema (no source, no create.keySchema) is CONFIG_INVALID', () => {
    assert.throws(() => targetTableSpec(undefined, undefined), configInvalid);
  });

  test('without a source, create.keySchema alone gives an on-demand table with no indexes', () => {
    const spec = targetTableSpec(undefined, { keySchema: { partitionKey: { name: 'id', type: 'N' } } });
    assert.deepEqual(spec, { keySchema: { partitionKey: { name: 'id', type: 'N' } }, gsis: [], lsis: [], billingMode: 'PAY_PER_REQUEST', notes: [] });
  });

  test('ttlAttribute null removes the source TTL; a string replaces it', () => {
    assert.equal(targetTableSpec(sourceInfo(), { ttlAttribute: null }).ttlAttribute, undefined);
    assert.equal('ttlAttribute' in targetTableSpec(sourceInfo(), { ttlAttribute: null }), false);
    assert.equal(targetTableSpec(sourceInfo(), { ttlAttribute: 'ttl' }).ttlAttribute, 'ttl');
  });

  test('streamViewType is passed on when set', () => {
    assert.equal(targetTableSpec(sourceInfo(), { streamViewType: 'NEW_AND_OLD_IMAGES' }).streamViewType, 'NEW_AND_OLD_IMAGES');
  });
});

describe('createTableInput', () => {
  test('builds the key schema, indexes and one AttributeDefinition per attribute', () => {
    const input = createTableInput('Target', targetTableSpec(sourceInfo(), undefined));
    assert.equal(input.TableName, 'Target');
    assert.deepEqual(input.KeySchema, [
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ]);
    assert.equal(input.BillingMode, 'PAY_PER_REQUEST');
    assert.equal(input.ProvisionedThroughput, undefined);
    const defs = input.AttributeDefinitions!;
    const names = defs.map((d) => d.AttributeName);
    assert.equal(new Set(names).size, names.length, `duplicate definitions: ${names.join(',')}`);
    assert.deepEqual(
      [...defs].sort((a, b) => a.AttributeName!.localeCompare(b.AttributeName!)),
      [
        { AttributeName: 'created', AttributeType: 'N' },
        { AttributeName: 'customer', AttributeType: 'S' },
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'N' },
        { AttributeName: 'status', AttributeType: 'S' },
      ],
    );
    assert.deepEqual(input.GlobalSecondaryIndexes, [
      {
        IndexName: 'byCustomer',
        KeySchema: [
          { AttributeName: 'customer', KeyType: 'HASH' },
          { AttributeName: 'created', KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['total'] },
      },
    ]);
    assert.deepEqual(input.LocalSecondaryIndexes, [
      {
        IndexName: 'byStatus',
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'status', KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'KEYS_ONLY' },
      },
    ]);
  });

  test('an attribute shared by the table key and an index is defined once', () => {
    const spec: TableSpec = {
      keySchema: { partitionKey: { name: 'pk', type: 'S' }, sortKey: { name: 'sk', type: 'S' } },
      gsis: [{ name: 'inverted', partitionKey: { name: 'sk', type: 'S' }, sortKey: { name: 'pk', type: 'S' }, projection: { type: 'ALL' } }],
      lsis: [],
      billingMode: 'PAY_PER_REQUEST',
      notes: [],
    };
    const input = createTableInput('T', spec);
    assert.deepEqual(input.AttributeDefinitions, [
      { AttributeName: 'pk', AttributeType: 'S' },
      { AttributeName: 'sk', AttributeType: 'S' },
    ]);
    assert.equal(input.LocalSecondaryIndexes, undefined);
  });

  test('conflicting types for one attribute are CONFIG_INVALID naming it', () => {
    const spec: TableSpec = {
      keySchema: { partitionKey: { name: 'pk', type: 'S' } },
      gsis: [{ name: 'g', partitionKey: { name: 'pk', type: 'N' }, projection: { type: 'ALL' } }],
      lsis: [],
      billingMode: 'PAY_PER_REQUEST',
      notes: [],
    };
    assert.throws(
      () => createTableInput('T', spec),
      (err: unknown) => configInvalid(err) && /pk/.test((err as Error).message),
    );
  });

  test('PROVISIONED throughput is set on the table and every GSI', () => {
    const spec = targetTableSpec(sourceInfo(), {
      billingMode: 'PROVISIONED',
      provisionedThroughput: { readCapacityUnits: 7, writeCapacityUnits: 8 },
    });
    const input = createTableInput('T', spec);
    assert.equal(input.BillingMode, 'PROVISIONED');
    assert.deepEqual(input.ProvisionedThroughput, { ReadCapacityUnits: 7, WriteCapacityUnits: 8 });
    assert.deepEqual(input.GlobalSecondaryIndexes![0]!.ProvisionedThroughput, { ReadCapacityUnits: 7, WriteCapacityUnits: 8 });
  });

  test('no index sections when there are no indexes; a stream specification only when asked', () => {
    const spec = targetTableSpec(undefined, { keySchema: { partitionKey: { name: 'id', type: 'B' } } });
    const plain = createTableInput('T', spec);
    assert.equal(plain.GlobalSecondaryIndexes, undefined);
    assert.equal(plain.LocalSecondaryIndexes, undefined);
    assert.equal(plain.StreamSpecification, undefined);
    assert.deepEqual(plain.AttributeDefinitions, [{ AttributeName: 'id', AttributeType: 'B' }]);
    const withStream = createTableInput('T', { ...spec, streamViewType: 'NEW_AND_OLD_IMAGES' });
    assert.deepEqual(withStream.StreamSpecification, { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' });
  });
});
