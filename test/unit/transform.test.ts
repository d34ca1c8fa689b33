import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { NumberValueImpl as NumberValue } from '@aws-sdk/util-dynamodb';
import type { AttributeMap, KeySchema } from '../../src/core/item.js';
import { keyId } from '../../src/core/item.js';
import { ItemMapper, MappingError, type Item, type Transform } from '../../src/core/transform.js';

const pkS: KeySchema = { partitionKey: { name: 'pk', type: 'S' } };
const pkSkN: KeySchema = { partitionKey: { name: 'pk', type: 'S' }, sortKey: { name: 'sk', type: 'N' } };

function single(transform?: Transform, schema: KeySchema = pkS): ItemMapper {
  return new ItemMapper({ ...(transform ? { transform } : {}), targets: { target: schema }, singleTarget: 'target' });
}

function mappingError(code: MappingError['code'], message?: RegExp): (err: unknown) => boolean {
  return (err: unknown) => {
    assert.ok(err instanceof MappingError, `expected MappingError, got ${String(err)}`);
    assert.equal(err.code, code);
    if (message) assert.match(err.message, message);
    return true;
  };
}

describe('ItemMapper without a transform', () => {
  test('identity fast path returns the very same wire item, untouched', () => {
    const item: AttributeMap = { pk: { S: 'a' }, n: { N: '1.50' }, big: { N: '12345678901234567890123456789012345678' } };
    const mapper = single();
    assert.equal(mapper.hasTransform, false);
    const out = mapper.map('source', item);
    assert.equal(out.length, 1);
    assert.equal(out[0]!.item, item);
    assert.equal(out[0]!.target, 'target');
    assert.deepEqual(out[0]!.key, { pk: { S: 'a' } });
    assert.equal(out[0]!.keyId, keyId({ pk: { S: 'a' } }, pkS));
    assert.equal(out[0]!.item.n!.N, '1.50');
  });

  test('identity still checks the target key: a missing key attribute is TARGET_KEY_MISSING', () => {
    assert.throws(() => single(undefined, pkSkN).map('source', { pk: { S: 'a' } }), mappingError('TARGET_KEY_MISSING', /sk/));
  });

  test('constructing with several targets and no transform throws', () => {
    assert.throws(() => new ItemMapper({ targets: { a: pkS, b: pkS } }), /transform/);
  });
});

