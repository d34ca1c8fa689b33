/**
 * Global Table replicas. DynamoDB Local has no replicas, so the calls run against a STUBBED DynamoDB client that
 * records commands and moves replicas from CREATING to ACTIVE; the plan checks are pure.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createTable } from '../../src/sinks/dynamodb/create-table.js';
import { replicaRefusals } from '../../src/sinks/dynamodb/dynamodb-driver.js';
import { targetTableSpec, type TableSpec } from '../../src/sinks/dynamodb/table-spec.js';
import type { DynamoDbTargetConfig as TargetConfig } from '../../src/sinks/dynamodb/dynamodb-config.js';

interface Call {
  name: string;
  input: Record<string, any>;
}

/** Stubbed DynamoDB replica API: each replica turns ACTIVE after `describesUntilActive` DescribeTable calls. */
function stubClient(opts: { describesUntilActive?: number; failRegion?: string } = {}) {
  const calls: Call[] = [];
  const replicas = new Map<string, number>();
  const client = {
    async send(command: { constructor: { name: string }; input: Record<string, any> }) {
      const name = command.constructor.name.replace(/Command$/, '');
      calls.push({ name, input: command.input });
      switch (name) {
        case 'CreateTable':
          return {};
        case 'UpdateTable':
          for (const u of command.input.ReplicaUpdates ?? []) replicas.set(u.Create.RegionName, 0);
          return {};
        case 'DescribeTable': {
          const list = [...replicas].map(([RegionName, seen]) => {
            replicas.set(RegionName, seen + 1);
            const status = RegionName === opts.failRegion ? 'CREATION_FAILED' : seen + 1 >= (opts.describesUntilActive ?? 2) ? 'ACTIVE' : 'CREATING';
            return { RegionName, ReplicaStatus: status };
          });
          return { Table: { TableName: command.input.TableName, TableStatus: 'ACTIVE', Replicas: list } };
        }
        case 'DescribeTimeToLive':
          return { TimeToLiveDescription: { TimeToLiveStatus: 'DISABLED' } };
        case 'UpdateTimeToLive':
          return {};
        default:
          throw new Error(`unexpected ${name}`);
      }
    },
  };
  return { client: client as unknown as DynamoDBClient, calls };
}

const key = { partitionKey: { name: 'pk', type: 'S' as const } };

function spec(create: Record<string, unknown>): TableSpec {
  return targetTableSpec(undefined, { keySchema: key, billingMode: 'PAY_PER_REQUEST', ...create } as never);
}

test('eventual Global Table: one replica per UpdateTable, each ACTIVE before the next (stubbed DynamoDB replica API)', async () => {
  const { client, calls } = stubClient();
  await createTable(client, 'orders', spec({ replicas: ['eu-west-1', 'ap-south-1'] }), { replicaPollMs: 1 });
  const updates = calls.filter((c) => c.name === 'UpdateTable');
  assert.deepEqual(
    updates.map((u) => u.input.ReplicaUpdates),
    [[{ Create: { RegionName: 'eu-west-1' } }], [{ Create: { RegionName: 'ap-south-1' } }]],
  );
  const firstUpdate = calls.indexOf(updates[0]!);
  const secondUpdate = calls.indexOf(updates[1]!);
  assert.ok(
    calls.slice(firstUpdate, secondUpdate).some((c) => c.name === 'DescribeTable'),
    'waits for the first replica before adding the second',
  );
  const create = calls.find((c) => c.name === 'CreateTable')!;
  assert.equal(create.input.StreamSpecification?.StreamViewType, 'NEW_AND_OLD_IMAGES', 'eventual Global Tables get a NEW_AND_OLD_IMAGES stream');
});

test('strong consistency: every Region in one UpdateTable with MultiRegionConsistency STRONG, before TTL (stubbed DynamoDB replica API)', async () => {
  const { client, calls } = stubClient();
  await createTable(
    client,
    'ledger',
    spec({ replicas: ['us-east-2'], witnessRegion: 'us-west-2', multiRegionConsistency: 'STRONG', ttlAttribute: 'exp' }),
    { replicaPollMs: 1 },
  );
  const updates = calls.filter((c) => c.name === 'UpdateTable');
  assert.equal(updates.length, 1);
  assert.equal(updates[0]!.input.MultiRegionConsistency, 'STRONG');
  assert.deepEqual(updates[0]!.input.GlobalTableWitnessUpdates, [{ Create: { RegionName: 'us-west-2' } }]);
  assert.ok(
    calls.findIndex((c) => c.name === 'UpdateTable') < calls.findIndex((c) => c.name === 'UpdateTimeToLive'),
    'replicas are added while the table is empty, first',
  );
});

test('a failed replica stops with a clear error (stubbed DynamoDB replica API)', async () => {
  const { client } = stubClient({ failRegion: 'eu-west-1' });
  await assert.rejects(
    createTable(client, 'orders', spec({ replicas: ['eu-west-1'] }), { replicaPollMs: 1 }),
    /replica creation failed in eu-west-1/,
  );
});

test('plan refuses Global Table configs that cannot work', () => {
  const target = (create: Record<string, unknown>, extra: Partial<TargetConfig> = {}) =>
    ({ table: 't', region: 'us-east-1', create, ...extra }) as TargetConfig;
  const refuse = (t: TargetConfig, exists = false) =>
    replicaRefusals(t, { exists, itemCount: 0 }, spec((t.create || {}) as Record<string, unknown>))
      .map((r) => r.message)
      .join(' | ');
  assert.match(refuse(target({ replicas: ['us-east-1'] })), /repeat or include the table's own Region/);
  assert.match(refuse(target({ replicas: ['eu-west-1'], multiRegionConsistency: 'STRONG' })), /exactly three Regions/);
  assert.match(refuse(target({ replicas: ['eu-west-1'], witnessRegion: 'eu-west-2' })), /witness Region exists only/);
  assert.match(refuse(target({ replicas: ['eu-west-1'] }), true), /adds replicas only to a table it creates/);
  assert.match(refuse(target({ replicas: ['eu-west-1'] }, { endpoint: 'http://127.0.0.1:8000' })), /DynamoDB Local has no replicas/);
  assert.equal(refuse(target({ replicas: ['eu-west-1', 'eu-west-2'], multiRegionConsistency: 'STRONG' })), '', 'a valid STRONG config');
  assert.equal(refuse(target({ replicas: ['eu-west-1'] })), '', 'a valid EVENTUAL config');
  const provisioned = replicaRefusals(
    target({ replicas: ['eu-west-1'] }),
    { exists: false, itemCount: 0 },
    targetTableSpec(undefined, {
      keySchema: key,
      billingMode: 'PROVISIONED',
      provisionedThroughput: { readCapacityUnits: 5, writeCapacityUnits: 5 },
      replicas: ['eu-west-1'],
    }),
  );
  assert.match(provisioned.map((r) => r.message).join(), /auto scaling/);
});
