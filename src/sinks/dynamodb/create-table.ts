import {
  CreateTableCommand,
  DescribeTimeToLiveCommand,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { errorName } from '../../aws/errors.js';
import { createTableInput, type TableSpec } from './table-spec.js';

/** Creates the target table, waits until it is ACTIVE, then enables TTL (which needs an existing table). */
export async function createTable(client: DynamoDBClient, table: string, spec: TableSpec): Promise<void> {
  try {
    await client.send(new CreateTableCommand(createTableInput(table, spec)));
  } catch (err) {
    // Another runner (or a crashed earlier run) created it between our check and now: fine.
    if (errorName(err) !== 'ResourceInUseException') throw err;
  }
  await waitUntilTableExists({ client, maxWaitTime: 600, minDelay: 1, maxDelay: 10 }, { TableName: table });
  if (spec.ttlAttribute) {
    const current = await client.send(new DescribeTimeToLiveCommand({ TableName: table }));
    const status = current.TimeToLiveDescription?.TimeToLiveStatus;
    if (status === 'ENABLED' || status === 'ENABLING') return; // a resumed run already did it
    await client.send(new UpdateTimeToLiveCommand({
      TableName: table,
      TimeToLiveSpecification: { AttributeName: spec.ttlAttribute, Enabled: true },
    }));
  }
}
