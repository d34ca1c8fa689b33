import { ArnFormat, Stack } from 'aws-cdk-lib';
import { PolicyStatement, type IGrantable } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';
import type { DynashiftTableProps } from './props.js';

/**
 * Least privilege: every DynamoDB action is granted on the named tables (or their streams) only, never on "*", and a
 * table reached through a role gets exactly `sts:AssumeRole` on that role instead.
 */
export const ACTIONS = {
  sourceInspect: ['dynamodb:DescribeTable', 'dynamodb:DescribeTimeToLive', 'dynamodb:DescribeContinuousBackups', 'dynamodb:Scan'],
  sourceStreamOpen: ['dynamodb:DescribeStream'],
  sourceScan: ['dynamodb:Scan'],
  /** The Replay task's consistent read of each spooled key. */
  sourceRead: ['dynamodb:GetItem'],
  /** What Lambda's event source mapping needs on the stream, with the function's own role. */
  streamRead: ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator', 'dynamodb:ListStreams'],
  targetInspect: ['dynamodb:DescribeTable', 'dynamodb:DescribeTimeToLive', 'dynamodb:DescribeContinuousBackups'],
  targetCreate: ['dynamodb:CreateTable', 'dynamodb:UpdateTimeToLive', 'dynamodb:UpdateTable'],
  targetWrite: ['dynamodb:BatchWriteItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem'],
  /** The touch strategy's marker updates on the source. */
  sourceTouch: ['dynamodb:UpdateItem'],
  /** export.start: Prepare takes the export (PITR must be on) and polls it. */
  exportStart: ['dynamodb:ExportTableToPointInTime', 'dynamodb:DescribeContinuousBackups'],
  exportDescribe: ['dynamodb:DescribeExport'],
} as const;

/** Read access to an export's objects (manifests, data files) under its bucket and prefix, and listing that prefix. */
export function grantExportRead(grantee: IGrantable, location: { bucket: string; prefix?: string }): void {
  const prefix = (location.prefix ?? '').replace(/^\/+|\/+$/g, '');
  grantee.grantPrincipal.addToPrincipalPolicy(
    new PolicyStatement({ actions: ['s3:GetObject'], resources: [`arn:aws:s3:::${location.bucket}/${prefix ? `${prefix}/` : ''}*`] }),
  );
  grantee.grantPrincipal.addToPrincipalPolicy(
    new PolicyStatement({
      actions: ['s3:ListBucket'],
      resources: [`arn:aws:s3:::${location.bucket}`],
      ...(prefix ? { conditions: { StringLike: { 's3:prefix': [`${prefix}/*`, prefix] } } } : {}),
    }),
  );
}

export function tableArn(scope: Construct, table: DynashiftTableProps): string {
  const stack = Stack.of(scope);
  return stack.formatArn({
    service: 'dynamodb',
    resource: 'table',
    resourceName: table.tableName,
    arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    ...(table.region ? { region: table.region } : {}),
    ...(table.account ? { account: table.account } : {}),
  });
}

/** Every stream of the named table (stream labels change when a stream is re-enabled; the table name does not). */
export function streamArns(scope: Construct, table: DynashiftTableProps): string {
  return `${tableArn(scope, table)}/stream/*`;
}

/** Grants `actions` on the table (or its streams), or only the role assumption when the table is reached by a role. */
export function grantTable(fn: IFunction, table: DynashiftTableProps, actions: readonly string[], on: 'table' | 'stream' = 'table'): void {
  if (table.roleArn) {
    grantAssumeRole(fn, table.roleArn);
    return;
  }
  fn.addToRolePolicy(new PolicyStatement({ actions: [...actions], resources: [on === 'table' ? tableArn(fn, table) : streamArns(fn, table)] }));
}

const assumed = new WeakMap<IFunction, Set<string>>();

export function grantAssumeRole(fn: IFunction, roleArn: string): void {
  const seen = assumed.get(fn) ?? new Set<string>();
  assumed.set(fn, seen);
  if (seen.has(roleArn)) return;
  seen.add(roleArn);
  fn.addToRolePolicy(new PolicyStatement({ actions: ['sts:AssumeRole'], resources: [roleArn] }));
}

/**
 * secretsmanager:GetSecretValue on exactly one secret. A full ARN is used as it is; a name (or an ARN without the
 * six-character suffix Secrets Manager appends) matches that suffix with `-??????`, never a wider wildcard.
 */
export function grantSecretRead(fn: IFunction, secret: string): void {
  const arn = secret.startsWith('arn:')
    ? secret
    : Stack.of(fn).formatArn({ service: 'secretsmanager', resource: 'secret', resourceName: secret, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
  const full = /-[A-Za-z0-9]{6}$/.test(arn) && secret.startsWith('arn:') ? arn : `${arn}-??????`;
  fn.addToRolePolicy(new PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [full] }));
}
