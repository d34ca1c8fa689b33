import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BACKFILL_STRATEGIES, strategyFor } from '../../src/engine/strategies/registry.js';

const SRC = fileURLToPath(new URL('../../src', import.meta.url));

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

test('every strategy name maps to the strategy that carries it', () => {
  for (const [name, strategy] of Object.entries(BACKFILL_STRATEGIES)) assert.equal(strategyFor(strategy.name).name, name);
  assert.deepEqual(Object.keys(BACKFILL_STRATEGIES).sort(), ['export', 'none', 'scan', 'touch']);
});

test('no code outside the strategy registry asks which backfill strategy it is', () => {
  const asks = /strategy\s*[!=]==?\s*'|'(scan|none|export|touch)'\s*[!=]==?\s*[\w.]*strategy/;
  const offenders = files(SRC)
    .filter((f) => !relative(SRC, f).startsWith(join('engine', 'strategies')))
    .flatMap((f) =>
      readFileSync(f, 'utf8')
        .split('\n')
        .map((line, i) => ({ f, line, i })),
    )
    .filter(({ line }) => asks.test(line))
    .map(({ f, line, i }) => `${relative(SRC, f)}:${i + 1}: ${line.trim()}`);
  assert.deepEqual(offenders, []);
});
