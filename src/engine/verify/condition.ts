import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { AttributeMap, KeySchema } from '../../core/item.js';
import { keyAttributeNames } from '../../core/item.js';

/** DynamoDB's limit on one expression string. */
export const MAX_EXPRESSION_CHARS = 4096;

export interface WriteCondition {
  ConditionExpression: string;
  ExpressionAttributeNames: Record<string, string>;
  ExpressionAttributeValues?: Record<string, AttributeValue>;
  /** False when the item had too many attributes to pin them all within the expression limit. */
  complete: boolean;
}

/**
 * A condition that holds only while the target item is still what verify observed, so a repair write can't clobber a
 * newer change that landed meanwhile:
 * - observed absent → the item must still not exist;
 * - observed present → it must exist, every observed attribute must still have its value (DynamoDB's `=` compares
 *   numbers by value and sets unordered, like verify), and every attribute the new version adds must still be absent.
 */
export function unchangedSince(observed: AttributeMap | undefined, keySchema: KeySchema, next?: AttributeMap): WriteCondition {
  const names: Record<string, string> = { '#k': keySchema.partitionKey.name };
  if (!observed) return { ConditionExpression: 'attribute_not_exists(#k)', ExpressionAttributeNames: names, complete: true };
  const values: Record<string, AttributeValue> = {};
  const terms = ['attribute_exists(#k)'];
  let length = terms[0]!.length;
  let complete = true;
  const keys = new Set(keyAttributeNames(keySchema));
  const add = (term: string, name: string, alias: string, value?: AttributeValue): void => {
    if (length + term.length + 5 > MAX_EXPRESSION_CHARS) {
      complete = false;
      return;
    }
    names[alias] = name;
    if (value) values[alias.replace('#', ':')] = value;
    terms.push(term);
    length += term.length + 5;
  };
  let i = 0;
  for (const name of Object.keys(observed).sort()) {
    if (keys.has(name)) continue; // the key is the item's identity: equal by construction
    const alias = `#a${i++}`;
    add(`${alias} = ${alias.replace('#', ':')}`, name, alias, observed[name]);
  }
  for (const name of Object.keys(next ?? {}).sort()) {
    if (name in observed || keys.has(name)) continue;
    const alias = `#a${i++}`;
    add(`attribute_not_exists(${alias})`, name, alias);
  }
  return {
    ConditionExpression: terms.join(' AND '),
    ExpressionAttributeNames: names,
    ...(Object.keys(values).length ? { ExpressionAttributeValues: values } : {}),
    complete,
  };
}
