/**
 * The AWS runner's dirty-key spool (src/state/key-spool.ts) on DynamoDB Local, against the race it exists for:
 * several stream "shards" spool changed keys concurrently (each a real TransactWriteItems with the control item,
 * some over 99 keys so they split) while a replayer pages the spool, re-reads each key's current value, removes the
 * spool item on its version, hands off and goes live. The source and target are in memory so the test can check the
 * exact invariant: each key's final target value equals its final source value — no spooled change is lost between a
 * replay's read and its removal, and once the mode has moved to handoff no spool write lands (a shard must redeliver
 * and, once live, apply its records in order).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createStateTable } from '../../src/state/dynamodb-state-store.js';
import { KeySpool, SPOOL_KEYS_PER_TRANSACTION, type SpoolEntry } from '../../src/state/key-spool.js';
import { withDynamoDbLocal } from '../support/dynamodb-local.js';
import { mulberry32 } from '../support/workload.js';

const local = withDynamoDbLocal();
const SEED = Number(process.env.SEED ?? 1);
const KEYS = 360;
const SHARDS = 3;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const keyName = (n: number) => `k${String(n).padStart(4, '0')}`;

test(
  `seed ${SEED}: concurrent spool writers vs replay, handoff and live: every key ends at its source value, no spool write lands after the handoff`,
  { timeout: 120_000 },
  async () => {
    await createStateTable(local.client, 'spool_state');
    const spool = new KeySpool({ client: local.client, table: 'spool_state', migration: 'm' });
    await spool.open('src');
    await spool.open('src'); // a re-run Prepare keeps the spool as it is
    const rng = mulberry32(SEED);
    // The backfill's snapshot: the target starts equal to the source.
    const source = new Map<string, number>();
    const target = new Map<string, number>();
    for (let i = 0; i < KEYS; i++) (source.set(keyName(i), 0), target.set(keyName(i), 0));
    let clock = 0;
    let stopWrites = false;
    const stats = { spooledBatches: 0, bigBatches: 0, deferred: 0, appliedLive: 0, replayed: 0, requeued: 0, passes: 0 };

    const entry = (k: string): SpoolEntry => ({ sourceKey: { id: { S: k } }, targetKeys: [{ target: 't', key: { id: { S: k } } }] });

    /** One shard: the application writes its keys; its records are delivered in order, spooled or (once live) applied. */
    const shard = async (s: number): Promise<void> => {
      const keys = [...source.keys()].filter((_, i) => i % SHARDS === s);
      const queue: { k: string; v: number }[] = [];
      for (let round = 0; !stopWrites || queue.length > 0; round++) {
        if (!stopWrites) {
          // Every 15th round writes 150 distinct keys at once: a batch that needs two transactions.
          const n = round % 15 === 7 ? 150 : 1 + Math.floor(rng() * 4);
          const picked = n === 150 ? keys.slice(0, 150) : Array.from({ length: n }, () => keys[Math.floor(rng() * keys.length)]!);
          for (const k of picked) {
            const v = ++clock;
            source.set(k, v);
            queue.push({ k, v });
          }
        }
        const batch = queue.slice(0, 160);
        const result = await spool.write(
          'src',
          batch.map((r) => entry(r.k)),
        );
        if (result === 'spooled') {
          stats.spooledBatches++;
          if (new Set(batch.map((r) => r.k)).size > SPOOL_KEYS_PER_TRANSACTION) stats.bigBatches++;
          queue.splice(0, batch.length);
        } else if (result === 'handoff') {
          stats.deferred++; // redelivered later, in order
          await sleep(2);
        } else {
          assert.equal(result, 'live');
          for (const r of batch) target.set(r.k, r.v);
          stats.appliedLive += batch.length;
          queue.splice(0, batch.length);
          await sleep(1);
        }
      }
    };

    /** The Replay task's loop, on the in-memory source: a re-read is the current value at that instant. */
    const replayer = async (): Promise<number> => {
      await sleep(300);
      let mode: 'spooling' | 'handoff' | 'live' = 'spooling';
      let handoffAt = -1;
      while (mode !== 'live') {
        stats.passes++;
        let start: Parameters<KeySpool['page']>[1];
        do {
          const page = await spool.page('src', start, 50);
          start = page.next;
          for (const key of page.keys) {
            await sleep(1); // the source read and target writes take time: the window for a racing spool write
            const k = key.sourceKey.id!.S!;
            target.set(k, source.get(k)!);
            if (await spool.remove('src', key)) stats.replayed++;
            else stats.requeued++;
          }
        } while (start);
        const remaining = await spool.count('src');
        if (mode === 'spooling' && (remaining <= 30 || stats.passes >= 3)) {
          assert.ok(await spool.setMode('src', 'spooling', 'handoff'));
          mode = 'handoff';
          handoffAt = (await spool.control('src'))!.spooled;
        } else if (mode === 'handoff' && remaining === 0) {
          assert.ok(await spool.setMode('src', 'handoff', 'live'));
          mode = 'live';
        }
      }
      return handoffAt;
    };

    const shards = Array.from({ length: SHARDS }, (_, s) => shard(s));
    const spooledAtHandoff = await replayer();
    await sleep(300); // the application keeps writing for a while once live
    stopWrites = true;
    await Promise.all(shards);

    const context = JSON.stringify(stats);
    const wrong = [...source].filter(([k, v]) => target.get(k) !== v);
    assert.deepEqual(wrong.slice(0, 10), [], `${wrong.length} key(s) differ from the source (${context})`);
    // The fence: no spool transaction landed after the handoff, and the spool stays empty once live.
    const control = (await spool.control('src'))!;
    assert.equal(control.mode, 'live');
    assert.equal(control.spooled, spooledAtHandoff, `no spool write landed after the handoff (${context})`);
    assert.equal(await spool.count('src'), 0);
    assert.equal(await spool.write('src', [entry(keyName(0))]), 'live', 'a spool write once live is refused');
    // The races really happened.
    assert.ok(stats.requeued > 0, `some keys changed between a replay's read and its removal (${context})`);
    assert.ok(stats.deferred > 0, `some batches arrived during the handoff and were redelivered (${context})`);
    assert.ok(stats.appliedLive > 0 && stats.bigBatches > 0, context);
    console.log(`# ${context}`);
  },
);

test('a retried removal of a replayed key (its first answer lost) does not remove the key spooled again since: each spool item has its own incarnation', async () => {
  await createStateTable(local.client, 'spool_retry');
  const spool = new KeySpool({ client: local.client, table: 'spool_retry', migration: 'r' });
  await spool.open('src');
  const entry: SpoolEntry = { sourceKey: { id: { S: 'k1' } }, targetKeys: [{ target: 't', key: { id: { S: 'k1' } } }] };
  assert.equal(await spool.write('src', [entry]), 'spooled');
  const [first] = (await spool.page('src')).keys;
  assert.equal(await spool.remove('src', first!), true, 'the replay removes the key it replayed');
  // The handler spools the key again before the SDK resends the removal whose answer was lost.
  assert.equal(await spool.write('src', [entry]), 'spooled');
  const [again] = (await spool.page('src')).keys;
  assert.equal(again!.version, first!.version, 'the version restarted: it alone cannot tell the two apart');
  assert.equal(await spool.remove('src', first!), false, 'the resent removal does not match the new incarnation');
  assert.notEqual(again!.gen, first!.gen);
  assert.deepEqual(
    (await spool.page('src')).keys.map((k) => k.gen),
    [again!.gen],
    'the key spooled again stays for the next pass',
  );
  assert.equal(await spool.remove('src', again!), true, 'and is removed once replayed');
});
