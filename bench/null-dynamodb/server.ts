/**
 * A null DynamoDB: a loopback HTTP server speaking just enough of the DynamoDB and DynamoDB Streams JSON protocols for
 * a backfill run, doing as little as it can, so that a client's throughput is bounded by the client alone (its CPU),
 * not by the service. Scan pages are pre-serialized (pages.ts), BatchWriteItem is acknowledged after counting its
 * requests, the source's stream has one open shard with no records. Unknown operations are answered
 * UnknownOperationException and counted, so a client calling something new shows up in the stats.
 *
 * Tables: every name exists. `source` holds the dataset and has a stream; a name ending in `_pk` has the key `pk`
 * (string), any other the key `id` (string), as the dataset's. Control operations (X-Amz-Target NullDynamoDB.Stats,
 * NullDynamoDB.Reset) read and reset the counters.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ScanPages } from './pages.js';

export interface NullStats {
  requests: number;
  scans: number;
  batchWrites: number;
  puts: number;
  deletes: number;
  streamCalls: number;
  /** Operations the server does not speak, by name. */
  unknown: Record<string, number>;
  /** Every operation seen, by name. */
  operations: Record<string, number>;
}

const SOURCE = 'source';
const CREATED = 1_700_000_000;
const ACCOUNT = '000000000000';
const tableArn = (t: string): string => `arn:aws:dynamodb:us-east-1:${ACCOUNT}:table/${t}`;
const STREAM_LABEL = '2023-11-14T22:13:20.000';
const streamArn = (t: string): string => `${tableArn(t)}/stream/${STREAM_LABEL}`;
const SHARD = 'shardId-00000001700000000000-00000000';

function emptyStats(): NullStats {
  return { requests: 0, scans: 0, batchWrites: 0, puts: 0, deletes: 0, streamCalls: 0, unknown: {}, operations: {} };
}

export class NullDynamoDb {
  stats = emptyStats();
  private server: Server | undefined;

  constructor(private readonly pages: ScanPages) {}

