import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { keyId, type AttributeMap, type KeySchema } from '../../src/core/item.js';
import { SnapshotGate } from '../../src/core/snapshot-gate.js';
import { ItemMapper } from '../../src/core/transform.js';
import type { WriteOp } from '../../src/core/write-op.js';
import { runBackfill } from '../../src/engine/backfill.js';
import { FailurePolicy } from '../../src/engine/failure-policy.js';
import { silentLogger } from '../../src/engine/logger.js';
import { DEFAULT_SINK_CAPABILITIES, type RejectedWrite, type Sink, type WriteStats } from '../../src/sinks/sink.js';
import type { BackfillSource } from '../../src/sources/source.js';
import type { DeadLetterEntry } from '../../src/state/dead-letters.js';
import type { BackfillState } from '../../src/state/migration-state.js';
import type { StateStore } from '../../src/state/state-store.js';

// How the backfill lands a page through the snapshot gate (engine/backfill.ts landThroughGate): slice by slice, each
// slice admitted just before its writes are sent and unlocked once they landed. The sink here holds every write until
// the test lets it land, so the order of gate decisions and writes is exact.

const keys: KeySchema = { partitionKey: { name: 'id', type: 'S' } };
const item = (id: string): AttributeMap => ({ id: { S: id } });
/** The gate's key for an item id (core/item.ts keyId of the source key). */
const keyOf = (id: string): string => keyId(item(id), keys);

interface HeldWrite {
  ids: string[];
  land: () => void;
  fail: (err: Error) => void;
}

/** A sink whose every write call waits for the test: `held` lists the calls in the order they were made. */
class HeldSink implements Sink {
  readonly name = 'target';
  readonly capabilities = { ...DEFAULT_SINK_CAPABILITIES, maxBatchSize: 2 };
  readonly held: HeldWrite[] = [];
  private arrived: (() => void) | undefined;
  /** Item ids rejected by the target (dead-lettered by the failure policy). */
  reject = new Set<string>();

  write(ops: WriteOp[]): Promise<{ rejected: RejectedWrite[]; stats: WriteStats }> {
    return new Promise((resolve, reject) => {
      const ids = ops.map((op) => op.key.id!.S!);
      this.held.push({
        ids,
        land: () => {
          const rejected = ops
            .filter((op) => this.reject.has(op.key.id!.S!))
            .map((op) => ({ op, error: { code: 'ValidationException', message: 'too large' } }));
          resolve({ rejected, stats: { written: ops.length - rejected.length, consumedCapacity: 0 } });
        },
        fail: reject,
      });
      this.arrived?.();
    });
  }

  /** Resolves once `n` write calls have been made. */
  async calls(n: number): Promise<void> {
    while (this.held.length < n) await new Promise<void>((r) => (this.arrived = r));
  }
}

function onePage(ids: string[]): BackfillSource {
  return {
    name: 'source',
    partitions: async () => ['0'],
    async *read() {
      yield { items: ids.map(item), cursor: undefined };
    },
  };
}

const deadLetters: DeadLetterEntry[] = [];
const store = {
  appendDeadLetters: async (entries: DeadLetterEntry[]) => void deadLetters.push(...entries),
  deadLetterLocation: () => 'memory',
} as unknown as StateStore;

function start(ids: string[], opts: { gateSlices: number; onError?: 'halt' | 'dead-letter' }) {
  let t = 1_000_000;
  const clock = { now: () => t, advance: (ms: number) => (t += ms) };
  const gate = new SnapshotGate({ marginMs: 5_000, now: clock.now });
  const sink = new HeldSink();
  const state: BackfillState = { strategy: 'scan', partitions: {}, itemsWritten: 0, bytesRead: 0 };
  const done = runBackfill(
    {
      source: onePage(ids),
      sourceName: 'source',
      sourceKeySchema: keys,
      mapper: new ItemMapper({ targets: { target: keys }, singleTarget: 'target' }),
      sinks: { target: sink },
      state,
      concurrency: 1,
      failures: new FailurePolicy(store, opts.onError ?? 'halt', silentLogger),
      onProgress: () => {},
      onCheckpoint: () => {},
      log: silentLogger,
      gate,
      gateSlices: opts.gateSlices,
    },
    new AbortController().signal,
  );
  return { gate, clock, sink, state, done };
}

