import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decimalsEqual, normalizeDecimal } from '../../src/core/numbers.js';

describe('normalizeDecimal', () => {
  test('trailing fractional zeros are dropped (1.50 → 1.5, 2.000 → 2)', () => {
    assert.equal(normalizeDecimal('1.50'), '1.5');
    assert.equal(normalizeDecimal('2.000'), '2');
    assert.equal(normalizeDecimal('100.0100'), '100.01');
  });

  test('every spelling of zero normalizes to "0" (0.000, -0, +0, 0E10, -0.0E-5, .0)', () => {
    for (const z of ['0', '0.000', '-0', '+0', '00', '0E10', '-0.0E-5', '.0', '0.']) {
      assert.equal(normalizeDecimal(z), '0', `input ${z}`);
    }
  });

  test('exponent forms expand to the same canonical spelling as plain forms (1E+3, 15E-1, 1.5e2)', () => {
    assert.equal(normalizeDecimal('1E+3'), '1000');
    assert.equal(normalizeDecimal('1e3'), '1000');
    assert.equal(normalizeDecimal('15E-1'), '1.5');
    assert.equal(normalizeDecimal('1.5e2'), '150');
    assert.equal(normalizeDecimal('-25E-3'), '-0.025');
    assert.equal(normalizeDecimal('1000E-3'), '1');
  });

  test('leading zeros and an explicit plus sign are dropped', () => {
    assert.equal(normalizeDecimal('007'), '7');
    assert.equal(normalizeDecimal('-007.50'), '-7.5');
    assert.equal(normalizeDecimal('+42'), '42');
    assert.equal(normalizeDecimal('000.001'), '0.001');
  });

  test('a value without an integer or fraction part is completed (.5 → 0.5, 5. → 5)', () => {
    assert.equal(normalizeDecimal('.5'), '0.5');
    assert.equal(normalizeDecimal('-.5'), '-0.5');
    assert.equal(normalizeDecimal('5.'), '5');
  });

  test('negative numbers keep their sign', () => {
    assert.equal(normalizeDecimal('-1.50'), '-1.5');
    assert.equal(normalizeDecimal('-1E+2'), '-100');
  });

  test('38-digit integers are kept exact (no float rounding)', () => {
    const big = '12345678901234567890123456789012345678';
    assert.equal(big.length, 38);
    assert.equal(normalizeDecimal(big), big);
    assert.equal(normalizeDecimal('-' + big), '-' + big);
    assert.equal(normalizeDecimal('99999999999999999999999999999999999999'), '99999999999999999999999999999999999999');
    // The float path would give 9007199254740992 here.
    assert.equal(normalizeDecimal('9007199254740993'), '9007199254740993');
  });

  test('38-significant-digit decimals are kept exact', () => {
    assert.equal(normalizeDecimal('1234567890123456789.0123456789012345678'), '1234567890123456789.0123456789012345678');
    assert.equal(normalizeDecimal('0.1000000000000000055511151231257827'), '0.1000000000000000055511151231257827');
    assert.equal(normalizeDecimal('0.12345678901234567890123456789012345678'), '0.12345678901234567890123456789012345678');
    assert.equal(normalizeDecimal('-0.00000000000000000000000000000000000001'), '-0.00000000000000000000000000000000000001');
  });

  test('the DynamoDB extremes 1E-130 and 9.99E+125 normalize without loss', () => {
    const tiny = normalizeDecimal('1E-130');
    const huge = normalizeDecimal('9.99E+125');
    // Both spellings are canonical and round-trip to themselves.
    assert.equal(normalizeDecimal(tiny), tiny);
    assert.equal(normalizeDecimal(huge), huge);
    // Other spellings of the same values agree.
    assert.equal(normalizeDecimal('0.1E-129'), tiny);
    assert.equal(normalizeDecimal('10E-131'), tiny);
    assert.equal(normalizeDecimal('999E123'), huge);
    assert.equal(normalizeDecimal('9990E122'), huge);
    assert.equal(normalizeDecimal('-9.99E+125'), '-' + huge);
    // Values of different magnitude stay different.
    assert.notEqual(normalizeDecimal('1E-129'), tiny);
    assert.notEqual(normalizeDecimal('9.99E+124'), huge);
  });

  test('the expanded plain form and the exponent form of one value are the same canonical string', () => {
    const plain = '1' + '0'.repeat(40); // 1E40
    assert.equal(normalizeDecimal(plain), normalizeDecimal('1E40'));
    const plain41 = '1' + '0'.repeat(41); // 1E41
    assert.equal(normalizeDecimal(plain41), normalizeDecimal('1E41'));
    const small = '0.' + '0'.repeat(45) + '1'; // 1E-46
    assert.equal(normalizeDecimal(small), normalizeDecimal('1E-46'));
    assert.equal(normalizeDecimal('0.0001'), normalizeDecimal('1E-4'));
  });

  test('normalization is idempotent', () => {
    for (const v of ['1.50', '-0', '1E+3', '15E-1', '1E-130', '9.99E+125', '0.000123', '123456789012345678901234567890.12345678', '1E41', '1E-46']) {
      const once = normalizeDecimal(v);
      assert.equal(normalizeDecimal(once), once, `input ${v}`);
    }
  });

  test('surrounding whitespace is ignored', () => {
    assert.equal(normalizeDecimal(' 1.50 '), '1.5');
  });

  test('invalid input throws instead of producing a bogus canonical form', () => {
    for (const bad of ['', ' ', '.', 'abc', '1.2.3', '1e', 'E5', '--1', '+-1', '1,5', 'NaN', 'Infinity', '0x10', '1 2', '1e1.5']) {
      assert.throws(() => normalizeDecimal(bad), /not a decimal number/, `input ${JSON.stringify(bad)}`);
    }
  });
});

describe('decimalsEqual', () => {
  test('numerically equal spellings compare equal', () => {
    assert.equal(decimalsEqual('1.50', '1.5'), true);
    assert.equal(decimalsEqual('15E-1', '1.5'), true);
    assert.equal(decimalsEqual('1E+3', '1000.000'), true);
    assert.equal(decimalsEqual('-0', '0'), true);
    assert.equal(decimalsEqual('0.000', '-0.0E9'), true);
    assert.equal(decimalsEqual('1E-130', '0.01E-128'), true);
  });

  test('different values compare unequal, including values differing only in the 38th digit', () => {
    assert.equal(decimalsEqual('1.5', '1.51'), false);
    assert.equal(decimalsEqual('1', '-1'), false);
    assert.equal(decimalsEqual('10', '1'), false);
    assert.equal(decimalsEqual('12345678901234567890123456789012345678', '12345678901234567890123456789012345679'), false);
    assert.equal(decimalsEqual('0.1', '0.1000000000000000055511151231257827'), false);
  });

  test('an invalid operand throws', () => {
    assert.throws(() => decimalsEqual('1', 'x'));
    assert.throws(() => decimalsEqual('', '0'));
  });
});
