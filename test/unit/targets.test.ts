import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ResolvedConfig } from '../../src/config/resolved-config.js';
import { DEFAULTS } from '../../src/config/resolved-config.js';
import type { KeySchema } from '../../src/core/item.js';
import { keyCanMove } from '../../src/engine/targets.js';

function config(over: Partial<ResolvedConfig> = {}): ResolvedConfig {
  return {
    name: 'm',
    configPath: '/tmp/m.json',
    stateDir: '/tmp/.dynashift/m',
    sources: { source: { table: 'A' } },
    targets: { target: { table: 'B' } },
    singleTarget: 'target',
    backfill: { ...DEFAULTS.backfill },
    stream: { ...DEFAULTS.stream },
    write: { ...DEFAULTS.write },
    onError: 'halt',
    ...over,
  };
}

const pkSk: KeySchema = { partitionKey: { name: 'pk', type: 'S' }, sortKey: { name: 'sk', type: 'S' } };
const pkOnly: KeySchema = { partitionKey: { name: 'pk', type: 'S' } };

describe('keyCanMove', () => {
  test('true whenever there is a transform (it may compute the key from any attribute)', () => {
    assert.equal(keyCanMove(config({ transform: (i) => i }), pkSk, [pkSk]), true);
  });

  test('true when the target key uses a non-key source attribute', () => {
    const byStatus: KeySchema = { partitionKey: { name: 'status', type: 'S' }, sortKey: { name: 'pk', type: 'S' } };
    assert.equal(keyCanMove(config(), pkSk, [byStatus]), true);
    assert.equal(keyCanMove(config(), pkOnly, [pkSk]), true, 'a new sort key from a non-key attribute');
  });

  test('true when any one of several targets uses a non-key source attribute', () => {
    assert.equal(keyCanMove(config(), pkSk, [pkSk, { partitionKey: { name: 'other', type: 'S' } }]), true);
  });

  test('false for identical keys without a transform', () => {
    assert.equal(keyCanMove(config(), pkSk, [pkSk]), false);
    assert.equal(keyCanMove(config(), pkOnly, [pkOnly]), false);
  });

  test('false when the target key only rearranges or drops source key attributes (they never change)', () => {
    const swapped: KeySchema = { partitionKey: { name: 'sk', type: 'S' }, sortKey: { name: 'pk', type: 'S' } };
    assert.equal(keyCanMove(config(), pkSk, [swapped]), false);
    assert.equal(keyCanMove(config(), pkSk, [pkOnly]), false);
  });
});
