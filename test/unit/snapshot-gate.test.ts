import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SnapshotGate } from '../../src/core/snapshot-gate.js';

const MARGIN = 5_000;
const id = (k: string) => k;

function gate(snapshotAt?: number) {
  let t = 1_000_000;
  const clock = { now: () => t, advance: (ms: number) => (t += ms) };
  const g = new SnapshotGate({ marginMs: MARGIN, now: clock.now, ...(snapshotAt !== undefined ? { snapshotAt } : {}) });
  return { g, clock };
}

describe('SnapshotGate', () => {
  test('an item whose key the stream marked with a change newer than the read (minus the margin) is left to the stream', () => {
    const { g, clock } = gate();
    const ticket = g.beginRead();
    clock.advance(100);
    assert.equal(g.enter([{ key: 'a', createdAt: ticket.startedAt + 50 }]), undefined);
    const page = g.admit(ticket, ['a', 'b'], id);
    assert.deepEqual(page.admitted, ['b']);
    assert.equal(page.dropped, 1);
    page.release();
  });

  test('a mark within the margin before the read still drops the item (the timestamp may be rounded down)', () => {
    const { g } = gate();
    const ticket = g.beginRead();
    g.enter([{ key: 'a', createdAt: ticket.startedAt - MARGIN + 1 }]);
    assert.deepEqual(g.admit(ticket, ['a'], id).admitted, []);
  });

  test('a change older than the read by more than the margin does not drop the item (the read already holds it)', () => {
    const { g } = gate();
    const ticket = g.beginRead();
    g.enter([{ key: 'a', createdAt: ticket.startedAt - MARGIN - 1 }]);
    assert.deepEqual(g.admit(ticket, ['a'], id).admitted, ['a']);
  });

  test('a record without a creation time counts as made now, which is never earlier than the record', () => {
    const { g, clock } = gate();
    const ticket = g.beginRead();
    clock.advance(10);
    g.enter([{ key: 'a' }]);
    assert.deepEqual(g.admit(ticket, ['a'], id).admitted, []);
  });

  test('a change marked after the page was admitted waits until the page has landed', async () => {
    const { g } = gate();
    const ticket = g.beginRead();
    const page = g.admit(ticket, ['a', 'b'], id);
    const events: string[] = [];
    const wait = g.enter([{ key: 'b', createdAt: ticket.startedAt + 1 }]);
    assert.ok(wait, 'a locked key makes the applier wait');
    const applied = wait.then(() => events.push('stream write'));
    await new Promise((r) => setImmediate(r));
    events.push('page landed');
    page.release();
    await applied;
    assert.deepEqual(events, ['page landed', 'stream write']);
  });

  test('records on keys no page holds never wait', () => {
    const { g } = gate();
    const page = g.admit(g.beginRead(), ['a'], id);
    assert.equal(g.enter([{ key: 'z', createdAt: 1 }]), undefined);
    page.release();
    assert.equal(g.enter([{ key: 'a', createdAt: 1 }]), undefined, 'a released key no longer makes anyone wait');
  });

  test('an export page is judged against its export time, however late it is loaded', () => {
    const exportTime = 500_000;
    const { g, clock } = gate(exportTime);
    g.enter([{ key: 'a', createdAt: exportTime + 1 }]);
    clock.advance(3_600_000);
    const page = g.admit(g.beginRead(), ['a', 'b'], id);
    assert.deepEqual(page.admitted, ['b']);
  });

  test('marks older than every read in progress (minus the margin) are forgotten; younger ones are kept', () => {
    const { g, clock } = gate();
    const slow = g.beginRead();
    g.enter([{ key: 'old', createdAt: slow.startedAt - MARGIN - 10 }]);
    g.enter([{ key: 'young', createdAt: slow.startedAt }]);
    clock.advance(60_000);
    g.enter([{ key: 'late', createdAt: clock.now() }]);
    assert.equal(g.size, 2, 'the old mark is gone; the young one is still needed by the slow read');
    assert.deepEqual(g.admit(slow, ['young', 'old'], id).admitted, ['old']);
    clock.advance(60_000);
    g.enter([{ key: 'later', createdAt: clock.now() }]);
    assert.equal(g.size, 1, 'with no read in progress only marks within the margin of now are kept');
  });

  test('an export gate keeps every mark since its export time (its pages can still be overtaken)', () => {
    const exportTime = 500_000;
    const { g, clock } = gate(exportTime);
    g.enter([{ key: 'a', createdAt: exportTime }]);
    clock.advance(10_000_000);
    g.enter([{ key: 'b', createdAt: clock.now() }]);
    assert.equal(g.size, 2);
  });

  test('after close nothing is dropped, nothing waits and nothing is kept', async () => {
    const { g } = gate();
    const ticket = g.beginRead();
    const page = g.admit(ticket, ['a'], id);
    const wait = g.enter([{ key: 'a', createdAt: ticket.startedAt + 1 }]);
    g.close();
    await wait;
    assert.equal(g.size, 0);
    assert.equal(g.enter([{ key: 'b', createdAt: 1 }]), undefined);
    assert.deepEqual(g.admit(g.beginRead(), ['b'], id).admitted, ['b']);
    page.release();
  });

  describe('a page admitted slice by slice', () => {
    test('each slice locks only its own keys, and releasing it unlocks only those', async () => {
      const { g } = gate();
      const ticket = g.beginRead();
      const first = g.admitSlice(ticket, ['a', 'b'], id);
      const second = g.admitSlice(ticket, ['c', 'd'], id);
      g.endRead(ticket);
      const order: string[] = [];
      const onA = g.enter([{ key: 'a', createdAt: ticket.startedAt + 1 }]);
      const onAandC = g.enter([
        { key: 'a', createdAt: ticket.startedAt + 2 },
        { key: 'c', createdAt: ticket.startedAt + 2 },
      ]);
      assert.ok(onA && onAandC);
      const done = Promise.all([onA.then(() => order.push('record on a')), onAandC.then(() => order.push('records on a and c'))]);
      await new Promise((r) => setImmediate(r));
      order.push('first slice landed');
      first.release();
      await new Promise((r) => setImmediate(r));
      order.push('second slice landed');
      second.release();
      await done;
      assert.deepEqual(order, ['first slice landed', 'record on a', 'second slice landed', 'records on a and c']);
      assert.equal(g.enter([{ key: 'b', createdAt: 1 }]), undefined, 'a released slice leaves nothing locked');
    });

    test('a key of a slice not admitted yet never makes the stream wait; the change drops the item when its slice comes', () => {
      const { g, clock } = gate();
      const ticket = g.beginRead();
      clock.advance(100);
      const first = g.admitSlice(ticket, ['a'], id);
      clock.advance(100);
      assert.equal(g.enter([{ key: 'b', createdAt: clock.now() }]), undefined);
      const second = g.admitSlice(ticket, ['b', 'c'], id);
      assert.deepEqual(second.admitted, ['c']);
      assert.equal(second.dropped, 1);
      assert.equal(g.enter([{ key: 'b', createdAt: clock.now() }]), undefined, 'a dropped key was never locked');
      first.release();
      second.release();
    });

    test('every slice is judged against the read time of its page, however late it is admitted', () => {
      const { g, clock } = gate();
      const ticket = g.beginRead();
      // A change older than the read by more than the margin: the read holds it, the item stays.
      g.enter([{ key: 'old', createdAt: ticket.startedAt - MARGIN - 1 }]);
      clock.advance(60_000);
      assert.deepEqual(g.admitSlice(ticket, ['old'], id).admitted, ['old']);
    });

    test("the page's read stays open until endRead: marks its later slices need are kept, then forgotten", () => {
      const { g, clock } = gate();
      const ticket = g.beginRead();
      g.enter([{ key: 'c', createdAt: ticket.startedAt + 1 }]);
      g.admitSlice(ticket, ['a'], id).release();
      clock.advance(10 * MARGIN);
      g.enter([{ key: 'now', createdAt: clock.now() }]); // prunes
      assert.deepEqual(g.admitSlice(ticket, ['c'], id).admitted, [], 'the mark on c outlived the margin because the read is open');
      g.endRead(ticket);
      clock.advance(10 * MARGIN);
      g.enter([{ key: 'later', createdAt: clock.now() }]);
      assert.equal(g.size, 1, 'once the read ended, only marks within the margin of now are kept');
    });
  });
});
