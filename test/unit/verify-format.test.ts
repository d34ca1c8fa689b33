import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { formatKey, formatVerify } from '../../src/cli/commands/verify.js';
import type { VerifyResult } from '../../src/engine/verify/types.js';

const base: VerifyResult = {
  identical: false,
  mode: 'full',
  counts: { expected: 100, actual: 99, missing: 25, extra: 0, differing: 1, transformErrors: 0, recheckedInFlight: 2, repaired: 0, repairSkipped: 0 },
  missing: Array.from({ length: 25 }, (_, i) => ({ target: 'orders', key: { pk: { S: `o-${i}` }, n: { N: String(i) } } })),
  extra: [],
  differing: [{ target: 'orders', key: { pk: { S: 'o-x' }, n: { N: '1' } }, attributes: ['secret', 'total'] }],
  transformErrors: [],
  limit: 10_000,
  truncated: {},
  notes: ['a note'],
  reportPath: '/tmp/r.json',
  startedAt: '2026-01-01T00:00:00.000Z',
  durationMs: 5,
};

describe('verify terminal output', () => {
  test('keys are shown by attribute, numbers and binary readable', () => {
    assert.equal(formatKey({ pk: { S: 'a "q"' }, sk: { N: '1.50' } }), 'pk="a \\"q\\"", sk=1.50');
    assert.equal(formatKey({ b: { B: 'AQI=' } }), 'b=b64:AQI=');
  });

  test('a summary, the first 20 keys per category, attribute names but no values, the report path', () => {
    const text = formatVerify(base, 'm1');
    assert.match(text, /missing 25 · extra 0 · differing 1 · transform errors 0 · in flight \(resolved on re-check\) 2/);
    assert.match(text, /missing \(25, first 20 shown\):/);
    assert.ok(text.includes('orders  pk="o-19", n=19'));
    assert.ok(!text.includes('pk="o-20"'));
    assert.match(text, /… more in the report/);
    assert.match(text, /orders {2}pk="o-x", n=1 {2}attributes: secret, total/);
    assert.match(text, /report: \/tmp\/r\.json/);
    assert.match(text, /✘ 26 difference\(s\)\./);
  });

  test('identical, sample mode and repaired verdicts', () => {
    const same = { ...base, identical: true, counts: { ...base.counts, missing: 0, differing: 0 }, missing: [], differing: [] };
    assert.match(formatVerify(same, 'm'), /✔ 0 differences: the target\(s\) equal transform\(source\)\./);
    assert.match(
      formatVerify({ ...same, mode: 'sample', sampled: 10 }, 'm'),
      /random sample of 10 source item\(s\)[\s\S]*✔ 0 differences among the sampled items/,
    );
    const repaired = { ...base, counts: { ...base.counts, repaired: 26 }, missing: base.missing.map((f) => ({ ...f, repaired: true })) };
    const text = formatVerify(repaired, 'm');
    assert.match(text, /repaired 26 · not repaired 0/);
    assert.match(text, /pk="o-0", n=0 {2}\[repaired\]/);
    assert.match(text, /all repaired and re-checked/);
  });
});
