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
});
