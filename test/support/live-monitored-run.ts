import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { spawnCli, type CliResult } from './cli.js';
import { createTable, type LocalDynamo } from './dynamodb-local.js';
import { mulberry32, runWorkload, seedItems } from './workload.js';

/** One item the transform refuses, so that a dead letter exists (the run is in `dead-letter` mode). */
export const POISON_ID = 'poison-order-1';
const TRANSFORM = `export default (item) => {
  if (item.id === '${POISON_ID}') throw new Error('refusing the poison order on purpose');
  return { ...item, migrated: true };
};
`;

export interface MonitoredRun {
  /** The dashboard's address, from the run's own log line (the run picks a free port). */
  url: string;
  /** The run's dead-letter file. */
  deadLetterFile: string;
  /** The application starts writing to the source (call it once the backfill is done for exact backfill counts). */
  startWriter(): void;
  stop(): Promise<CliResult>;
  stderr(): string;
}

/**
 * A live migration on DynamoDB Local as an operator starts it: `dynashift run --metrics-port 0`, the application
 * writing to the source (once startWriter is called), and one item the transform refuses (dead-lettered, not halted).
 */
export async function startMonitoredRun(local: LocalDynamo, opts: { items: number; segments: number }): Promise<MonitoredRun> {
  const { client, endpoint } = local;
  const dir = mkdtempSync(join(tmpdir(), 'dynashift-monitor-'));
  await createTable(client, { name: 'orders', partitionKey: { name: 'id', type: 'S' }, streamViewType: 'NEW_AND_OLD_IMAGES' });
  await seedItems(client, 'orders', opts.items, mulberry32(7));
  await client.send(new PutItemCommand({ TableName: 'orders', Item: { id: { S: POISON_ID }, grp: { S: 'alpha' } } }));
  writeFileSync(join(dir, 'transform.mjs'), TRANSFORM);
  const cfg = join(dir, 'dynashift.config.json');
  writeFileSync(
    cfg,
    JSON.stringify(
      {
        name: 'monitored',
        source: { table: 'orders', endpoint, region: 'us-east-1' },
        target: { table: 'orders_v2', endpoint, region: 'us-east-1' },
        transform: './transform.mjs',
        onError: 'dead-letter',
        backfill: { segments: opts.segments, concurrency: 2, pageSize: 100 },
        stream: { pollIntervalMs: 100, discoveryIntervalMs: 500 },
      },
      null,
      2,
    ),
  );

  const writerStop = new AbortController();
  let writer: Promise<unknown> = Promise.resolve();
  const startWriter = (): void => {
    writer = runWorkload(client, 'orders', { rng: mulberry32(8), idSpace: opts.items + 200, concurrency: 1, signal: writerStop.signal });
  };
  const child = spawnCli(['run', '-c', cfg, '--no-progress', '--log-format', 'json', '--metrics-port', '0']);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const stop = async (): Promise<CliResult> => {
    writerStop.abort();
    await writer;
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    return child.result;
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    const line = stderr.split('\n').find((l) => l.includes('"dashboard"'));
    if (line)
      return {
        url: (JSON.parse(line) as { dashboard: string }).dashboard,
        deadLetterFile: join(dir, '.dynashift', 'monitored', 'dead-letter.jsonl'),
        startWriter,
        stop,
        stderr: () => stderr,
      };
    if (child.exitCode !== null || Date.now() > deadline) {
      const result = await stop();
      throw new Error(`the run never announced its dashboard (exit ${result.code}):\n${result.stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
