import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { attributeType, extractKey, itemSize, keyAttributeNames, keyId, type AttributeMap, type KeySchema } from '../../src/core/item.js';

const pkOnlyS: KeySchema = { partitionKey: { name: 'pk', type: 'S' } };
const pkOnlyN: KeySchema = { partitionKey: { name: 'pk', type: 'N' } };
const pkSk: KeySchema = { partitionKey: { name: 'pk', type: 'S' }, sortKey: { name: 'sk', type: 'N' } };

describe('keyAttributeNames', () => {
  test('lists the partition key, then the sort key when there is one', () => {
    assert.deepEqual(keyAttributeNames(pkOnlyS), ['pk']);
    assert.deepEqual(keyAttributeNames(pkSk), ['pk', 'sk']);
  });
});

describe('extractKey', () => {
  test('picks only the key attributes of an item', () => {
    const item: AttributeMap = { pk: { S: 'a' }, sk: { N: '2' }, other: { S: 'x' } };
    assert.deepEqual(extractKey(item, pkSk), { pk: { S: 'a' }, sk: { N: '2' } });
    assert.deepEqual(extractKey(item, pkOnlyS), { pk: { S: 'a' } });
  });

  test('returns undefined when the partition key is missing', () => {
    assert.equal(extractKey({ sk: { N: '1' }, other: { S: 'x' } }, pkSk), undefined);
    assert.equal(extractKey({}, pkOnlyS), undefined);
  });

  test('returns undefined when the sort key is missing', () => {
    assert.equal(extractKey({ pk: { S: 'a' } }, pkSk), undefined);
  });

  test('keeps the attribute values as they are (same objects, exact number spelling)', () => {
    const pk = { N: '1.50' };
    const key = extractKey({ pk }, pkOnlyN);
    assert.equal(key?.pk, pk);
    assert.equal(key?.pk?.N, '1.50');
  });
});

describe('keyId', () => {
  test('numerically equal N keys have the same id ("1.50" = "1.5" = "15E-1")', () => {
    const a = keyId({ pk: { N: '1.50' } }, pkOnlyN);
    assert.equal(keyId({ pk: { N: '1.5' } }, pkOnlyN), a);
    assert.equal(keyId({ pk: { N: '15E-1' } }, pkOnlyN), a);
  });

  test('numerically different N keys have different ids', () => {
    assert.notEqual(keyId({ pk: { N: '1.5' } }, pkOnlyN), keyId({ pk: { N: '1.51' } }, pkOnlyN));
    assert.notEqual(
      keyId({ pk: { N: '12345678901234567890123456789012345678' } }, pkOnlyN),
      keyId({ pk: { N: '12345678901234567890123456789012345679' } }, pkOnlyN),
    );
  });

  test('string "1" and number 1 are different keys', () => {
    assert.notEqual(keyId({ pk: { S: '1' } }, pkOnlyS), keyId({ pk: { N: '1' } }, pkOnlyS));
  });

  test('string keys compare by exact spelling ("1.50" ≠ "1.5" as strings)', () => {
    assert.notEqual(keyId({ pk: { S: '1.50' } }, pkOnlyS), keyId({ pk: { S: '1.5' } }, pkOnlyS));
    assert.equal(keyId({ pk: { S: 'abc' } }, pkOnlyS), keyId({ pk: { S: 'abc' } }, pkOnlyS));
  });

  test('binary keys compare by bytes, and differ from a string with the same text', () => {
    const schema: KeySchema = { partitionKey: { name: 'pk', type: 'B' } };
    const a = keyId({ pk: { B: new Uint8Array([1, 2, 3]) } }, schema);
    assert.equal(keyId({ pk: { B: Buffer.from([1, 2, 3]) } }, schema), a);
    assert.notEqual(keyId({ pk: { B: new Uint8Array([1, 2, 4]) } }, schema), a);
    assert.notEqual(keyId({ pk: { B: new Uint8Array([]) } }, schema), a);
    const base64 = Buffer.from([1, 2, 3]).toString('base64');
    assert.notEqual(keyId({ pk: { S: base64 } }, schema), a);
  });

  test('the sort key takes part in the id', () => {
    const base = keyId({ pk: { S: 'a' }, sk: { N: '1' } }, pkSk);
    assert.notEqual(keyId({ pk: { S: 'a' }, sk: { N: '2' } }, pkSk), base);
    assert.equal(keyId({ pk: { S: 'a' }, sk: { N: '1.0' } }, pkSk), base);
    assert.notEqual(keyId({ pk: { S: 'b' }, sk: { N: '1' } }, pkSk), base);
  });

  test('partition and sort key values cannot be confused by concatenation', () => {
    const schema: KeySchema = { partitionKey: { name: 'pk', type: 'S' }, sortKey: { name: 'sk', type: 'S' } };
    assert.notEqual(keyId({ pk: { S: 'a,b' }, sk: { S: 'c' } }, schema), keyId({ pk: { S: 'a' }, sk: { S: 'b,c' } }, schema));
    assert.notEqual(keyId({ pk: { S: 'a"' }, sk: { S: 'b' } }, schema), keyId({ pk: { S: 'a' }, sk: { S: '"b' } }, schema));
  });

  test('non-key attributes do not change the id', () => {
    assert.equal(keyId({ pk: { S: 'a' }, other: { S: 'x' } }, pkOnlyS), keyId({ pk: { S: 'a' }, other: { S: 'y' } }, pkOnlyS));
  });

  test('a missing key attribute throws, naming the attribute', () => {
    assert.throws(() => keyId({ other: { S: 'x' } }, pkOnlyS), /pk/);
    assert.throws(() => keyId({ pk: { S: 'a' } }, pkSk), /sk/);
  });

  test('a key attribute of a non-key type throws', () => {
    assert.throws(() => keyId({ pk: { BOOL: true } }, pkOnlyS), /keys must be S, N or B/);
    assert.throws(() => keyId({ pk: { L: [] } }, pkOnlyS), /keys must be S, N or B/);
  });
});

