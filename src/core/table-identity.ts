/**
 * Which table an endpoint really names, as DynamoDB reports it. Endpoint strings can't tell: `localhost` and
 * `127.0.0.1` (or a VPC endpoint and the public one, or two profiles of one account) reach the same table.
 */
export interface TableIdentity {
  /** DescribeTable's TableArn. */
  arn?: string;
  /** DescribeTable's TableId: unique per table creation, so a dropped and re-created table differs. */
  tableId?: string;
  /** CreationDateTime (ISO), to tell apart same-named tables of two emulators that report no TableId. */
  createdAt?: string;
}

/**
 * True when both describe one table: equal TableIds; or, where a side has no TableId, an equal ARN *and* creation
 * time (two DynamoDB Local instances give the same ARN to same-named tables, so the ARN alone would confuse them).
 */
export function sameTable(a: TableIdentity | undefined, b: TableIdentity | undefined): boolean {
  if (!a || !b) return false;
  if (a.tableId && b.tableId) return a.tableId === b.tableId;
  return a.arn !== undefined && a.arn === b.arn && a.createdAt !== undefined && a.createdAt === b.createdAt;
}
