/**
 * TwinPairing settles identical pairs in memory before verify spills them; everything else must reach the bucket
 * comparison exactly as without it. Random interleavings of both sides (identical items, unequal ones, numerically
 * equal but differently written ones, missing, extra, a key written twice on the target side), with budgets from tiny
 * (almost everything spilled) to ample: the differences found must be those of the plain spill, every time.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mulberry32, type Rng } from '../../src/core/random.js';
import type { DdbJsonMap } from '../../src/core/ddb-json.js';
import type { AttributeMap } from '../../src/core/item.js';
import { BucketFiles } from '../../src/engine/verify/bucket-files.js';
import { compareBuckets, differences as bucketDifferences } from '../../src/engine/verify/compare.js';
import { itemText } from '../../src/engine/verify/item-text.js';
import { JsonlWriter, readJsonl } from '../../src/engine/verify/jsonl.js';
import { bucketOf, formatLine, lineHeader } from '../../src/engine/verify/spill-line.js';
import type { Suspect } from '../../src/engine/verify/suspect.js';
import { TwinPairing, type TwinPairingOptions } from '../../src/engine/verify/twin-pairing.js';
import { itemsEqual } from '../../src/core/equality.js';
import { toDdbJson } from '../../src/core/ddb-json.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Offer {
  side: 'expected' | 'actual';
  header: string;
  item: AttributeMap;
  meta?: { n: string; s: DdbJsonMap };
}

function scenario(rng: Rng, keys: number): Offer[][] {
  const expected: Offer[] = [];
  const actual: Offer[] = [];
  for (let i = 0; i < keys; i++) {
    const id = `k${i}`;
    const header = lineHeader('t', JSON.stringify([`S:${id}`]));
    const item: AttributeMap = { id: { S: id }, n: { N: String(i) }, tags: { SS: ['b', 'a'] } };
    const meta = { n: 'source', s: { id: { S: id } } };
    const roll = rng();
    const exp = { side: 'expected' as const, header, item, meta };
    const act = (it: AttributeMap) => ({ side: 'actual' as const, header, item: it });
    if (roll < 0.7) (expected.push(exp), actual.push(act(item)));
    else if (roll < 0.78) (expected.push(exp), actual.push(act({ ...item, n: { N: String(i + 1) } })));
    else if (roll < 0.84) (expected.push({ ...exp, item: { ...item, n: { N: `${i}.50` } } }), actual.push(act({ ...item, n: { N: `${i}.5` } })));
    else if (roll < 0.9) expected.push(exp);
    else if (roll < 0.95) actual.push(act(item));
    else (expected.push(exp), actual.push(act(item), act({ ...item, extra: { BOOL: true } })));
  }
  // Each side in a shuffled order of pages; the sides interleave at random.
  const shuffle = <T>(xs: T[]): T[] => {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [xs[i], xs[j]] = [xs[j]!, xs[i]!];
    }
    return xs;
  };
  return [shuffle(expected), shuffle(actual)];
}

async function differences(sides: Offer[][], pairingBudget: number | undefined): Promise<{ suspects: string[]; matched: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'dynashift-twins-'));
  dirs.push(dir);
  const expected = new BucketFiles(dir, 'expected', 3);
  const actual = new BucketFiles(dir, 'actual', 3);
  const pairing = pairingBudget === undefined ? undefined : new TwinPairing({ expected, actual }, { budgetBytes: pairingBudget });
  // Two concurrent feeders, one per side, yielding between items as scans do between pages.
  await Promise.all(
    sides.map(async (offers) => {
      for (const o of offers) {
        const line = () => formatLine(o.header, itemText(o.item), o.meta);
        if (pairing) await pairing.offer(o.side, o.header, o.item, line);
        else {
          const files = o.side === 'expected' ? expected : actual;
          await files.append(bucketOf(o.header, files.count), line());
        }
        await new Promise<void>((r) => setImmediate(r));
      }
    }),
  );
  await pairing?.drain();
  await Promise.all([expected.close(), actual.close()]);
  const out = new JsonlWriter<Suspect>(join(dir, 'suspects.jsonl'));
  await compareBuckets(expected, actual, out, {
    targetKeys: { t: { partitionKey: { name: 'id', type: 'S' } } },
    workDir: dir,
    maxBucketBytes: 64 * 1024 * 1024,
    signal: new AbortController().signal,
  });
  await out.close();
  const suspects: string[] = [];
  for await (const s of readJsonl<Suspect>(out.path)) suspects.push(JSON.stringify(s));
  return { suspects: suspects.sort(), matched: pairing?.matched ?? 0 };
}

for (const seed of [1, 2, 3, 4, 5]) {
  test(`seed ${seed}: with twins paired in memory (tiny, small and ample budgets) verify finds exactly the plain spill's differences`, async () => {
    const sides = scenario(mulberry32(seed), 400);
    const plain = await differences(sides, undefined);
    assert.ok(plain.suspects.length > 40, `the scenario has differences of every kind (${plain.suspects.length})`);
    for (const kind of ['missing', 'extra', 'differing'])
      assert.ok(
        plain.suspects.some((s) => s.includes(`"c":"${kind}"`)),
        kind,
      );
    // A key the target holds twice is reported either way, but which copy counts as its twin ("differing") and which as
    // "extra" depends on arrival order, with or without pairing (as between two scans): those keys are compared as keys.
    const twice = new Set(sides[1]!.map((o) => o.header).filter((h, i, all) => all.indexOf(h) !== i));
    const view = (suspects: string[]) => {
      const exact: string[] = [];
      const keys = new Map<string, string[]>();
      for (const s of suspects) {
        const { c, t, k } = JSON.parse(s) as Suspect;
        if (twice.has(lineHeader(t, k))) keys.set(k, [...(keys.get(k) ?? []), c].sort());
        else exact.push(s);
      }
      return { exact, twice: [...keys].sort() };
    };
    assert.ok(twice.size > 5, `some keys are held twice by the target (${twice.size})`);
    for (const [, kinds] of view(plain.suspects).twice) assert.ok(kinds.includes('extra'), kinds.join(','));
    for (const budget of [1, 600, 10_000_000]) {
      const paired = await differences(sides, budget);
      const [a, b] = [view(paired.suspects), view(plain.suspects)];
      assert.deepEqual(a.exact, b.exact, `budget ${budget}`);
      assert.deepEqual(
        a.twice.map(([k, kinds]) => [k, kinds.includes('extra')]),
        b.twice.map(([k, kinds]) => [k, kinds.includes('extra')]),
        `budget ${budget}: every key held twice is reported, with an extra copy`,
      );
      if (budget === 10_000_000) assert.ok(paired.matched > 200, `identical pairs settled in memory: ${paired.matched}`);
    }
  });
}

test('pairs are settled in memory exactly when the bucket comparison would match them', () => {
  const rng = mulberry32(7);
  const values = (): AttributeMap[string][] => [
    { S: 'a' },
    { S: '' },
    { N: '1.5' },
    { N: '1.50' },
    { B: Uint8Array.from([1, 2]) },
    { B: Uint8Array.from([1, 3]) },
    { BOOL: true },
    { BOOL: false },
    { NULL: true },
    { SS: ['x', 'y'] },
    { SS: ['y', 'x'] },
    { SS: ['x', 'z'] },
    { NS: ['1', '2'] },
    { NS: ['2', '1'] },
    { BS: [Uint8Array.from([1]), Uint8Array.from([2])] },
    { BS: [Uint8Array.from([2]), Uint8Array.from([1])] },
    { L: [{ S: 'a' }, { N: '1' }] },
    { L: [{ N: '1' }, { S: 'a' }] },
    { M: { a: { S: 'a' }, b: { N: '1' } } },
    { M: { b: { N: '1' }, a: { S: 'a' } } },
    { M: { a: { S: 'a' } } },
  ];
  const pick = () => {
    const vs = values();
    const item: AttributeMap = {};
    for (const name of ['p', 'q', 'r']) if (rng() < 0.8) item[name] = vs[Math.floor(rng() * vs.length)]!;
    return item;
  };
  // The same value written another way: set members and map keys in another order, a fresh copy of the bytes.
  const rewrite = (v: AttributeMap[string]): AttributeMap[string] => {
    const c = structuredClone(v);
    if (c.SS) c.SS.reverse();
    if (c.NS) c.NS.reverse();
    if (c.BS) c.BS.reverse();
    if (c.M) c.M = Object.fromEntries(Object.entries(c.M).reverse());
    return c;
  };
  const variant = (a: AttributeMap): AttributeMap => {
    const vs = values();
    const b: AttributeMap = {};
    for (const [name, v] of Object.entries(a).reverse()) {
      const r = rng();
      if (r < 0.85) b[name] = rewrite(v);
      else if (r < 0.95) b[name] = vs[Math.floor(rng() * vs.length)]!;
    }
    if (rng() < 0.05) b['extra'] = { S: 'a' };
    return b;
  };
  let same = 0;
  for (let i = 0; i < 3000; i++) {
    const a = pick();
    const b = rng() < 0.5 ? variant(a) : pick();
    // compare.ts: equal canonical texts match at once; other pairs match when no attribute differs by value.
    const expected = itemText(a) === itemText(b) || bucketDifferences(toDdbJson(a), toDdbJson(b)).length === 0;
    assert.equal(itemsEqual(a, b), expected, `${itemText(a)} vs ${itemText(b)}`);
    if (expected) same++;
  }
  assert.ok(same > 300 && same < 2500, `both outcomes are exercised (${same} of 3000 the same)`);
});

const ITEM_SIZE = 110;
const paddedItem = (i: number): AttributeMap => ({ id: { S: `k${i}` }, pad: { S: 'x'.repeat(100) } });

/**
 * Offers N items from each side at once, the expected side as fast as it can, the actual side pausing before each
 * item (`pause(i)`); `header(side, i)` names each item (the same name on both sides makes a pair). Returns the bucket
 * files, closed, after a drain.
 */