const settle = () => new Promise((r) => setImmediate(r));

describe('the backfill lands a page through the gate slice by slice', () => {
  test('a stream record on a key being written waits for that slice only, not for the rest of the page', async () => {
    const { gate, clock, sink, done } = start(['a', 'b', 'c', 'd', 'e', 'f'], { gateSlices: 2 });
    await sink.calls(2);
    assert.deepEqual(
      sink.held.map((w) => w.ids),
      [
        ['a', 'b'],
        ['c', 'd'],
      ],
      'two slices in flight; the third waits for a slot, not admitted',
    );
    const order: string[] = [];
    const wait = gate.enter([{ key: keyOf('a'), createdAt: clock.now() }]);
    assert.ok(wait, 'a is being written: the record waits');
    const applied = wait.then(() => order.push('record on a'));
    await settle();
    order.push('slice a,b landed');
    sink.held[0]!.land();
    await applied;
    assert.deepEqual(order, ['slice a,b landed', 'record on a'], 'it waited for its own slice only (c,d is still in flight)');
    await sink.calls(3);
    sink.held[1]!.land();
    sink.held[2]!.land();
    assert.equal(await done, true);
  });

  test('a change to a key whose slice is not admitted yet does not wait, and its item is left to the stream', async () => {
    const { gate, clock, sink, state, done } = start(['a', 'b', 'c', 'd'], { gateSlices: 1 });
    await sink.calls(1);
    clock.advance(10);
    assert.equal(gate.enter([{ key: keyOf('c'), createdAt: clock.now() }]), undefined, 'c is not locked: no wait');
    sink.held[0]!.land();
    await sink.calls(2);
    assert.deepEqual(sink.held[1]!.ids, ['d'], 'c was dropped when its slice was admitted');
    assert.equal(state.overtaken, 1);
    assert.equal(gate.enter([{ key: keyOf('c'), createdAt: clock.now() }]), undefined, 'a dropped key was never locked');
    sink.held[1]!.land();
    assert.equal(await done, true);
    assert.equal(state.partitions['0']!.done, true);
  });

  test("a dead-lettered item's key is released with its slice", async () => {
    deadLetters.length = 0;
    const { gate, clock, sink, done } = start(['a', 'b'], { gateSlices: 1, onError: 'dead-letter' });
    sink.reject.add('a');
    await sink.calls(1);
    const wait = gate.enter([{ key: keyOf('a'), createdAt: clock.now() }]);
    assert.ok(wait);
    sink.held[0]!.land();
    await wait;
    assert.deepEqual(
      deadLetters.map((d) => d.sourceKey),
      [{ id: { S: 'a' } }],
      'the rejected write was dead-lettered before the lock went',
    );
    assert.equal(gate.enter([{ key: keyOf('a'), createdAt: clock.now() }]), undefined);
    assert.equal(await done, true);
  });

  test('after a slice fails, slices not admitted yet are not written, the failure comes once the others settled, and the cursor stays', async () => {
    const { gate, clock, sink, state, done } = start(['a', 'b', 'c', 'd', 'e', 'f'], { gateSlices: 2 });
    await sink.calls(2);
    let settled = false;
    done.catch(() => {}).finally(() => (settled = true));
    sink.held[0]!.fail(new Error('target unreachable'));
    await settle();
    assert.equal(settled, false, 'the slice still in flight keeps the failure waiting');
    const wait = gate.enter([{ key: keyOf('c'), createdAt: clock.now() }]);
    assert.ok(wait, 'the slice in flight still holds its keys');
    sink.held[1]!.land();
    await wait;
    await assert.rejects(done, /target unreachable/);
    assert.equal(sink.held.length, 2, 'the third slice was never written');
    assert.equal(gate.enter([{ key: keyOf('e'), createdAt: clock.now() }]), undefined, 'nor locked');
    assert.equal(state.partitions['0']!.done, false);
    assert.equal(state.partitions['0']!.items, 0);
  });
});
