import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  ListMultipartUploadsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { fromIni, fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { DynashiftError } from '../errors.js';
import { errorName } from './errors.js';
import { withoutSdkLogging } from './sdk-logging.js';
import { isLoopback } from './clients.js';

/**
 * S3 access for export files (reading DynamoDB exports, writing export-format targets). Works with S3 itself and with
 * S3-compatible servers on an endpoint (s3rver in the tests, MinIO), which need path-style addressing.
 */
export interface S3Access {
  region?: string;
  /** Custom endpoint (s3rver, MinIO, a VPC endpoint). */
  endpoint?: string;
  /** Path-style URLs (http://host/bucket/key); default true when an endpoint is set. */
  forcePathStyle?: boolean;
  profile?: string;
  roleArn?: string;
  externalId?: string;
  /** Explicit credentials (tests); otherwise the standard chain, `profile` or `roleArn`. */
  credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
}

export interface S3Uri {
  bucket: string;
  /** Key prefix without a leading slash; '' for the bucket root. Kept as given (with or without a trailing slash). */
  prefix: string;
}

export function isS3Uri(uri: string): boolean {
  return uri.startsWith('s3://');
}

export function parseS3Uri(uri: string): S3Uri {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!m || !m[1]) {
    throw new DynashiftError('CONFIG_INVALID', `not an S3 URI: ${JSON.stringify(uri)}`, {
      hint: 'write it as s3://bucket/prefix',
      exitCode: 2,
    });
  }
  return { bucket: m[1], prefix: m[2] ?? '' };
}

export function s3ClientFor(access: S3Access = {}): S3Client {
  const region = access.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
  const credentials = access.credentials ?? credentialsFor(access, region);
  const config: S3ClientConfig = {
    region,
    // Bulk transfers: throttling (503 SlowDown) is expected, not exceptional.
    maxAttempts: 10,
    // We verify content with the export's own MD5s; the SDK's default CRC trailers (aws-chunked uploads) are not
    // understood by every S3-compatible server.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...(access.endpoint ? { endpoint: access.endpoint, forcePathStyle: access.forcePathStyle ?? true } : {}),
    ...(access.forcePathStyle !== undefined && !access.endpoint ? { forcePathStyle: access.forcePathStyle } : {}),
    ...(credentials ? { credentials } : {}),
  };
  return withoutSdkLogging(new S3Client(config));
}

function credentialsFor(access: S3Access, region: string): AwsCredentialIdentityProvider | undefined {
  let base: AwsCredentialIdentityProvider | undefined = access.profile ? fromIni({ profile: access.profile }) : undefined;
  if (!base && !access.roleArn && isLoopback(access.endpoint) && !process.env.AWS_ACCESS_KEY_ID && !process.env.AWS_PROFILE) {
    // A local S3 stand-in; s3rver accepts exactly these.
    base = async () => ({ accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' });
  }
  if (!access.roleArn) return base;
  return fromTemporaryCredentials({
    params: { RoleArn: access.roleArn, RoleSessionName: 'dynashift', ...(access.externalId ? { ExternalId: access.externalId } : {}) },
    ...(base ? { masterCredentials: base } : {}),
    clientConfig: { region },
  });
}

/** The object's bytes, or undefined when it does not exist. */
export async function getObjectBytes(client: S3Client, bucket: string, key: string, signal?: AbortSignal): Promise<Buffer | undefined> {
  const body = await getObjectStream(client, bucket, key, signal);
  if (!body) return undefined;
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A stream of the object's bytes, or undefined when it does not exist. */
export async function getObjectStream(client: S3Client, bucket: string, key: string, signal?: AbortSignal): Promise<Readable | undefined> {
  try {
    const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }), signal ? { abortSignal: signal } : {});
    return res.Body as Readable;
  } catch (err) {
    if (errorName(err) === 'NoSuchKey' || httpStatus(err) === 404) return undefined;
    throw s3Error(err, 'read', bucket, key);
  }
}

/** A single PUT with Content-MD5, so S3 refuses a body damaged in transit. */
export async function putObjectBytes(client: S3Client, bucket: string, key: string, body: Buffer, signal?: AbortSignal): Promise<{ etag: string }> {
  try {
    const res = await client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: body,
        ContentMD5: createHash('md5').update(body).digest('base64'),
      }),
      signal ? { abortSignal: signal } : {},
    );
    return { etag: stripQuotes(res.ETag ?? '') };
  } catch (err) {
    throw s3Error(err, 'write', bucket, key);
  }
}

/** A multipart upload of a stream of unknown length (lib-storage); memory is bounded by partSize × queueSize. */
export async function uploadStream(
  client: S3Client,
  bucket: string,
  key: string,
  body: Readable,
  opts: { partSize?: number; signal?: AbortSignal } = {},
): Promise<{ etag: string }> {
  const upload = new Upload({
    client,
    params: { Bucket: bucket, Key: key, Body: body },
    partSize: opts.partSize ?? 8 * 1024 * 1024,
    queueSize: 4,
    // A failed upload must not leave parts behind that cost storage forever.
    leavePartsOnError: false,
  });
  const onAbort = (): void => void upload.abort().catch(() => {});
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const res = await upload.done();
    return { etag: stripQuotes(('ETag' in res ? res.ETag : undefined) ?? '') };
  } catch (err) {
    throw s3Error(err, 'write', bucket, key);
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
}

