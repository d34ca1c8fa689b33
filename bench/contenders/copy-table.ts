/**
 * The npm package copy-dynamodb-table (aws-sdk v2) at its best settings: keep-alive sockets (the v2 SDK opens a new
 * connection per request by default) and a DocumentClient with wrapNumbers, without which it rounds every number
 * beyond 15–17 significant digits (the dataset's 38-digit numbers would arrive changed). It has no concurrency or
 * page-size setting: it scans 25 items, writes them, and repeats.
 *
 * It copies at a constant rate, so the benchmark may cap it at `maxSeconds` and report the rate over that window.
 */
import { Agent } from 'node:http';
import { createRequire } from 'node:module';

const requireHere = createRequire(import.meta.url);
process.env.AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE ??= '1';

type Callback = (err: unknown, data?: unknown) => void;
interface V2DocumentClient {
  scan(params: unknown, cb: Callback): unknown;
  batchWrite(params: { RequestItems: Record<string, unknown[]> }, cb: Callback): unknown;
}
interface V2 {
  DynamoDB: (new (config: unknown) => unknown) & { DocumentClient: new (opts: unknown) => V2DocumentClient };
}

export interface CopyTableResult {
  copied: number;
  seconds: number;
  complete: boolean;
}

export async function copyDynamodbTable(
  endpoint: string,
  source: string,
  target: string,
  opts: { maxSeconds: number; keepAlive?: boolean },
): Promise<CopyTableResult> {
  const pkgPath = requireHere.resolve('copy-dynamodb-table');
  const { copy } = requireHere(pkgPath) as { copy: (values: unknown, fn: Callback) => void };
  // The aws-sdk v2 that copy-dynamodb-table itself depends on.
  const AWS = createRequire(pkgPath)('aws-sdk') as V2;
  const config = {
    region: 'us-east-1',
    endpoint,
    accessKeyId: 'local',
    secretAccessKey: 'local',
    maxRetries: 10,
    ...(opts.keepAlive !== false ? { httpOptions: { agent: new Agent({ keepAlive: true, maxSockets: 50 }) } } : {}),
  };
  const service = new AWS.DynamoDB(config);
  const docs = new AWS.DynamoDB.DocumentClient({ service, wrapNumbers: true });

  const started = Date.now();
  const deadline = started + opts.maxSeconds * 1000;
  let copied = 0;
  let stoppedByLimit = false;
  // Wrap the two calls it makes: stop it at the deadline, and count what lands.
  const sourceClient = {
    scan: (params: unknown, cb: Callback) => {
      if (Date.now() >= deadline) {
        stoppedByLimit = true;
        return cb(Object.assign(new Error('benchmark time limit'), { code: 'BENCH_TIME_LIMIT' }));
      }
      return docs.scan(params, cb);
    },
  };
  const destinationClient = {
    batchWrite: (params: { RequestItems: Record<string, unknown[]> }, cb: Callback) => {
      const sent = params.RequestItems[target]?.length ?? 0;
      return docs.batchWrite(params, (err, data) => {
        if (!err) copied += sent - ((data as { UnprocessedItems?: Record<string, unknown[]> })?.UnprocessedItems?.[target]?.length ?? 0);
        cb(err, data);
      });
    },
  };
  await new Promise<void>((resolve, reject) => {
    copy(
      {
        config,
        source: { tableName: source, dynamoClient: sourceClient, dynamodb: service, active: true },
        destination: { tableName: target, dynamoClient: destinationClient, dynamodb: service, active: true },
        log: false,
        create: false,
      },
      (err: unknown) => {
        if (err && !stoppedByLimit) reject(err instanceof Error ? err : new Error(JSON.stringify(err)));
        else resolve();
      },
    );
  });
  const seconds = (Date.now() - started) / 1000;
  config.httpOptions?.agent.destroy();
  return { copied, seconds, complete: !stoppedByLimit };
}
