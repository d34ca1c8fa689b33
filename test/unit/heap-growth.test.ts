import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { limitHeapGrowth } from '../../src/cli/heap-growth.js';

test('the heap growth limit steps aside when the user chose heap flags', () => {
  assert.equal(limitHeapGrowth(['--max-old-space-size=512'], ''), false);
  assert.equal(limitHeapGrowth([], '--enable-source-maps --max-old-space-size=192'), false);
  assert.equal(limitHeapGrowth([], '--heap-growing-percent=0'), false);
});

// The limit is a V8 flag set after start-up: prove that V8 honours it by the heap a retaining, churning loop reaches.
test('the heap growth limit keeps the heap close to what is live', () => {
  const script = `
    import('${new URL('../../src/cli/heap-growth.ts', import.meta.url).href}').then(({ limitHeapGrowth }) => {
      if (process.argv[1] === 'limit') limitHeapGrowth();
      const live = [];
      let peak = 0;
      for (let round = 0; round < 400; round++) {
        // ~40 MB stays live (a window of pages in flight); everything older becomes garbage.
        live.push(Array.from({ length: 20000 }, (_, i) => ({ id: 'k' + round + '-' + i, v: i })));
        if (live.length > 16) live.shift();
        peak = Math.max(peak, process.memoryUsage().heapTotal);
      }
      console.log(peak);
    });`;
  const run = (mode: string): number => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, mode], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return Number(r.stdout.trim());
  };
  const unlimited = run('default');
  const limited = run('limit');
  assert.ok(limited < unlimited * 0.8, `limited peak heap ${limited} is not clearly below the default's ${unlimited}`);
});