async function offerBothSides(
  label: string,
  opts: TwinPairingOptions,
  n: number,
  pause: (i: number) => Promise<void>,
  header: (side: 'expected' | 'actual', i: number) => string = (_side, i) => `h${i}`,
): Promise<{ pairing: TwinPairing; spilled: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'dynashift-twins-'));
  dirs.push(dir);
  const files = { expected: new BucketFiles(dir, `expected-${label}`, 2), actual: new BucketFiles(dir, `actual-${label}`, 2) };
  const pairing = new TwinPairing(files, opts);
  const side = async (name: 'expected' | 'actual'): Promise<void> => {
    for (let i = 0; i < n; i++) {
      if (name === 'actual') await pause(i);
      const h = header(name, i);
      await pairing.offer(name, h, paddedItem(i), () => `${h}\n`);
    }
    pairing.finish(name);
  };
  await Promise.all([side('expected'), side('actual')]);
  await pairing.drain();
  await Promise.all([files.expected.close(), files.actual.close()]);
  return { pairing, spilled: files.expected.lines + files.actual.lines };
}

const nextTurn = () => new Promise<void>((r) => setImmediate(r));

test('a side that runs ahead parks until the other catches up: every pair settles in memory, within the budget', async () => {
  const N = 2000;
  const { pairing, spilled } = await offerBothSides('budget', { budgetBytes: 20 * ITEM_SIZE }, N, nextTurn);
  assert.equal(pairing.matched, N, 'every pair settled in memory');
  assert.ok(pairing.peakBytes <= 22 * ITEM_SIZE, `waiting stayed within the budget (peak ${pairing.peakBytes} bytes)`);
  assert.equal(spilled, 0, 'nothing spilled');
});

