import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AttributeMap, KeySchema } from '../../src/core/item.js';
import { MAX_EXPRESSION_CHARS, unchangedSince } from '../../src/engine/verify/condition.js';

const schema: KeySchema = { partitionKey: { name: 'pk', type: 'S' }, sortKey: { name: 'sk', type: 'N' } };

describe('unchangedSince (the repair write condition)', () => {
  test('an item observed missing must still be missing', () => {
    const c = unchangedSince(undefined, schema, { pk: { S: 'a' }, sk: { N: '1' }, x: { S: 'y' } });
    assert.equal(c.ConditionExpression, 'attribute_not_exists(#k)');
    assert.deepEqual(c.ExpressionAttributeNames, { '#k': 'pk' });
    assert.equal(c.ExpressionAttributeValues, undefined);
    assert.equal(c.complete, true);
  });

  test('an observed item must exist with every non-key attribute unchanged, and without the attributes the new version adds', () => {
    const observed: AttributeMap = { pk: { S: 'a' }, sk: { N: '1' }, status: { S: 'old' }, 'odd name': { N: '1.50' } };
    const next: AttributeMap = { pk: { S: 'a' }, sk: { N: '1' }, status: { S: 'new' }, added: { BOOL: true } };
    const c = unchangedSince(observed, schema, next);
    assert.equal(c.ConditionExpression, 'attribute_exists(#k) AND #a0 = :a0 AND #a1 = :a1 AND attribute_not_exists(#a2)');
    assert.deepEqual(c.ExpressionAttributeNames, { '#k': 'pk', '#a0': 'odd name', '#a1': 'status', '#a2': 'added' });
    assert.deepEqual(c.ExpressionAttributeValues, { ':a0': { N: '1.50' }, ':a1': { S: 'old' } });
    assert.equal(c.complete, true);
  });

  test('reserved words and any attribute name go through ExpressionAttributeNames', () => {
    const c = unchangedSince({ pk: { S: 'a' }, sk: { N: '1' }, size: { N: '1' }, 'a.b': { S: 'x' } }, schema);
    assert.ok(!/\bsize\b|a\.b/.test(c.ConditionExpression), c.ConditionExpression);
  });

  test('stays within the 4 KB expression limit and says when it could not pin every attribute', () => {
    const observed: AttributeMap = { pk: { S: 'a' }, sk: { N: '1' } };
    for (let i = 0; i < 1000; i++) observed[`attr${i}`] = { N: String(i) };
    const c = unchangedSince(observed, schema, observed);
    assert.ok(c.ConditionExpression.length <= MAX_EXPRESSION_CHARS, String(c.ConditionExpression.length));
    assert.equal(c.complete, false);
    const used = new Set(c.ConditionExpression.match(/#a\d+/g));
    assert.equal(Object.keys(c.ExpressionAttributeNames).length, used.size + 1, 'no unused names (DynamoDB rejects them)');
    assert.equal(Object.keys(c.ExpressionAttributeValues ?? {}).length, used.size, 'no unused values');
  });
});
