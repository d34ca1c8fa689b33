import { DeleteItemCommand, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { WriteOp } from '../../core/write-op.js';

/**
 * Version-guarded writes (config `guard.versionAttribute`): a put lands only if the stored item is absent or not newer
 * than the incoming one; a delete only if the stored item is not newer than the version being deleted. Numbers
 * compare as numbers, ISO-8601 strings (same format and zone) compare lexicographically — DynamoDB does both in the
 * condition, so the check and the write are one atomic step.
 *
 * "Not newer" (<=) rather than "older" (<): a replayed change of the same version must still apply (idempotence).
 */
export function guardedCommand(op: WriteOp, table: string, versionAttribute: string, keyNames: string[]): PutItemCommand | DeleteItemCommand {
  const names: Record<string, string> = { '#v': versionAttribute, '#k': keyNames[0]! };
  if (op.kind === 'put') {
    const version = op.item[versionAttribute];
    return new PutItemCommand({
      TableName: table,
      Item: op.item,
      ReturnConsumedCapacity: 'TOTAL',
      ExpressionAttributeNames: names,
      ...(version
        ? { ConditionExpression: 'attribute_not_exists(#k) OR attribute_not_exists(#v) OR #v <= :v', ExpressionAttributeValues: { ':v': version } }
        : // An unversioned incoming item can only fill a gap or replace another unversioned one.
          { ConditionExpression: 'attribute_not_exists(#k) OR attribute_not_exists(#v)' }),
    });
  }
  const version: AttributeValue | undefined = op.previous?.[versionAttribute];
  return new DeleteItemCommand({
    TableName: table,
    Key: op.key,
    ReturnConsumedCapacity: 'TOTAL',
    ExpressionAttributeNames: { '#v': versionAttribute },
    ...(version
      ? { ConditionExpression: 'attribute_not_exists(#v) OR #v <= :v', ExpressionAttributeValues: { ':v': version } }
      : { ConditionExpression: 'attribute_not_exists(#v)' }),
  });
}