describe('attributeType', () => {
  test('names the type of a wire value', () => {
    assert.equal(attributeType({ S: 'x' }), 'S');
    assert.equal(attributeType({ N: '1' }), 'N');
    assert.equal(attributeType({ B: new Uint8Array() }), 'B');
    assert.equal(attributeType({ BOOL: false }), 'BOOL');
    assert.equal(attributeType({ NULL: true }), 'NULL');
    assert.equal(attributeType({ M: {} }), 'M');
    assert.equal(attributeType({ L: [] }), 'L');
    assert.equal(attributeType({ SS: ['a'] }), 'SS');
    assert.equal(attributeType({ NS: ['1'] }), 'NS');
    assert.equal(attributeType({ BS: [new Uint8Array([1])] }), 'BS');
  });

  test('an empty string is still type S (empty string is a value, not absence)', () => {
    assert.equal(attributeType({ S: '' }), 'S');
  });
});

describe('itemSize', () => {
  test('counts attribute names and string values in UTF-8 bytes', () => {
    assert.equal(itemSize({ a: { S: 'xyz' } }), 4);
    assert.equal(itemSize({ ab: { S: 'é' } }), 4); // 'é' is 2 bytes
    assert.equal(itemSize({}), 0);
  });

  test('counts binary by byte length and booleans/null as one byte', () => {
    assert.equal(itemSize({ b: { B: new Uint8Array(100) } }), 101);
    assert.equal(itemSize({ t: { BOOL: true } }), 2);
    assert.equal(itemSize({ n: { NULL: true } }), 2);
  });

  test('numbers cost about one byte per two significant digits plus one', () => {
    const small = itemSize({ n: { N: '1' } });
    const big = itemSize({ n: { N: '12345678901234567890123456789012345678' } });
    assert.ok(small >= 2 && small <= 3, `small ${small}`);
    assert.ok(big >= 20 && big <= 22, `big ${big}`);
  });

  test('nested maps and lists are counted, and grow the size with their content', () => {
    const flat = itemSize({ m: { M: {} } });
    const nested = itemSize({ m: { M: { inner: { S: 'x'.repeat(1000) }, l: { L: [{ S: 'y'.repeat(500) }, { N: '5' }] } } } });
    assert.ok(flat >= 1 && flat <= 10, `flat ${flat}`);
    assert.ok(nested >= 1500 && nested < 1600, `nested ${nested}`);
  });

  test('sets are counted by their members', () => {
    assert.equal(itemSize({ s: { SS: ['ab', 'cd'] } }), 5);
    assert.equal(itemSize({ s: { BS: [new Uint8Array(10), new Uint8Array(5)] } }), 16);
    assert.ok(itemSize({ s: { NS: ['1', '22', '333'] } }) > 1);
  });

  test('a 400 KB item is estimated near 400 KB', () => {
    const size = itemSize({ pk: { S: 'k' }, payload: { S: 'x'.repeat(400 * 1024 - 20) } });
    assert.ok(Math.abs(size - 400 * 1024) < 64, `size ${size}`);
  });
});