describe('ItemMapper with a transform (single target)', () => {
  test('the transform sees numbers as NumberValue holding the exact 38-digit string', () => {
    const big = '12345678901234567890123456789012345678';
    let seen: unknown;
    const mapper = single((item) => {
      seen = item.big;
      return item;
    });
    const out = mapper.map('source', { pk: { S: 'a' }, big: { N: big } });
    assert.ok(seen instanceof NumberValue, 'number is a NumberValue');
    assert.equal((seen as InstanceType<typeof NumberValue>).toString(), big);
    assert.equal(out[0]!.item.big!.N, big);
  });

  test('a float-unsafe decimal round-trips exactly through transform → marshall', () => {
    const v = '0.1000000000000000055511151231257827';
    const mapper = single((item) => ({ ...item, copy: item.v }));
    const out = mapper.map('source', { pk: { S: 'a' }, v: { N: v } });
    assert.equal(out[0]!.item.v!.N, v);
    assert.equal(out[0]!.item.copy!.N, v);
  });

  test('a number the transform builds from a NumberValue string stays exact', () => {
    const mapper = single((item) => ({ pk: item.pk, total: NumberValue.from(String(item.total)) }));
    const out = mapper.map('source', { pk: { S: 'a' }, total: { N: '-98765432109876543210.123456789' } });
    assert.equal(out[0]!.item.total!.N, '-98765432109876543210.123456789');
  });

  test('the transform receives the source name in its context', () => {
    let ctxSource = '';
    single((item, ctx) => {
      ctxSource = ctx.source;
      return item;
    }).map('orders', { pk: { S: 'a' } });
    assert.equal(ctxSource, 'orders');
  });

  test('binary, sets, empty strings, empty binary, maps, lists, NULL and BOOL round-trip through an identity transform', () => {
    const item: AttributeMap = {
      pk: { S: 'a' },
      bin: { B: new Uint8Array([0, 255, 7]) },
      emptyBin: { B: new Uint8Array([]) },
      empty: { S: '' },
      ss: { SS: ['x', 'y'] },
      ns: { NS: ['1.5', '12345678901234567890123456789012345678'] },
      bs: { BS: [new Uint8Array([1]), new Uint8Array([2, 3])] },
      m: { M: { deep: { L: [{ N: '0.1000000000000000055511151231257827' }, { NULL: true }, { BOOL: false }, { S: '' }] } } },
      t: { BOOL: true },
      nul: { NULL: true },
    };
    const out = single((x) => x).map('source', item)[0]!.item;
    assert.deepEqual(Buffer.from(out.bin!.B!), Buffer.from([0, 255, 7]));
    assert.equal(out.emptyBin!.B!.length, 0);
    assert.deepEqual(out.empty, { S: '' });
    assert.deepEqual([...out.ss!.SS!].sort(), ['x', 'y']);
    assert.deepEqual([...out.ns!.NS!].sort(), ['1.5', '12345678901234567890123456789012345678'].sort());
    assert.deepEqual(out.bs!.BS!.map((b) => Buffer.from(b).toString('hex')).sort(), ['01', '0203']);
    assert.equal(out.m!.M!.deep!.L![0]!.N, '0.1000000000000000055511151231257827');
    assert.deepEqual(out.m!.M!.deep!.L![1], { NULL: true });
    assert.deepEqual(out.m!.M!.deep!.L![2], { BOOL: false });
    assert.deepEqual(out.m!.M!.deep!.L![3], { S: '' });
    assert.deepEqual(out.t, { BOOL: true });
    assert.deepEqual(out.nul, { NULL: true });
    assert.deepEqual(Object.keys(out).sort(), Object.keys(item).sort());
  });

  test('undefined attributes in the output are dropped, not rejected', () => {
    const out = single((item) => ({ ...item, gone: undefined })).map('source', { pk: { S: 'a' } });
    assert.deepEqual(out[0]!.item, { pk: { S: 'a' } });
  });

  test('returning null drops the item', () => {
    assert.deepEqual(single(() => null).map('source', { pk: { S: 'a' } }), []);
  });

  test('returning an empty list drops the item', () => {
    assert.deepEqual(single(() => []).map('source', { pk: { S: 'a' } }), []);
  });

  test('returning undefined (a forgotten return) is TRANSFORM_OUTPUT_INVALID, never a silent drop', () => {
    const forgotten = ((item: Item) => {
      void { ...item, extra: 1 };
    }) as unknown as Transform;
    assert.throws(() => single(forgotten).map('source', { pk: { S: 'a' } }), mappingError('TRANSFORM_OUTPUT_INVALID', /undefined.*return/));
  });

  test('every other non-item output is TRANSFORM_OUTPUT_INVALID', () => {
    for (const bad of [0, 1, '', 'item', true, false, new Set(['a']), new Uint8Array([1]), [undefined], [null], [[{ pk: 'a' }]]]) {
      const mapper = single((() => bad) as unknown as Transform);
      assert.throws(() => mapper.map('source', { pk: { S: 'a' } }), mappingError('TRANSFORM_OUTPUT_INVALID'), `output ${String(bad)}`);
    }
  });

  test('returning an array fans out to several target items, each with its key', () => {
    const mapper = single((item) => [1, 2, 3].map((i) => ({ pk: item.pk, sk: i, v: `line${i}` })), pkSkN);
    const out = mapper.map('source', { pk: { S: 'o1' } });
    assert.equal(out.length, 3);
    assert.deepEqual(
      out.map((r) => r.key),
      [1, 2, 3].map((i) => ({ pk: { S: 'o1' }, sk: { N: String(i) } })),
    );
    assert.equal(new Set(out.map((r) => r.keyId)).size, 3);
    assert.deepEqual(
      out.map((r) => r.item.v!.S),
      ['line1', 'line2', 'line3'],
    );
    assert.ok(out.every((r) => r.target === 'target'));
  });

  test('returning an empty array drops the item', () => {
    assert.deepEqual(single(() => []).map('source', { pk: { S: 'a' } }), []);
  });

  test('a missing target key attribute is TARGET_KEY_MISSING naming the attribute', () => {
    const mapper = single(({ pk: _pk, ...rest }) => rest);
    assert.throws(() => mapper.map('source', { pk: { S: 'a' }, v: { S: 'x' } }), mappingError('TARGET_KEY_MISSING', /pk/));
  });

  test('a key attribute of the wrong type is TARGET_KEY_MISSING naming both types', () => {
    const mapper = single((item) => ({ ...item, sk: 'not-a-number' }), pkSkN);
    assert.throws(() => mapper.map('source', { pk: { S: 'a' } }), mappingError('TARGET_KEY_MISSING', /sk.*S.*N/));
  });

  test('a null key attribute is TARGET_KEY_MISSING', () => {
    const mapper = single((item) => ({ ...item, pk: null }));
    assert.throws(() => mapper.map('source', { pk: { S: 'a' } }), mappingError('TARGET_KEY_MISSING'));
  });

  test('a transform that throws is TRANSFORM_FAILED carrying its message and cause', () => {
    const boom = new Error('price is negative');
    const mapper = single(() => {
      throw boom;
    });
    assert.throws(
      () => mapper.map('source', { pk: { S: 'a' } }),
      (err: unknown) => {
        assert.ok(err instanceof MappingError);
        assert.equal(err.code, 'TRANSFORM_FAILED');
        assert.match(err.message, /price is negative/);
        assert.equal(err.cause, boom);
        return true;
      },
    );
  });

  test('a transform that throws a non-Error is TRANSFORM_FAILED with its text', () => {
    const mapper = single(() => {
      throw 'plain string';
    });
    assert.throws(() => mapper.map('source', { pk: { S: 'a' } }), mappingError('TRANSFORM_FAILED', /plain string/));
  });

  test('a transform returning a Promise is TRANSFORM_OUTPUT_INVALID', () => {
    const mapper = single((async (item: Item) => item) as unknown as Transform);
    assert.throws(() => mapper.map('source', { pk: { S: 'a' } }), mappingError('TRANSFORM_OUTPUT_INVALID', /Promise/));
  });

  test('a non-object output (a string, a nested array) is TRANSFORM_OUTPUT_INVALID', () => {
    assert.throws(() => single((() => 'x') as unknown as Transform).map('source', { pk: { S: 'a' } }), mappingError('TRANSFORM_OUTPUT_INVALID'));
    assert.throws(
      () => single((() => [[{ pk: 'a' }]]) as unknown as Transform).map('source', { pk: { S: 'a' } }),
      mappingError('TRANSFORM_OUTPUT_INVALID', /nested array/),
    );
  });

  test('an output DynamoDB cannot store (an imprecise JS number) is TRANSFORM_OUTPUT_INVALID, not a silent rounding', () => {
    const mapper = single((item) => ({ ...item, n: 2 ** 60 + 1 }));
    assert.throws(() => mapper.map('source', { pk: { S: 'a' } }), mappingError('TRANSFORM_OUTPUT_INVALID'));
  });

  test('the key id of a transformed item follows numeric key equality', () => {
    const mapper = single((item) => item, pkSkN);
    const a = mapper.map('source', { pk: { S: 'a' }, sk: { N: '1.50' } })[0]!;
    const b = mapper.map('source', { pk: { S: 'a' }, sk: { N: '1.5' } })[0]!;
    assert.equal(a.keyId, b.keyId);
  });
});

