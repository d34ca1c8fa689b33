import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fromDdbJson, toDdbJson, type DdbJsonMap } from '../../src/core/ddb-json.js';
import type { AttributeMap } from '../../src/core/item.js';

const item: AttributeMap = {
  s: { S: 'Ünïcødé 🚀' },
  empty: { S: '' },
  n: { N: '12345678901234567890123456789012345678' },
  small: { N: '0.1000000000000000055511151231257827' },
  spelled: { N: '1.50' },
  b: { B: new Uint8Array([0, 1, 254, 255]) },
  emptyB: { B: new Uint8Array([]) },
  t: { BOOL: true },
  f: { BOOL: false },
  nul: { NULL: true },
  ss: { SS: ['b', 'a'] },
  ns: { NS: ['1.50', '-2E+3'] },
  bs: { BS: [new Uint8Array([1]), new Uint8Array([2, 3])] },
  l: { L: [{ N: '1' }, { S: 'x' }, { L: [] }, { M: {} }] },
  m: { M: { deep: { M: { bin: { B: new Uint8Array([9]) }, list: { L: [{ NULL: true }] } } } } },
};

describe('DynamoDB JSON', () => {
  test('binary becomes base64; numbers stay strings exactly as spelled; sets keep their order', () => {
    const json = toDdbJson(item);
    assert.deepEqual(json['b'], { B: 'AAH+/w==' });
    assert.deepEqual(json['emptyB'], { B: '' });
    assert.deepEqual(json['n'], { N: '12345678901234567890123456789012345678' });
    assert.deepEqual(json['spelled'], { N: '1.50' });
    assert.deepEqual(json['bs'], { BS: ['AQ==', 'AgM='] });
    assert.deepEqual(json['ss'], { SS: ['b', 'a'] });
    assert.deepEqual(json['m'], { M: { deep: { M: { bin: { B: 'CQ==' }, list: { L: [{ NULL: true }] } } } } });
  });

  test('round-trips through JSON text without loss', () => {
    const text = JSON.stringify(toDdbJson(item));
    const back = fromDdbJson(JSON.parse(text) as DdbJsonMap);
    assert.deepEqual(back, item);
    for (const v of [back['b']!.B!, back['bs']!.BS![1]!]) assert.ok(v instanceof Uint8Array);
  });

  test('decoded binary does not share a pooled buffer', () => {
    const back = fromDdbJson({ b: { B: 'AQID' } });
    const bytes = back['b']!.B!;
    assert.equal(bytes.byteOffset, 0);
    assert.equal(bytes.buffer.byteLength, 3);
  });

  test('rejects what is not DynamoDB JSON', () => {
    assert.throws(() => fromDdbJson({ x: { Q: 1 } as never }), /not a DynamoDB JSON value/);
    assert.throws(() => toDdbJson({ x: {} as never }), /unsupported attribute value/);
  });
});
