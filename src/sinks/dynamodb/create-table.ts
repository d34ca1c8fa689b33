import {
  CreateTableCommand,
  DescribeTimeToLiveCommand,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { errorName } from '../../aws/errors.js';
import { createTableInput, type TableSpec } from './table-spec.js';
import { addReplicas } from './replicas.js';

/** Creates the target table, waits until it is ACTIVE, then enables TTL (which needs an existing table). */
export async function createTable(client: DynamoDBClient, table: string, spec: TableSpec, opts: { replicaPollMs?: number } = {}): Promise<void> {
  try {
    await client.send(new CreateTableCommand(createTableInput(table, spec)));
  } catch (err) {
    // Another runner (or a crashed earlier run) created it between our check and now: fine.
    if (errorName(err) !== 'ResourceInUseException') throw err;
  }
  await waitUntilTableExists({ client, maxWaitTime: 600, minDelay: 1, maxDelay: 10 }, { TableName: table });
  // Replicas before anything else: a strongly consistent Global Table must still be empty when they are added.
  if (spec.replicas) await addReplicas(client, table, spec.replicas, opts.replicaPollMs ? { pollMs: opts.replicaPollMs } : {});
  if (spec.ttlAttribute) {
    const current = await client.send(new DescribeTimeToLiveCommand({ TableName: table }));
    const status = current.TimeToLiveDescription?.TimeToLiveStatus;
    if (status === 'ENABLED' || status === 'ENABLING') return; // a resumed run already did it
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: table,
        TimeToLiveSpecification: { AttributeName: spec.ttlAttribute, Enabled: true },
      }),
    );
  }
}
