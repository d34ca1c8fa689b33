/**
 * The sink conformance suite (sink-conformance.ts) run against the DynamoDB driver: the same contract and
 * crash/resume scenario the PostgreSQL sink passes (postgres.conformance.test.ts).
 *
 * The targets live in DynamoDB Local by default. DYNASHIFT_CONFORMANCE_ENDPOINT=http://host:8000 points the targets at
 * another DynamoDB-compatible endpoint instead (ScyllaDB Alternator, docs/alternator.md); credentials then come from
 * the standard AWS chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE). The crash scenario's source
 * always is a DynamoDB Local, which has the stream the migration reads.
 *
 * Run: node --import tsx --test test/conformance/dynamodb.conformance.test.ts   (SEEDS=N for more crash seeds)
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { clientsFor } from '../../src/aws/clients.js';
import { roleFor } from '../../src/aws/errors.js';
import type { KeySchema } from '../../src/core/item.js';
import { startDynamoDbLocal, type DynamoDbLocal } from '../../src/local/dynamodb-local.js';
import { dynamoDbDriver } from '../../src/sinks/dynamodb/dynamodb-driver.js';
import { scanAll } from '../support/independent-scan.js';
import { sinkConformance, type ScenarioContext, type SinkUnderTest } from './sink-conformance.js';

const EXTERNAL = process.env.DYNASHIFT_CONFORMANCE_ENDPOINT;
const REGION = 'us-east-1';
// Table names unique per run, so an external endpoint can be reused without cleaning up first.
const RUN = Date.now().toString(36);

let local: DynamoDbLocal | undefined;
let endpoint = EXTERNAL ?? '';
let client: DynamoDBClient | undefined;
let tables = 0;

const targetEndpoint = (ctx: ScenarioContext): string => EXTERNAL ?? ctx.endpoint;

const sut: SinkUnderTest = {
  kind: 'dynamodb',
  async start() {
    if (!EXTERNAL) {
      local = await startDynamoDbLocal();
      endpoint = local.endpoint;
    }
    client = clientsFor({ table: 'conformance', endpoint, region: REGION }, roleFor('target', 'target', { table: 'conformance' })).dynamodb;
  },
  async stop() {
    client?.destroy();
    await local?.stop();
  },
  async openTarget(keySchema: KeySchema) {
    const table = `conformance_${RUN}_${++tables}`;
    const target = { table, endpoint, region: REGION, create: { keySchema } };
    const inspection = await dynamoDbDriver.inspect('t', target, {});
    if (inspection.refusals.length > 0) throw new Error(JSON.stringify(inspection.refusals));
    await dynamoDbDriver.prepare('t', target, inspection);
    const sink = dynamoDbDriver.open('t', target, { keySchema, concurrency: 4 });
    return { sink, readAll: () => scanAll(client!, table), close: async () => {} };
  },
  // DynamoDB refuses items over 400 KB (dynamodb-semantics §6).
  rejectableItem: (key) => ({ ...key, payload: { S: 'x'.repeat(410 * 1024) } }),
  guardsBySequence: 'DynamoDbSink writes with unconditional BatchWriteItem; the engine orders every backfill write before the replay instead',

  cliTarget: (ctx, table, keySchema) => ({
    table: EXTERNAL ? `${table}_${RUN}_${ctx.seed}` : table,
    endpoint: targetEndpoint(ctx),
    region: REGION,
    create: { keySchema },
  }),
  readTarget: async (ctx, table) => {
    if (!EXTERNAL) return scanAll(ctx.client, table);
    const external = clientsFor({ table, endpoint: EXTERNAL, region: REGION }, roleFor('target', 'target', { table })).dynamodb;
    try {
      return await scanAll(external, `${table}_${RUN}_${ctx.seed}`);
    } finally {
      external.destroy();
    }
  },
};

sinkConformance(sut);