  async listen(port = 0): Promise<string> {
    this.server = createServer((req, res) => this.handle(req, res));
    this.server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const target = String(req.headers['x-amz-target'] ?? '');
      const operation = target.slice(target.indexOf('.') + 1);
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      try {
        this.stats.requests++;
        this.stats.operations[operation] = (this.stats.operations[operation] ?? 0) + 1;
        const out = this.answer(target, operation, body);
        if (out === undefined) {
          this.stats.unknown[operation] = (this.stats.unknown[operation] ?? 0) + 1;
          process.stderr.write(`null-dynamodb: unknown operation ${target}\n`);
          return send(res, 400, error('UnknownOperationException', `the null DynamoDB does not speak ${target}`));
        }
        send(res, 200, out);
      } catch (err) {
        send(res, 400, error('ValidationException', err instanceof Error ? err.message : String(err)));
      }
    });
  }

  private answer(target: string, operation: string, body: Buffer): Buffer | string | undefined {
    if (target.startsWith('NullDynamoDB.')) {
      if (operation === 'Reset') this.stats = emptyStats();
      return JSON.stringify(this.stats);
    }
    if (target.startsWith('DynamoDBStreams_')) {
      this.stats.streamCalls++;
      return this.streams(operation, body);
    }
    switch (operation) {
      case 'Scan':
        return this.scan(body);
      case 'BatchWriteItem':
        return this.batchWrite(body);
      case 'DescribeTable': {
        const { TableName } = JSON.parse(body.toString()) as { TableName: string };
        return JSON.stringify({ Table: this.describe(TableName) });
      }
      case 'DescribeTimeToLive':
        return JSON.stringify({ TimeToLiveDescription: { TimeToLiveStatus: 'DISABLED' } });
      case 'DescribeContinuousBackups':
        return JSON.stringify({
          ContinuousBackupsDescription: {
            ContinuousBackupsStatus: 'ENABLED',
            PointInTimeRecoveryDescription: { PointInTimeRecoveryStatus: 'DISABLED' },
          },
        });
      case 'ListTagsOfResource':
        return JSON.stringify({ Tags: [] });
      default:
        return undefined;
    }
  }

  private scan(body: Buffer): Buffer {
    this.stats.scans++;
    const r = JSON.parse(body.toString()) as {
      TableName: string;
      Segment?: number;
      TotalSegments?: number;
      Limit?: number;
      ExclusiveStartKey?: { id?: { S?: string } };
    };
    if (r.TableName !== SOURCE) return Buffer.from('{"Items":[],"Count":0,"ScannedCount":0,"ConsumedCapacity":{"CapacityUnits":1}}');
    return this.pages.page(r.TotalSegments ?? 1, r.Segment ?? 0, r.Limit ?? 1000, r.ExclusiveStartKey?.id?.S);
  }

  private batchWrite(body: Buffer): string {
    this.stats.batchWrites++;
    const puts = count(body, PUT);
    const deletes = count(body, DELETE);
    this.stats.puts += puts;
    this.stats.deletes += deletes;
    // {"RequestItems":{"<table>":[ …; the SDK writes the map's key first.
    const m = /^\{"RequestItems":\{"([^"]+)"/.exec(body.subarray(0, 300).toString());
    const table = m?.[1] ?? 'unknown';
    const units = Math.max(1, Math.ceil(body.length / 1024));
    return `{"UnprocessedItems":{},"ConsumedCapacity":[{"TableName":"${table}","CapacityUnits":${units}}]}`;
  }

  private describe(table: string): object {
    const key = table.endsWith('_pk') ? 'pk' : 'id';
    const source = table === SOURCE;
    return {
      TableName: table,
      TableArn: tableArn(table),
      TableId: `00000000-0000-0000-0000-${String(table.length).padStart(12, '0')}`,
      TableStatus: 'ACTIVE',
      CreationDateTime: CREATED,
      KeySchema: [{ AttributeName: key, KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: key, AttributeType: 'S' }],
      BillingModeSummary: { BillingMode: 'PAY_PER_REQUEST', LastUpdateToPayPerRequestDateTime: CREATED },
      ProvisionedThroughput: { ReadCapacityUnits: 0, WriteCapacityUnits: 0, NumberOfDecreasesToday: 0 },
      ItemCount: source ? this.pages.items : 0,
      TableSizeBytes: source ? this.pages.items * 1000 : 0,
      ...(source
        ? {
            StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
            LatestStreamArn: streamArn(table),
            LatestStreamLabel: STREAM_LABEL,
          }
        : {}),
    };
  }

  private streams(operation: string, body: Buffer): string | undefined {
    const r = JSON.parse(body.toString()) as { TableName?: string; StreamArn?: string; ShardIterator?: string };
    switch (operation) {
      case 'ListStreams':
        return JSON.stringify({
          Streams:
            r.TableName === undefined || r.TableName === SOURCE
              ? [{ StreamArn: streamArn(SOURCE), TableName: SOURCE, StreamLabel: STREAM_LABEL }]
              : [],
        });
      case 'DescribeStream':
        return JSON.stringify({
          StreamDescription: {
            StreamArn: r.StreamArn,
            StreamLabel: STREAM_LABEL,
            StreamStatus: 'ENABLED',
            StreamViewType: 'NEW_AND_OLD_IMAGES',
            CreationRequestDateTime: CREATED,
            TableName: SOURCE,
            KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
            Shards: [{ ShardId: SHARD, SequenceNumberRange: { StartingSequenceNumber: '100000000000000000001' } }],
          },
        });
      case 'GetShardIterator':
        return JSON.stringify({ ShardIterator: `iterator-${SHARD}` });
      case 'GetRecords':
        return JSON.stringify({ Records: [], NextShardIterator: r.ShardIterator });
      default:
        return undefined;
    }
  }
}

const PUT = Buffer.from('"PutRequest"');
const DELETE = Buffer.from('"DeleteRequest"');

function count(body: Buffer, needle: Buffer): number {
  let n = 0;
  for (let i = body.indexOf(needle); i >= 0; i = body.indexOf(needle, i + needle.length)) n++;
  return n;
}

function error(type: string, message: string): string {
  return JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${type}`, message });
}

function send(res: ServerResponse, status: number, body: Buffer | string): void {
  res.writeHead(status, {
    'content-type': 'application/x-amz-json-1.0',
    'content-length': typeof body === 'string' ? Buffer.byteLength(body) : body.length,
    'x-amzn-requestid': 'null',
  });
  res.end(body);
}