describe('ItemMapper with several targets', () => {
  const targets = { orders: pkS, lines: pkSkN };
  const split: Transform = (item) => ({
    orders: { pk: item.pk, total: item.total },
    lines: (item.lines as Item[]).map((l, i) => ({ pk: item.pk, sk: i, sku: l.sku })),
  });

  test('a routing object sends each output to its named target', () => {
    const mapper = new ItemMapper({ transform: split, targets });
    const out = mapper.map('source', {
      pk: { S: 'o1' },
      total: { N: '9.90' },
      lines: { L: [{ M: { sku: { S: 'A' } } }, { M: { sku: { S: 'B' } } }] },
    });
    assert.deepEqual(
      out.map((r) => r.target),
      ['orders', 'lines', 'lines'],
    );
    assert.deepEqual(out[0]!.item, { pk: { S: 'o1' }, total: { N: '9.90' } });
    assert.deepEqual(out[1]!.key, { pk: { S: 'o1' }, sk: { N: '0' } });
    assert.deepEqual(out[2]!.item, { pk: { S: 'o1' }, sk: { N: '1' }, sku: { S: 'B' } });
  });

  test('targets left out of the routing object get nothing; null in the object drops', () => {
    const mapper = new ItemMapper({ transform: (item) => ({ orders: item, lines: null }), targets });
    const out = mapper.map('source', { pk: { S: 'o1' } });
    assert.deepEqual(
      out.map((r) => r.target),
      ['orders'],
    );
  });

  test('returning null for the whole item drops it from every target', () => {
    const mapper = new ItemMapper({ transform: () => null, targets });
    assert.deepEqual(mapper.map('source', { pk: { S: 'o1' } }), []);
  });

  test('an empty routing object or empty lists drop the item', () => {
    assert.deepEqual(new ItemMapper({ transform: () => ({}), targets }).map('source', { pk: { S: 'o1' } }), []);
    assert.deepEqual(new ItemMapper({ transform: () => ({ orders: [], lines: [] }), targets }).map('source', { pk: { S: 'o1' } }), []);
  });

  test('undefined for the whole item or for a named target is TRANSFORM_OUTPUT_INVALID', () => {
    const whole = new ItemMapper({ transform: (() => undefined) as unknown as Transform, targets });
    assert.throws(() => whole.map('source', { pk: { S: 'o1' } }), mappingError('TRANSFORM_OUTPUT_INVALID', /undefined/));
    const one = new ItemMapper({ transform: ((item: Item) => ({ orders: item, lines: undefined })) as unknown as Transform, targets });
    assert.throws(() => one.map('source', { pk: { S: 'o1' } }), mappingError('TRANSFORM_OUTPUT_INVALID', /undefined for target "lines"/));
  });

  test('an unknown target name is TRANSFORM_OUTPUT_INVALID naming the target', () => {
    const mapper = new ItemMapper({ transform: (item) => ({ ordrs: item }), targets });
    assert.throws(() => mapper.map('source', { pk: { S: 'o1' } }), mappingError('TRANSFORM_OUTPUT_INVALID', /ordrs/));
  });

  test('returning a bare array instead of a routing object is TRANSFORM_OUTPUT_INVALID', () => {
    const mapper = new ItemMapper({ transform: (item) => [item], targets });
    assert.throws(() => mapper.map('source', { pk: { S: 'o1' } }), mappingError('TRANSFORM_OUTPUT_INVALID', /keyed by target name/));
  });

  test('a routed item missing its target key is TARGET_KEY_MISSING naming the target', () => {
    const mapper = new ItemMapper({ transform: (item) => ({ lines: { pk: item.pk } }), targets });
    assert.throws(() => mapper.map('source', { pk: { S: 'o1' } }), mappingError('TARGET_KEY_MISSING', /"lines".*sk/));
  });
});