export interface S3Listing {
  /** Full keys of the objects. */
  keys: string[];
  /** Full "folder" prefixes (ending with the delimiter) when a delimiter was given. */
  prefixes: string[];
}

export async function listObjects(client: S3Client, bucket: string, prefix: string, delimiter?: string): Promise<S3Listing> {
  const out: S3Listing = { keys: [], prefixes: [] };
  let token: string | undefined;
  do {
    let res;
    try {
      res = await client.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: prefix,
          ...(delimiter ? { Delimiter: delimiter } : {}),
          ...(token ? { ContinuationToken: token } : {}),
        }),
      );
    } catch (err) {
      throw s3Error(err, 'list', bucket, prefix);
    }
    for (const o of res.Contents ?? []) if (o.Key !== undefined) out.keys.push(o.Key);
    for (const p of res.CommonPrefixes ?? []) if (p.Prefix !== undefined) out.prefixes.push(p.Prefix);
    token = res.IsTruncated ? res.NextContinuationToken : undefined;
  } while (token);
  return out;
}

export async function deleteObjects(client: S3Client, bucket: string, keys: string[]): Promise<void> {
  for (let i = 0; i < keys.length; i += 1000) {
    const batch = keys.slice(i, i + 1000);
    try {
      if (batch.length === 1) {
        await deleteOne(client, bucket, batch[0]!);
        continue;
      }
      const res = await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }));
      const failed = res.Errors ?? [];
      if (failed.length > 0) {
        throw new DynashiftError(
          'AWS_ERROR',
          `S3 refused to delete ${failed.length} object(s) in ${bucket}, e.g. ${failed[0]?.Key}: ${failed[0]?.Code} ${failed[0]?.Message}`,
          {
            hint: 'grant s3:DeleteObject on the export location',
          },
        );
      }
    } catch (err) {
      if (err instanceof DynashiftError) throw err;
      // Some S3-compatible servers (s3rver) lack the batch DeleteObjects call: fall back to one call per key.
      if (errorName(err) === 'NotImplemented') {
        for (const key of batch) await deleteOne(client, bucket, key);
        continue;
      }
      throw s3Error(err, 'delete', bucket, batch[0] ?? '');
    }
  }
}

async function deleteOne(client: S3Client, bucket: string, key: string): Promise<void> {
  try {
    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  } catch (err) {
    throw s3Error(err, 'delete', bucket, key);
  }
}

/**
 * Aborts unfinished multipart uploads under a prefix: a process killed mid-upload leaves parts that cost storage
 * until aborted. Best effort: servers without ListMultipartUploads (s3rver) are skipped.
 */
export async function abortMultipartUploads(client: S3Client, bucket: string, prefix: string): Promise<number> {
  let aborted = 0;
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  try {
    do {
      const res = await client.send(
        new ListMultipartUploadsCommand({
          Bucket: bucket,
          Prefix: prefix,
          ...(keyMarker ? { KeyMarker: keyMarker } : {}),
          ...(uploadIdMarker ? { UploadIdMarker: uploadIdMarker } : {}),
        }),
      );
      for (const u of res.Uploads ?? []) {
        if (!u.Key || !u.UploadId) continue;
        await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key, UploadId: u.UploadId }));
        aborted++;
      }
      keyMarker = res.IsTruncated ? res.NextKeyMarker : undefined;
      uploadIdMarker = res.IsTruncated ? res.NextUploadIdMarker : undefined;
    } while (keyMarker);
  } catch (err) {
    if (errorName(err) === 'NotImplemented') return aborted;
    throw s3Error(err, 'delete', bucket, prefix);
  }
  return aborted;
}

/** An S3 failure as a typed error that names the object and the permission it needs. */
export function s3Error(err: unknown, action: 'read' | 'write' | 'list' | 'delete', bucket: string, key: string): DynashiftError {
  const name = errorName(err) || 'Error';
  const permission = { read: 's3:GetObject', write: 's3:PutObject', list: 's3:ListBucket', delete: 's3:DeleteObject' }[action];
  const hint =
    name === 'NoSuchBucket'
      ? `bucket ${bucket} does not exist (or is in another partition/endpoint); check the s3:// URI and the region/endpoint`
      : name === 'AccessDenied' || httpStatus(err) === 403
        ? `grant ${permission} on arn:aws:s3:::${bucket}/${key}*`
        : 'check the S3 URI, region and credentials; retry if the network failed';
  return new DynashiftError('AWS_ERROR', `S3 ${action} of s3://${bucket}/${key} failed: ${name}: ${(err as Error)?.message ?? String(err)}`, {
    hint,
    cause: err,
    details: { bucket, key, action, name },
  });
}

function httpStatus(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

function stripQuotes(etag: string): string {
  return etag.replace(/^"|"$/g, '');
}