test('parkAheadBytes parks the side ahead well before the budget: waiting stays at the threshold, every pair settles', async () => {
  const N = 1000;
  const opts = { budgetBytes: 100 * ITEM_SIZE, parkAheadBytes: 4 * ITEM_SIZE };
  const { pairing, spilled } = await offerBothSides('park', opts, N, nextTurn);
  assert.equal(pairing.matched, N, 'every pair settled in memory');
  // The side ahead parks once it is more than 4 items ahead: the fifth waits, the sixth is not offered until a pair settles.
  assert.ok(pairing.peakBytes <= 5 * ITEM_SIZE, `waiting stayed at the park threshold, far below the budget (peak ${pairing.peakBytes} bytes)`);
  assert.equal(spilled, 0, 'nothing spilled');
});

test('a slow page on the other side does not let the side ahead run free while the sides meet; sides that never meet still stop parking', async () => {
  const N = 100;
  const opts = { parkAheadBytes: 4 * ITEM_SIZE, patienceMs: 20 };
  // Pages of 10 items; the other side takes 60 ms per page, longer than the 20 ms patience.
  const slowPages = (i: number) => (i % 10 === 0 ? new Promise<void>((r) => setTimeout(r, 60)) : Promise.resolve());
  const meeting = await offerBothSides('meeting', { ...opts, budgetBytes: 1000 * ITEM_SIZE }, N, slowPages);
  assert.equal(meeting.pairing.matched, N);
  assert.ok(
    meeting.pairing.peakBytes <= 5 * ITEM_SIZE,
    `the side ahead kept parking through the slow pages (peak ${meeting.pairing.peakBytes} bytes)`,
  );

  // Twins that never come (another key layout): parking is given up after the patience, and the budget spills.
  const apart = await offerBothSides(
    'apart',
    { ...opts, budgetBytes: 20 * ITEM_SIZE },
    N,
    () => Promise.resolve(),
    (side, i) => `${side}${i}`,
  );
  assert.equal(apart.pairing.matched, 0);
  assert.equal(apart.spilled, 2 * N, 'every item spilled to the buckets, none lost');
});
