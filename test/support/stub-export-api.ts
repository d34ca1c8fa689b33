/**
 * A stand-in for DynamoDB's export API, which DynamoDB Local lacks: ExportTableToPointInTime, DescribeExport and
 * DescribeContinuousBackups, answered as AWS answers them. An export is made by a consistent Scan of the DynamoDB Local
 * table that starts at its ExportTime, written to s3rver in the DynamoDB-JSON export layout (gzipped data files, each
 * listed in manifest-files.json with its MD5 and item count; manifest-summary.json; their .md5 files) — the layout the
 * export reader checks. A Scan that starts at the export time is not a point-in-time image: every item reflects some
 * moment at or after the export time, which is exactly what the protocol's snapshot may be (docs/consistency.md), so
 * the catch-up after it must still converge.
 *
 * Like AWS, the same ClientToken returns the same export (what lets a retried Prepare find its export), and an export
 * stays IN_PROGRESS until its files are written and `minDurationMs` has passed.
 */
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ScanCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createHash, randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { ExportApiClient } from '../../src/sources/export/index.js';

export interface StubExportApi extends ExportApiClient {
  /** ExportTableToPointInTime calls, and the distinct exports they made. */
  readonly calls: { start: number; describe: number };
  readonly exports: { exportArn: string; prefix: string; files: number; items: number }[];
}

export function stubExportApi(opts: { dynamodb: DynamoDBClient; s3: S3Client; files: number; minDurationMs: number }): StubExportApi {
  const byToken = new Map<string, string>();
  const state = new Map<
    string,
    { status: 'IN_PROGRESS' | 'COMPLETED'; readyAt: number; bucket: string; prefix?: string; time: Date; items?: number }
  >();
  const calls = { start: 0, describe: 0 };
  const exports: StubExportApi['exports'] = [];

  const write = async (arn: string, table: string, bucket: string, prefix: string | undefined, time: Date): Promise<void> => {
    const exportId = arn.split('/').pop()!;
    const folder = `${prefix ? `${prefix}/` : ''}AWSDynamoDB/${exportId}/`;
    const put = (key: string, body: Buffer) => opts.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    const items: Record<string, unknown>[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await opts.dynamodb.send(
        new ScanCommand({ TableName: table, ConsistentRead: true, ...(start ? { ExclusiveStartKey: start as never } : {}) }),
      );
      items.push(...((page.Items ?? []) as Record<string, unknown>[]));
      start = page.LastEvaluatedKey as Record<string, unknown> | undefined;
    } while (start);
    await put(`${folder}_started`, Buffer.alloc(0));
    const manifest: string[] = [];
    for (let f = 0; f < opts.files; f++) {
      const mine = items.filter((_, i) => i % opts.files === f);
      const b64 = (_k: string, v: unknown): unknown => (v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v);
      const text = mine.map((Item) => JSON.stringify({ Item }, b64)).join('\n') + (mine.length ? '\n' : '');
      const gz = gzipSync(Buffer.from(text));
      const key = `${folder}data/${randomBytes(13).toString('hex').slice(0, 26)}.json.gz`;
      await put(key, gz);
      const md5 = createHash('md5').update(gz).digest();
      manifest.push(
        JSON.stringify({
          itemCount: mine.length,
          md5Checksum: md5.toString('base64'),
          etag: `${createHash('md5').update(md5).digest('hex')}-1`,
          dataFileS3Key: key,
        }),
      );
    }
    const filesText = manifest.join('\n') + '\n';
    await put(`${folder}manifest-files.json`, Buffer.from(filesText));
    await put(`${folder}manifest-files.md5`, Buffer.from(createHash('md5').update(filesText).digest('base64')));
    const summary = JSON.stringify({
      version: '2020-06-30',
      exportArn: arn,
      startTime: time.toISOString(),
      endTime: new Date().toISOString(),
      tableArn: arn.split('/export/')[0],
      tableId: '12345a12-abcd-123a-ab12-1234abc12345',
      exportTime: time.toISOString(),
      s3Bucket: bucket,
      s3Prefix: prefix ?? null,
      s3SseAlgorithm: 'AES256',
      s3SseKmsKeyId: null,
      manifestFilesS3Key: `${folder}manifest-files.json`,
      billedSizeBytes: 0,
      itemCount: items.length,
      outputFormat: 'DYNAMODB_JSON',
      exportType: 'FULL_EXPORT',
    });
    await put(`${folder}manifest-summary.json`, Buffer.from(summary));
    await put(`${folder}manifest-summary.md5`, Buffer.from(createHash('md5').update(summary).digest('base64')));
    const s = state.get(arn)!;
    s.items = items.length;
    s.status = 'COMPLETED';
    exports.push({ exportArn: arn, prefix: folder, files: opts.files, items: items.length });
  };

  const send = async (command: { constructor: { name: string }; input: Record<string, unknown> }): Promise<unknown> => {
    const input = command.input;
    switch (command.constructor.name) {
      case 'DescribeContinuousBackupsCommand':
        return {
          ContinuousBackupsDescription: {
            ContinuousBackupsStatus: 'ENABLED',
            PointInTimeRecoveryDescription: { PointInTimeRecoveryStatus: 'ENABLED' },
          },
        };
      case 'ExportTableToPointInTimeCommand': {
        calls.start++;
        const token = String(input.ClientToken);
        let arn = byToken.get(token);
        if (!arn) {
          const tableArn = String(input.TableArn);
          arn = `${tableArn}/export/${String(Date.now()).padStart(14, '0')}-${randomBytes(4).toString('hex')}`;
          byToken.set(token, arn);
          const time = new Date();
          const bucket = String(input.S3Bucket);
          const prefix = input.S3Prefix as string | undefined;
          state.set(arn, { status: 'IN_PROGRESS', readyAt: Date.now() + opts.minDurationMs, bucket, ...(prefix ? { prefix } : {}), time });
          void write(arn, tableArn.split(':table/')[1]!, bucket, prefix, time);
        }
        return { ExportDescription: { ExportArn: arn, ExportStatus: 'IN_PROGRESS' } };
      }
      case 'DescribeExportCommand': {
        calls.describe++;
        const s = state.get(String(input.ExportArn));
        if (!s) throw Object.assign(new Error(`export ${String(input.ExportArn)} not found`), { name: 'ExportNotFoundException' });
        const done = s.status === 'COMPLETED' && Date.now() >= s.readyAt;
        return {
          ExportDescription: {
            ExportArn: input.ExportArn,
            ExportStatus: done ? 'COMPLETED' : 'IN_PROGRESS',
            S3Bucket: s.bucket,
            ...(s.prefix ? { S3Prefix: s.prefix } : {}),
            ExportTime: s.time,
            ...(done ? { ItemCount: s.items } : {}),
          },
        };
      }
      default:
        throw new Error(`the stub export API has no ${command.constructor.name}`);
    }
  };
  return { send: send as unknown as ExportApiClient['send'], calls, exports };
}
