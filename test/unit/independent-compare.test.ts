import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AttributeMap } from '../../src/core/item.js';
import { canonicalDecimal, compareTables, formatDiff, isEmptyDiff } from '../support/independent-scan.js';

describe('canonicalDecimal', () => {
  test('spellings of one value share one canonical form', () => {
    const groups = [
      ['1.5', '1.50', '01.5', '+1.5', '15E-1', '15e-1', '0.15E1', '.15e+1', '1.5000000000000000000000000000000000000'],
      ['0', '0.0', '-0', '000', '0E10', '-0.000E-5', '.0'],
      ['100', '1E2', '1e+2', '100.000', '0.001E5'],
      ['-42.25', '-4225E-2', '-0042.2500'],
      ['7', '7.', '7.0'],
    ];
    for (const group of groups) {
      const forms = new Set(group.map(canonicalDecimal));
      assert.equal(forms.size, 1, `${group.join(', ')} → ${[...forms].join(', ')}`);
    }
  });

  test('distinct values keep distinct forms, including ones a float would merge', () => {
    const values = [
      '1.5',
      '1.6',
      '-1.5',
      '15',
      '0.15',
      '12345678901234567890123456789012345678',
      '12345678901234567890123456789012345679',
      '0.1000000000000000055511151231257827',
      '0.1',
      '9.9999999999999999999999999999999999999E+125',
      '1E-130',
      '1E-129',
    ];
    const forms = values.map(canonicalDecimal);
    assert.equal(new Set(forms).size, values.length, forms.join(', '));
  });

  test('the form is digits without leading or trailing zeros plus an exponent', () => {
    assert.equal(canonicalDecimal('1.50'), '15e-1');
    assert.equal(canonicalDecimal('-0.00120'), '-12e-4');
    assert.equal(canonicalDecimal('1200'), '12e2');
    assert.equal(canonicalDecimal('0'), '0');
    assert.equal(canonicalDecimal('-0.0'), '0');
    assert.equal(canonicalDecimal('12345678901234567890123456789012345678'), '12345678901234567890123456789012345678e0');
  });

  test('rejects text that is not a decimal number', () => {
    for (const bad of ['', '.', '-', 'abc', '1.2.3', '1e', 'e5', '0x10', 'NaN', 'Infinity', '1,5', '1e99999999999999999999']) {
      assert.throws(() => canonicalDecimal(bad), /not a DynamoDB number|exponent out of range/, bad);
    }
  });
});

describe('compareTables (in memory)', () => {
  const base = (): AttributeMap => ({
    id: { S: 'a' },
    n: { N: '1.5' },
    b: { B: Uint8Array.from([1, 2, 3]) },
    ss: { SS: ['x', 'y'] },
    ns: { NS: ['1', '2.5'] },
    bs: { BS: [Uint8Array.from([1]), Uint8Array.from([2])] },
    l: { L: [{ S: 'first' }, { N: '2' }] },
    m: { M: { inner: { M: { deep: { BOOL: true } } } } },
    nul: { NULL: true },
    flag: { BOOL: false },
  });
  const diffOne = (change: (item: AttributeMap) => void) => {
    const changed = base();
    change(changed);
    return compareTables([base()], [changed], ['id']);
  };

  test('identical items give an empty diff', () => {
    const diff = compareTables([base()], [base()], ['id']);
    assert.ok(isEmptyDiff(diff), formatDiff(diff));
    assert.equal(formatDiff(diff), 'tables are identical');
  });

  test('equal by DynamoDB semantics: number spelling, set order, NS by value, binary as a Buffer', () => {
    const diff = diffOne((item) => {
      item['n'] = { N: '15E-1' };
      item['ss'] = { SS: ['y', 'x'] };
      item['ns'] = { NS: ['2.50', '1.0'] };
      item['bs'] = { BS: [Buffer.from([2]), Buffer.from([1])] };
      item['b'] = { B: Buffer.from([1, 2, 3]) };
    });
    assert.ok(isEmptyDiff(diff), formatDiff(diff));
  });

  const cases: [string, (item: AttributeMap) => void, string[]][] = [
    ['binary byte', (i) => (i['b'] = { B: Uint8Array.from([1, 2, 4]) }), ['b']],
    ['binary length', (i) => (i['b'] = { B: Uint8Array.from([1, 2]) }), ['b']],
    ['list order', (i) => (i['l'] = { L: [{ N: '2' }, { S: 'first' }] }), ['l[0]', 'l[1]']],
    ['list length', (i) => (i['l'] = { L: [{ S: 'first' }] }), ['l']],
    ['nested map value', (i) => (i['m'] = { M: { inner: { M: { deep: { BOOL: false } } } } }), ['m.inner.deep']],
    ['nested map key', (i) => (i['m'] = { M: { inner: { M: {} } } }), ['m.inner.deep']],
    ['NULL vs BOOL', (i) => (i['nul'] = { BOOL: true }), ['nul']],
    ['BOOL value', (i) => (i['flag'] = { BOOL: true }), ['flag']],
    ['S vs N of the same text', (i) => (i['n'] = { S: '1.5' }), ['n']],
    ['SS vs L of the same strings', (i) => (i['ss'] = { L: [{ S: 'x' }, { S: 'y' }] }), ['ss']],
    ['NS member', (i) => (i['ns'] = { NS: ['1', '2.6'] }), ['ns']],
    ['BS member', (i) => (i['bs'] = { BS: [Uint8Array.from([1]), Uint8Array.from([3])] }), ['bs']],
    ['attribute added', (i) => (i['more'] = { S: '' }), ['more']],
    ['attribute removed', (i) => delete i['flag'], ['flag']],
    ['empty string vs missing', (i) => (i['e'] = { S: '' }), ['e']],
  ];
  for (const [name, change, paths] of cases) {
    test(`detects a difference: ${name}`, () => {
      const diff = diffOne(change);
      assert.deepEqual(diff.missing, []);
      assert.deepEqual(diff.extra, []);
      assert.equal(diff.differing.length, 1, formatDiff(diff));
      assert.deepEqual(diff.differing[0]?.paths, paths);
      assert.equal(diff.differing[0]?.key, 'id=S:"a"');
    });
  }

  test('matches number keys by value and reports missing and extra keys', () => {
    const item = (pk: string, sk: string): AttributeMap => ({ pk: { N: pk }, sk: { S: sk } });
    const diff = compareTables([item('1.50', 'x'), item('2', 'x')], [item('15E-1', 'x'), item('3', 'x')], ['pk', 'sk']);
    assert.deepEqual(diff.missing, ['pk=N:2e0, sk=S:"x"']);
    assert.deepEqual(diff.extra, ['pk=N:3e0, sk=S:"x"']);
    assert.deepEqual(diff.differing, []);
    assert.match(formatDiff(diff), /1 missing, 1 extra, 0 differing/);
  });

  test('refuses duplicate keys and items without the key', () => {
    assert.throws(() => compareTables([base(), base()], [], ['id']), /twice/);
    assert.throws(() => compareTables([{ other: { S: 'x' } }], [], ['id']), /lacks/);
  });

  test('formatDiff caps each list at max', () => {
    const many = Array.from({ length: 25 }, (_, i): AttributeMap => ({ id: { S: `k${String(i).padStart(2, '0')}` } }));
    const text = formatDiff(compareTables(many, [], ['id']), 3);
    assert.match(text, /^25 missing, 0 extra, 0 differing/);
    assert.match(text, /\(\+22\)/);
  });
});
