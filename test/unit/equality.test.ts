import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { differingAttributes, valuesEqual } from '../../src/core/equality.js';

const eq = (a: AttributeValue, b: AttributeValue): boolean => valuesEqual(a, b);
/** Equality must be symmetric: check both directions. */
function assertEqualBoth(a: AttributeValue, b: AttributeValue): void {
  assert.equal(eq(a, b), true, `${JSON.stringify(a)} = ${JSON.stringify(b)}`);
  assert.equal(eq(b, a), true, `${JSON.stringify(b)} = ${JSON.stringify(a)}`);
}
function assertUnequalBoth(a: AttributeValue, b: AttributeValue): void {
  assert.equal(eq(a, b), false, `${JSON.stringify(a)} ≠ ${JSON.stringify(b)}`);
  assert.equal(eq(b, a), false, `${JSON.stringify(b)} ≠ ${JSON.stringify(a)}`);
}

describe('valuesEqual', () => {
  test('strings compare exactly, including the empty string', () => {
    assertEqualBoth({ S: 'abc' }, { S: 'abc' });
    assertEqualBoth({ S: '' }, { S: '' });
    assertUnequalBoth({ S: 'abc' }, { S: 'abd' });
    assertUnequalBoth({ S: '' }, { S: ' ' });
  });

  test('numbers compare by value, not by spelling', () => {
    assertEqualBoth({ N: '1.50' }, { N: '1.5' });
    assertEqualBoth({ N: '1.00' }, { N: '1' });
    assertEqualBoth({ N: '15E-1' }, { N: '1.5' });
    assertEqualBoth({ N: '-0' }, { N: '0' });
    assertUnequalBoth({ N: '1.5' }, { N: '1.51' });
    assertUnequalBoth({ N: '12345678901234567890123456789012345678' }, { N: '12345678901234567890123456789012345679' });
  });

  test('a type mismatch is unequal even with the same text (S "1" vs N "1")', () => {
    assertUnequalBoth({ S: '1' }, { N: '1' });
    assertUnequalBoth({ SS: ['1'] }, { NS: ['1'] });
    assertUnequalBoth({ S: 'AQID' }, { B: new Uint8Array([1, 2, 3]) });
    assertUnequalBoth({ L: [] }, { M: {} });
    assertUnequalBoth({ BOOL: false }, { NULL: true });
    assertUnequalBoth({ L: [{ S: 'a' }] }, { SS: ['a'] });
  });

  test('binary compares by bytes (Uint8Array vs Buffer alike)', () => {
    assertEqualBoth({ B: new Uint8Array([1, 2, 3]) }, { B: Buffer.from([1, 2, 3]) });
    assertEqualBoth({ B: new Uint8Array([]) }, { B: new Uint8Array([]) });
    assertUnequalBoth({ B: new Uint8Array([1, 2, 3]) }, { B: new Uint8Array([1, 2]) });
  });

  test('BOOL compares by value and NULL equals NULL', () => {
    assertEqualBoth({ BOOL: true }, { BOOL: true });
    assertEqualBoth({ BOOL: false }, { BOOL: false });
    assertUnequalBoth({ BOOL: true }, { BOOL: false });
    assertEqualBoth({ NULL: true }, { NULL: true });
    assertUnequalBoth({ NULL: true }, { S: '' });
  });

  test('string sets are unordered', () => {
    assertEqualBoth({ SS: ['a', 'b', 'c'] }, { SS: ['c', 'a', 'b'] });
    assertUnequalBoth({ SS: ['a', 'b'] }, { SS: ['a', 'b', 'c'] });
    assertUnequalBoth({ SS: ['a', 'b'] }, { SS: ['a', 'c'] });
  });

  test('number sets are unordered and compare members by value', () => {
    assertEqualBoth({ NS: ['1.50', '2'] }, { NS: ['2.0', '1.5'] });
    assertEqualBoth({ NS: ['1E+3'] }, { NS: ['1000'] });
    assertUnequalBoth({ NS: ['1', '2'] }, { NS: ['1', '3'] });
    assertUnequalBoth({ NS: ['1'] }, { NS: ['1', '2'] });
  });

  test('binary sets are unordered and compare members by bytes', () => {
    assertEqualBoth({ BS: [new Uint8Array([1]), new Uint8Array([2, 3])] }, { BS: [Buffer.from([2, 3]), Buffer.from([1])] });
    assertUnequalBoth({ BS: [new Uint8Array([1])] }, { BS: [new Uint8Array([2])] });
  });

  test('lists are ordered and compare elements deeply', () => {
    assertEqualBoth({ L: [{ S: 'a' }, { N: '1.50' }] }, { L: [{ S: 'a' }, { N: '1.5' }] });
    assertUnequalBoth({ L: [{ S: 'a' }, { S: 'b' }] }, { L: [{ S: 'b' }, { S: 'a' }] });
    assertUnequalBoth({ L: [{ S: 'a' }] }, { L: [{ S: 'a' }, { S: 'a' }] });
    assertEqualBoth({ L: [] }, { L: [] });
  });

  test('maps compare by key, at any depth, with numbers by value', () => {
    const a: AttributeValue = { M: { x: { N: '1.0' }, y: { M: { z: { L: [{ SS: ['p', 'q'] }, { NULL: true }] } } } } };
    const b: AttributeValue = { M: { y: { M: { z: { L: [{ SS: ['q', 'p'] }, { NULL: true }] } } }, x: { N: '1' } } };
    assertEqualBoth(a, b);
    const c: AttributeValue = { M: { x: { N: '1' }, y: { M: { z: { L: [{ SS: ['q', 'p'] }, { BOOL: true }] } } } } };
    assertUnequalBoth(a, c);
  });

  test('a map with an extra key is unequal', () => {
    assertUnequalBoth({ M: { a: { S: '1' } } }, { M: { a: { S: '1' }, b: { S: '2' } } });
    assertEqualBoth({ M: {} }, { M: {} });
  });
});

describe('differingAttributes', () => {
  test('identical items (by meaning) have no differing attributes', () => {
    assert.deepEqual(
      differingAttributes({ pk: { S: 'a' }, n: { N: '1.50' }, s: { SS: ['x', 'y'] } }, { s: { SS: ['y', 'x'] }, n: { N: '1.5' }, pk: { S: 'a' } }),
      [],
    );
  });

  test('names the attributes with different values', () => {
    assert.deepEqual(differingAttributes({ pk: { S: 'a' }, n: { N: '1' }, t: { S: 'x' } }, { pk: { S: 'a' }, n: { N: '2' }, t: { S: 'x' } }), ['n']);
  });

  test('names attributes present on one side only, whichever side', () => {
    const names = differingAttributes({ pk: { S: 'a' }, onlyA: { S: 'x' } }, { pk: { S: 'a' }, onlyB: { S: 'y' } });
    assert.deepEqual([...names].sort(), ['onlyA', 'onlyB']);
  });

  test('a type change of an attribute is a difference', () => {
    assert.deepEqual(differingAttributes({ v: { S: '1' } }, { v: { N: '1' } }), ['v']);
  });

  test('each differing attribute is reported once', () => {
    const names = differingAttributes({ a: { S: '1' }, b: { S: '2' } }, { a: { S: 'x' }, c: { S: '3' } });
    assert.deepEqual([...names].sort(), ['a', 'b', 'c']);
  });
});
