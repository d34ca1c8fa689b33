import { mulberry32 } from '../../src/core/random.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChangePage } from '../../src/core/change.js';
import { DynashiftError, StreamGapError } from '../../src/errors.js';
import type { StreamState } from '../../src/state/migration-state.js';
import { toChangeRecord } from '../../src/sources/stream/record-mapper.js';
import { StreamReader, type StreamReaderOptions } from '../../src/sources/stream/stream-reader.js';
import type { StreamsApi } from '../../src/sources/stream/streams-api.js';
import { StreamModel, type ModelChange } from '../support/stream-model.js';

// ---- helpers --------------------------------------------------------------------------------------------------------

const HOUR = 3_600_000;

function freshState(model: StreamModel, openedAt = Date.now()): StreamState {
  return { streamArn: model.streamArn, viewType: 'NEW_AND_OLD_IMAGES', openedAt: new Date(openedAt).toISOString(), shards: {} };
}

function change(pk: string, version: number, extra: Partial<ModelChange> = {}): ModelChange {
  return { keys: { pk: { S: pk } }, newImage: { pk: { S: pk }, v: { N: String(version) } }, ...extra };
}

function reader(model: StreamsApi, state: StreamState, opts: Partial<StreamReaderOptions> = {}): StreamReader {
  return new StreamReader({
    api: model,
    source: 'orders',
    state,
    onCheckpoint: () => {},
    pollIntervalMs: 5,
    discoveryIntervalMs: 20,
    ...opts,
  });
}

type Outcome = { ok: true } | { ok: false; error: unknown };

/** Starts `run` and captures its outcome, so an early rejection is never an unhandled one. */
function start(r: StreamReader, handler: (page: ChangePage) => Promise<void>) {
  const controller = new AbortController();
  const outcome: Promise<Outcome> = r.run(handler, controller.signal).then(
    () => ({ ok: true }),
    (error: unknown) => ({ ok: false, error }),
  );
  return { controller, outcome };
}

async function waitFor(cond: () => boolean, what: string, timeoutMs = 4_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await delay(3);
  }
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function expectGap(outcome: Promise<Outcome>, shardId: string): Promise<StreamGapError> {
  const result = await outcome;
  assert.equal(result.ok, false, 'run should have rejected');
  const error = (result as { error: unknown }).error;
  assert.ok(error instanceof StreamGapError, `expected StreamGapError, got ${String(error)}`);
  assert.equal(error.code, 'STREAM_GAP');
  assert.equal(error.details?.['shardId'], shardId);
  return error;
}

function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

const seqs = (page: ChangePage) => page.records.map((r) => r.sequenceNumber);

// ---- record mapping -------------------------------------------------------------------------------------------------

test('record mapper keeps images, creation time, unknown event names and flags TTL deletes', () => {
  const record = toChangeRecord({
    eventName: 'UNKNOWN_TO_SDK_VERSION' as 'REMOVE',
    userIdentity: { Type: 'Service', PrincipalId: 'dynamodb.amazonaws.com' },
    dynamodb: {
      SequenceNumber: '000000000000000000042',
      Keys: { pk: { S: 'a' } },
      OldImage: { pk: { S: 'a' }, n: { N: '1.50' } },
      ApproximateCreationDateTime: new Date('2026-01-02T03:04:05.000Z'),
    },
  });
  assert.deepEqual(record, {
    sequenceNumber: '000000000000000000042',
    eventName: 'UNKNOWN_TO_SDK_VERSION',
    keys: { pk: { S: 'a' } },
    oldImage: { pk: { S: 'a' }, n: { N: '1.50' } },
    createdAt: Date.parse('2026-01-02T03:04:05.000Z'),
    ttlDelete: true,
  });
  const plain = toChangeRecord({ dynamodb: { SequenceNumber: '1', Keys: { pk: { S: 'b' } }, NewImage: { pk: { S: 'b' } } } });
  assert.equal(plain.eventName, 'UNKNOWN');
  assert.equal(plain.ttlDelete, undefined);
  assert.deepEqual(plain.newImage, { pk: { S: 'b' } });
});

test('record mapper refuses a record it could not checkpoint or apply instead of dropping it', () => {
  assert.throws(
    () => toChangeRecord({ eventName: 'INSERT', dynamodb: { Keys: { pk: { S: 'a' } } } }),
    (e: unknown) => e instanceof DynashiftError && e.code === 'AWS_ERROR',
  );
  assert.throws(
    () => toChangeRecord({ eventName: 'INSERT', dynamodb: { SequenceNumber: '5' } }),
    (e: unknown) => e instanceof DynashiftError && e.code === 'AWS_ERROR',
  );
});

// ---- lineage --------------------------------------------------------------------------------------------------------

test('child shard is not read before its parent is fully applied', async () => {
  const model = new StreamModel();
  const [root] = model.shardIds();
  assert.ok(root);
  for (let i = 0; i < 5; i++) model.write(change(`k${i}`, 1, { shardId: root }));
  const [child] = model.splitShard(root);
  assert.ok(child);
  for (let i = 0; i < 3; i++) model.write(change(`k${i}`, 2, { shardId: child }));

  const state = freshState(model);
  const childOpenedWithParentFinished: boolean[] = [];
  const api: StreamsApi = {
    describeStream: (i) => model.describeStream(i),
    getShardIterator: (i) => {
      if (i.ShardId === child) childOpenedWithParentFinished.push(state.shards[root]?.finished === true);
      return model.getShardIterator(i);
    },
    getRecords: (i) => model.getRecords(i),
  };
  const events: string[] = [];
  const r = reader(api, state, { maxRecordsPerPage: 2 });
  const statusDuringParent: string[] = [];
  const { controller, outcome } = start(r, async (page) => {
    events.push(`start ${page.shardId}`);
    if (page.shardId === root && statusDuringParent.length === 0) {
      statusDuringParent.push(...r.status().map((s) => `${s.shardId}:${s.state}`));
    }
    if (page.shardId === child) assert.equal(state.shards[root]?.finished, true, 'parent must be finished first');
    await delay(10);
    events.push(`end ${page.shardId}`);
  });
  await waitFor(() => (state.shards[child]?.applied ?? 0) === 3, 'child records');
  await waitFor(() => r.status().find((s) => s.shardId === child)?.state === 'at-tip', 'child at the tip');
  controller.abort();
  assert.deepEqual(await outcome, { ok: true });

  assert.deepEqual(childOpenedWithParentFinished, [true]);
  const lastParentEnd = events.lastIndexOf(`end ${root}`);
  const firstChildStart = events.indexOf(`start ${child}`);
  assert.ok(lastParentEnd >= 0 && firstChildStart > lastParentEnd, events.join(', '));
  assert.equal(state.shards[root]?.applied, 5);
  assert.deepEqual(statusDuringParent, [`${root}:reading`, `${child}:waiting-for-parent`]);
  assert.deepEqual(
    r.status().map((s) => [s.shardId, s.state, s.applied]),
    [
      [root, 'finished', 5],
      [child, 'at-tip', 3],
    ],
  );
});

test('eligible shards are read concurrently', async () => {
  const model = new StreamModel({ shards: 2 });
  const [a, b] = model.shardIds();
  assert.ok(a && b);
  model.write(change('x', 1, { shardId: a }));
  model.write(change('y', 1, { shardId: b }));
  const state = freshState(model);
  const started = new Set<string>();
  const { controller, outcome } = start(reader(model, state), async (page) => {
    started.add(page.shardId);
    // With one shard at a time this would wait for a page that can't come.
    await waitFor(() => started.size === 2, 'the other shard to start while this one is in its handler', 2_000);
  });
  await waitFor(() => state.shards[a]?.applied === 1 && state.shards[b]?.applied === 1, 'both shards applied');
  controller.abort();
  assert.deepEqual(await outcome, { ok: true });
});

test('a closed shard is finished only after its last page is applied, and its child is found without waiting for the discovery interval', async () => {
  const model = new StreamModel();
  const [root] = model.shardIds();
  assert.ok(root);
  model.write(change('a', 1));
  const state = freshState(model);
  let child: string | undefined;
  const finishedDuringLastPage: boolean[] = [];
  const { controller, outcome } = start(reader(model, state, { discoveryIntervalMs: 60_000 }), async (page) => {
    if (page.shardId === root && page.records.some((r) => r.keys['pk']?.S === 'b')) {
      finishedDuringLastPage.push(state.shards[root]?.finished === true);
    }
  });
  await waitFor(() => state.shards[root]?.applied === 1, 'first record');
  // Close the shard with records still unread in it: the closing page carries them.
  model.write(change('b', 1));
  child = model.splitShard(root)[0];
  model.write(change('a', 2));
  const begun = Date.now();
  await waitFor(() => child !== undefined && state.shards[child]?.applied === 1, 'child record', 3_000);
  assert.ok(Date.now() - begun < 3_000);
  controller.abort();
  assert.deepEqual(await outcome, { ok: true });
  assert.deepEqual(finishedDuringLastPage, [false]);
  assert.equal(state.shards[root]?.finished, true);
  assert.equal(state.shards[child!]?.parentShardId, root);
});

test('every DescribeStream page is read', async () => {
  const model = new StreamModel({ shards: 5, describePageSize: 2 });
  for (const id of model.shardIds()) model.write(change(id, 1, { shardId: id }));
  const state = freshState(model);
  const { controller, outcome } = start(reader(model, state), async () => {});
  await waitFor(() => Object.values(state.shards).filter((s) => s.applied === 1).length === 5, 'all five shards');
  controller.abort();
  assert.deepEqual(await outcome, { ok: true });
  assert.deepEqual(Object.keys(state.shards).sort(), model.shardIds().sort());
  const firstRound = model
    .callsOf('describeStream')
    .slice(0, 3)
    .map((c) => ('ExclusiveStartShardId' in c.input ? c.input.ExclusiveStartShardId : 'n/a'));
  const ids = model.shardIds().sort();
  assert.deepEqual(firstRound, [undefined, ids[1], ids[3]]);
});

// ---- checkpoints ----------------------------------------------------------------------------------------------------

test('checkpoint never passes an unapplied record', async () => {
  const model = new StreamModel();
  const [shard] = model.shardIds();
  assert.ok(shard);
  const written = Array.from({ length: 10 }, (_, i) => model.write(change(`k${i}`, 1)).sequenceNumber);
  const state = freshState(model);
  const persisted: (string | undefined)[] = [];
  let previousLast: string | undefined;
  let applied = 0;
  const r = reader(model, state, { maxRecordsPerPage: 3, onCheckpoint: () => persisted.push(state.shards[shard]?.checkpoint) });
  const { controller, outcome } = start(r, async (page) => {
    const first = page.records[0]!.sequenceNumber;
    assert.equal(state.shards[shard]?.checkpoint, previousLast, 'checkpoint is the previous page, nothing more');
    await delay(5);
    assert.equal(state.shards[shard]?.checkpoint, previousLast, 'checkpoint does not move while the page is applied');
    assert.ok(previousLast === undefined || BigInt(previousLast) < BigInt(first));
    applied += page.records.length;
    previousLast = page.records[page.records.length - 1]!.sequenceNumber;
  });
  await waitFor(() => state.shards[shard]?.applied === 10, 'all records');
  controller.abort();
  assert.deepEqual(await outcome, { ok: true });
  assert.equal(applied, 10);
  assert.equal(state.shards[shard]?.checkpoint, written[9]);
  // Each checkpoint ever handed to persistence is the end of a page that had been applied.
  const pageEnds = [undefined, written[2], written[5], written[8], written[9]];
  for (const cp of persisted) assert.ok(pageEnds.includes(cp), `unexpected checkpoint ${cp}`);
  assert.ok(persisted.includes(written[9]));
});

test('a shard applies one page at a time, in order, while exactly one next page is read ahead', async () => {
  const model = new StreamModel();
  const written = Array.from({ length: 9 }, (_, i) => model.write(change(`k${i}`, 1)).sequenceNumber);
  const state = freshState(model);
  let inFlight = 0;
  let maxInFlight = 0;
  const delivered: string[] = [];
  const readAhead: number[] = [];
  const { controller, outcome } = start(reader(model, state, { maxRecordsPerPage: 2 }), async (page) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    const before = model.callsOf('getRecords').length;
    await delay(8);
    readAhead.push(model.callsOf('getRecords').length - before);
    delivered.push(...seqs(page));
    inFlight--;
  });
  await waitFor(() => Object.values(state.shards)[0]?.applied === 9, 'all records');
  controller.abort();
  assert.deepEqual(await outcome, { ok: true });
  assert.equal(maxInFlight, 1, 'pages are applied one at a time');
  assert.deepEqual(delivered, written, 'in stream order, each record once');
  // The call for the next page was already made when the handler started; none is made while it runs.
  assert.deepEqual(readAhead, [0, 0, 0, 0, 0]);
  assert.equal(model.callsOf('getRecords').length >= 5, true);
});

test('a page read ahead never reaches the handler before the page in front of it was applied', async () => {
  const model = new StreamModel();
  for (let i = 0; i < 6; i++) model.write(change(`k${i}`, 1));
  const state = freshState(model);
  const release = gate();
  const started: number[] = [];
  let pages = 0;
  const { controller, outcome } = start(reader(model, state, { maxRecordsPerPage: 3 }), async () => {
    started.push(++pages);
    if (pages === 1) await release.wait;
  });
  await waitFor(() => pages === 1, 'first page in flight');
  await waitFor(() => model.callsOf('getRecords').length >= 2, 'second page requested ahead');
  await delay(20);
  assert.deepEqual(started, [1], 'the second page waits for the first');
  release.open();
  await waitFor(() => Object.values(state.shards)[0]?.applied === 6, 'all records');
  controller.abort();
  assert.deepEqual(await outcome, { ok: true });
  assert.deepEqual(started, [1, 2]);
});

test('a handler failure ends the run even while the page read ahead keeps being throttled', async () => {
  const model = new StreamModel();
  for (let i = 0; i < 6; i++) model.write(change(`k${i}`, 1));
  const state = freshState(model);
  const boom = new Error('target rejected the write');
  const r = reader(model, state, { maxRecordsPerPage: 3 });
  const { outcome } = start(r, async () => {
    // From now on every GetRecords is throttled, including the one for the page read ahead.
    model.throttleNext(1_000_000, 'getRecords');
    await delay(5);
    throw boom;
  });
  const result = await outcome;
  assert.equal(result.ok, false);
  assert.equal((result as { error: unknown }).error, boom);
  assert.equal(Object.values(state.shards)[0]?.applied, 0);
  assert.equal(Object.values(state.shards)[0]?.checkpoint, undefined);
});

test('handler failure leaves checkpoint at previous page', async () => {
  const model = new StreamModel();
  const [shard] = model.shardIds();
  assert.ok(shard);
  const written = Array.from({ length: 6 }, (_, i) => model.write(change(`k${i}`, 1)).sequenceNumber);
  const state = freshState(model);
  const boom = new Error('target rejected the write');
  let pages = 0;
  const r = reader(model, state, { maxRecordsPerPage: 3 });
  const { outcome } = start(r, async () => {
    if (++pages === 2) throw boom;
  });
  const result = await outcome;
  assert.equal(result.ok, false);
  assert.equal((result as { error: unknown }).error, boom);
  assert.equal(state.shards[shard]?.checkpoint, written[2]);
  assert.equal(state.shards[shard]?.applied, 3);
  assert.equal(state.shards[shard]?.finished, false);
  assert.equal(r.caughtUpSince(0), false);
  assert.equal(pages, 2, 'nothing is handled after the failure');
});

test('a shard without a checkpoint starts at TRIM_HORIZON and a checkpointed one right after its checkpoint', async () => {
  const model = new StreamModel({ shards: 2 });
  const [a, b] = model.shardIds();
  assert.ok(a && b);
  const onA = Array.from({ length: 4 }, (_, i) => model.write(change(`a${i}`, 1, { shardId: a })).sequenceNumber);
  const onB = Array.from({ length: 2 }, (_, i) => model.write(change(`b${i}`, 1, { shardId: b })).sequenceNumber);
  const state = freshState(model);
  state.shards[a] = { checkpoint: onA[1], finished: false, applied: 2 };
  state.shards[b] = { finished: false, applied: 0 };
  const delivered: string[] = [];
  const { controller, outcome } = start(reader(model, state), async (page) => {
    delivered.push(...seqs(page));
  });
  await waitFor(() => state.shards[a]?.applied === 4 && state.shards[b]?.applied === 2, 'remaining records');
  controller.abort();
  assert.deepEqual(await outcome, { ok: true });
  assert.deepEqual(delivered.sort(), [onA[2], onA[3], ...onB].sort());
  const opens = model.callsOf('getShardIterator').map((c) => c.input);
  assert.deepEqual(
    opens.find((i) => 'ShardId' in i && i.ShardId === a),
    {
      StreamArn: model.streamArn,
      ShardId: a,
      ShardIteratorType: 'AFTER_SEQUENCE_NUMBER',
      SequenceNumber: onA[1],
    },
  );
  assert.deepEqual(
    opens.find((i) => 'ShardId' in i && i.ShardId === b),
    { StreamArn: model.streamArn, ShardId: b, ShardIteratorType: 'TRIM_HORIZON' },
  );
});

test('opening at TRIM_HORIZON near the end of retention halts with a stream gap', async () => {
  const model = new StreamModel();
  const [root] = model.shardIds();
  assert.ok(root);
  model.write(change('a', 1));
  const state = freshState(model, Date.now() - (24 * HOUR - 4 * 60_000));
  let handled = 0;
  const r = reader(model, state);
  const { outcome } = start(r, async () => {
    handled++;
  });
  await expectGap(outcome, root);
  assert.equal(handled, 0);
  assert.equal(model.callsOf('getShardIterator').length, 0, 'the shard was never opened');
  assert.equal(r.caughtUpSince(0), false);
});

test('a child of a recently active parent opens at TRIM_HORIZON long after the stream position was opened', async () => {
  const model = new StreamModel();
  const [root] = model.shardIds();
  assert.ok(root);
  const last = model.write(change('a', 1));
  const [child] = model.splitShard(root);
  assert.ok(child);
  model.write(change('a', 2));
  const state = freshState(model, Date.now() - 30 * HOUR);
  state.shards[root] = { checkpoint: last.sequenceNumber, finished: true, applied: 1, lastRecordAt: Date.now() - HOUR };
  state.shards[child] = { parentShardId: root, finished: false, applied: 0 };
  const { controller, outcome } = start(reader(model, state), async () => {});
  await waitFor(() => state.shards[child]?.applied === 1, 'child record');
  controller.abort();
  assert.deepEqual(await outcome, { ok: true });
});

// ---- iterator expiry, trimming, missing shards ----------------------------------------------------------------------

test('expired iterator is renewed from the checkpoint without losing records', async () => {
  let clock = Date.parse('2026-03-01T00:00:00Z');
  const now = () => clock;
  const model = new StreamModel({ now });
  const written = Array.from({ length: 9 }, (_, i) => model.write(change(`k${i}`, 1)).sequenceNumber);
  const state = freshState(model, clock);
  const delivered: string[] = [];
  let pages = 0;
  const { controller, outcome } = start(reader(model, state, { now, maxRecordsPerPage: 3 }), async (page) => {
    delivered.push(...seqs(page));
    pages++;
    if (pages === 1) clock += 16 * 60_000; // the iterator handed out with this page is now older than 15 minutes
    if (pages === 2) model.expireIterators();
  });
  await waitFor(() => delivered.length === 9, 'all records');
  // Also while idle at the tip: expiry there must not replay or skip anything either.
  model.expireIterators();
  const more = model.write(change('late', 1)).sequenceNumber;
  await waitFor(() => delivered.length === 10, 'late record');
  controller.abort();
  assert.deepEqual(await outcome, { ok: true });
  assert.deepEqual(delivered, [...written, more]);
  const expired = model.callsOf('getRecords').filter((c) => c.error === 'ExpiredIteratorException');
  assert.ok(expired.length >= 3, `expected at least 3 expirations, saw ${expired.length}`);
  const renewals = model
    .callsOf('getShardIterator')
    .slice(1)
    .map((c) => ('SequenceNumber' in c.input ? c.input.SequenceNumber : undefined));
  assert.deepEqual(renewals.slice(0, 2), [written[2], written[5]]);
});

test('trimmed checkpoint halts with a stream gap', async () => {
  const model = new StreamModel();
  const [shard] = model.shardIds();
  assert.ok(shard);
  const written = Array.from({ length: 5 }, (_, i) => model.write(change(`k${i}`, 1)).sequenceNumber);
  model.trimBefore({ sequenceNumber: written[3]! });
  const state = freshState(model);
  state.shards[shard] = { checkpoint: written[1], finished: false, applied: 2 };
  let handled = 0;
  const r = reader(model, state);
  const { outcome } = start(r, async () => {
    handled++;
  });
  const gap = await expectGap(outcome, shard);
  assert.match(gap.message, /trimmed/);
  assert.equal(handled, 0, 'no record after the gap is applied as if nothing were missing');
  assert.equal(state.shards[shard]?.checkpoint, written[1]);
  assert.equal(r.caughtUpSince(0), false);
});

test('records trimmed while a shard is read halt with a stream gap', async () => {
  let clock = Date.parse('2026-03-01T00:00:00Z');
  const model = new StreamModel({ now: () => clock });
  const [shard] = model.shardIds();
  assert.ok(shard);
  const written = Array.from({ length: 6 }, (_, i) => model.write(change(`k${i}`, 1)).sequenceNumber);
  const state = freshState(model, clock);
  const { outcome } = start(reader(model, state, { maxRecordsPerPage: 2, now: () => clock }), async () => {
    clock += HOUR;
    model.trimBefore({ time: clock });
  });
  await expectGap(outcome, shard);
  assert.equal(state.shards[shard]?.checkpoint, written[1]);
  assert.equal(state.shards[shard]?.applied, 2);
});

test('missing parent halts with a stream gap', async () => {
  const model = new StreamModel();
  const [root] = model.shardIds();
  assert.ok(root);
  model.write(change('a', 1));
  const state = freshState(model);
  const r = reader(model, state);
  const { outcome } = start(r, async () => {});
  await waitFor(() => state.shards[root]?.applied === 1, 'root record');
  const orphan = model.createShard('shardId-never-seen');
  model.write(change('z', 1, { shardId: orphan }));
  const gap = await expectGap(outcome, orphan);
  assert.match(gap.message, /shardId-never-seen/);
  assert.equal(state.shards[orphan], undefined, 'an orphan is never tracked, so a restart still sees the gap');
  assert.equal(r.caughtUpSince(0), false);
});

test('a tracked shard that vanished before it was finished halts with a stream gap', async () => {
  const model = new StreamModel();
  const [root] = model.shardIds();
  assert.ok(root);
  const first = model.write(change('a', 1)).sequenceNumber;
  const last = model.write(change('a', 2)).sequenceNumber;
  const [child] = model.splitShard(root);
  assert.ok(child);
  model.trimBefore({ sequenceNumber: (BigInt(last) + 2n).toString() });
  assert.ok(!model.shardIds().includes(root));
  const state = freshState(model);
  state.shards[root] = { checkpoint: first, finished: false, applied: 1 };
  state.shards[child] = { parentShardId: root, finished: false, applied: 0 };
  let handled = 0;
  const { outcome } = start(reader(model, state), async () => {
    handled++;
  });
  await expectGap(outcome, root);
  assert.equal(handled, 0);
});

test('ResourceNotFoundException on a shard still needed halts with a stream gap', async () => {
  const model = new StreamModel();
  const [root] = model.shardIds();
  assert.ok(root);
  model.write(change('a', 1));
  model.failNext('getShardIterator', 'ResourceNotFoundException');
  const { outcome } = start(reader(model, freshState(model)), async () => {});
  await expectGap(outcome, root);
});

test('throttling backs off and retries', async () => {
  const model = new StreamModel();
  const written = Array.from({ length: 5 }, (_, i) => model.write(change(`k${i}`, 1)).sequenceNumber);
  model.throttleNext(1, 'describeStream', 'ProvisionedThroughputExceededException');
  model.throttleNext(1, 'getShardIterator', 'ThrottlingException');
  model.throttleNext(3, 'getRecords', 'LimitExceededException');
  const state = freshState(model);
  const warnings: string[] = [];
  const log = { info: () => {}, warn: (o: object) => warnings.push((o as { error: string }).error) };
  const delivered: string[] = [];
  const { controller, outcome } = start(reader(model, state, { log, maxRecordsPerPage: 2 }), async (page) => {
    delivered.push(...seqs(page));
  });
  await waitFor(() => delivered.length === 5, 'all records');
  controller.abort();
  assert.deepEqual(await outcome, { ok: true });
  assert.deepEqual(delivered, written);
  assert.deepEqual(warnings.sort(), [
    'LimitExceededException',
    'LimitExceededException',
    'LimitExceededException',
    'ProvisionedThroughputExceededException',
    'ThrottlingException',
  ]);
  assert.equal(model.calls.filter((c) => c.error !== undefined).length, 5);
});

test('a non-retryable API error stops the run with an AWS_ERROR', async () => {
  const model = new StreamModel();
  model.write(change('a', 1));
  model.failNext('getRecords', 'ValidationException');
  let handled = 0;
  const { outcome } = start(reader(model, freshState(model)), async () => {
    handled++;
  });
  const result = await outcome;
  assert.equal(result.ok, false);
  const error = (result as { error: unknown }).error;
  assert.ok(error instanceof DynashiftError && !(error instanceof StreamGapError));
  assert.equal(error.code, 'AWS_ERROR');
  assert.equal((error.cause as Error).name, 'ValidationException');
  assert.equal(handled, 0);
});

test('empty pages are followed until the records behind them arrive', async () => {
  const model = new StreamModel();
  const written = Array.from({ length: 3 }, (_, i) => model.write(change(`k${i}`, 1)).sequenceNumber);
  model.emptyNext(4);
  const delivered: string[] = [];
  const state = freshState(model);
  const { controller, outcome } = start(reader(model, state), async (page) => {
    delivered.push(...seqs(page));
  });
  await waitFor(() => delivered.length === 3, 'records behind empty pages');
  const later = model.write(change('later', 1)).sequenceNumber;
  await waitFor(() => delivered.length === 4, 'a record written while at the tip');
  controller.abort();
  assert.deepEqual(await outcome, { ok: true });
  assert.deepEqual(delivered, [...written, later]);
  assert.ok(model.callsOf('getRecords').length >= 6);
  assert.equal(Object.values(state.shards)[0]?.finished, false, 'an empty page never finishes an open shard');
});

// ---- abort, resume, progress ----------------------------------------------------------------------------------------

test('abort stops after the in-flight handler and records its checkpoint', async () => {
  const model = new StreamModel();
  const [shard] = model.shardIds();
  assert.ok(shard);
  const written = Array.from({ length: 6 }, (_, i) => model.write(change(`k${i}`, 1)).sequenceNumber);
  const state = freshState(model);
  const release = gate();
  let pages = 0;
  let checkpoints = 0;
  const { controller, outcome } = start(reader(model, state, { maxRecordsPerPage: 3, onCheckpoint: () => checkpoints++ }), async () => {
    pages++;
    await release.wait;
  });
  await waitFor(() => pages === 1, 'first page in flight');
  controller.abort();
  let settled = false;
  void outcome.then(() => (settled = true));
  await delay(30);
  assert.equal(settled, false, 'run waits for the in-flight handler');
  release.open();
  assert.deepEqual(await outcome, { ok: true });
  assert.equal(pages, 1);
  assert.equal(state.shards[shard]?.checkpoint, written[2]);
  assert.ok(checkpoints >= 1);
});

test('resume from checkpoint applies every record exactly once after the checkpoint', async () => {
  const model = new StreamModel({ shards: 2 });
  const written: string[] = [];
  for (let i = 0; i < 30; i++) written.push(model.write(change(`k${i % 7}`, i)).sequenceNumber);
  const state = freshState(model);
  // Persistence is debounced: the saved state lags the applied one, as after a crash.
  let persisted = JSON.stringify(state);
  let checkpointCalls = 0;
  const onCheckpoint = () => {
    if (++checkpointCalls % 3 === 0) persisted = JSON.stringify(state);
  };
  const applied1: string[] = [];
  const first = start(reader(model, state, { maxRecordsPerPage: 3, onCheckpoint }), async (page) => {
    applied1.push(...seqs(page));
    if (applied1.length >= 12) first.controller.abort();
  });
  assert.deepEqual(await first.outcome, { ok: true });
  assert.ok(applied1.length >= 12 && applied1.length < written.length, `stopped mid-way after ${applied1.length}`);

  // While the migrator is down, the source keeps changing and a shard splits.
  const [splitMe] = model.openShardIds();
  model.splitShard(splitMe!, 2);
  for (let i = 30; i < 45; i++) written.push(model.write(change(`k${i % 7}`, i)).sequenceNumber);

  const saved = JSON.parse(persisted) as StreamState;
  const savedCheckpoint = new Map(Object.entries(saved.shards).map(([id, s]) => [id, s.checkpoint]));
  const shardOf = new Map(model.written.map((w) => [w.sequenceNumber, w.shardId]));
  const afterCheckpoint = (seq: string) => {
    const cp = savedCheckpoint.get(shardOf.get(seq)!);
    return cp === undefined || BigInt(seq) > BigInt(cp);
  };

  const applied2: string[] = [];
  const r2 = reader(model, saved, { maxRecordsPerPage: 3 });
  const second = start(r2, async (page) => {
    applied2.push(...seqs(page));
  });
  const since = Date.now();
  await waitFor(() => r2.caughtUpSince(since), 'second run to catch up');
  second.controller.abort();
  assert.deepEqual(await second.outcome, { ok: true });

  assert.deepEqual(new Set([...applied1, ...applied2]), new Set(written), 'every record applied at least once');
  assert.deepEqual([...applied2].sort(), written.filter(afterCheckpoint).sort(), 'exactly the records after the checkpoint, once each');
  assert.ok(applied2.length < written.length, 'records up to the saved checkpoint are not replayed');
  for (const id of new Set(applied2.map((s) => shardOf.get(s)))) {
    const onShard = applied2.filter((s) => shardOf.get(s) === id).map(BigInt);
    assert.deepEqual(
      onShard,
      [...onShard].sort((x, y) => (x < y ? -1 : 1)),
      `shard ${id} in order`,
    );
  }
});

test('caughtUpSince requires a tip page on every shard and a discovery after the given time', async () => {
  const model = new StreamModel({ shards: 2 });
  const [a] = model.shardIds();
  assert.ok(a);
  model.write(change('x', 1));
  model.write(change('y', 1));
  const state = freshState(model);
  const r = reader(model, state);
  let hold: { wait: Promise<void>; open: () => void } | undefined;
  const { controller, outcome } = start(r, async () => {
    await hold?.wait;
  });
  const since = Date.now();
  assert.equal(r.caughtUpSince(since), false, 'nothing has been read yet');
  await waitFor(() => r.caughtUpSince(since), 'caught up');
  assert.equal(r.caughtUpSince(Date.now() + 60_000), false, 'no proof about the future');

  hold = gate();
  model.write(change('z', 1, { shardId: a }));
  const since2 = Date.now();
  await waitFor(() => r.status().some((s) => s.shardId === a && s.state === 'reading'), 'new page picked up');
  await delay(40);
  assert.equal(r.caughtUpSince(since2), false, 'a page still being applied is not caught up');
  hold.open();
  await waitFor(() => r.caughtUpSince(since2), 'caught up again');
  controller.abort();
  assert.deepEqual(await outcome, { ok: true });
});

test('a busy shard catches up with short pages, and is never at its tip while a page is being applied', async () => {
  const model = new StreamModel({ shards: 1 });
  let n = 0;
  const empties: number[] = [];
  // A writer that never pauses: a record lands just before every poll, so no page is ever empty.
  const busy: StreamsApi = {
    describeStream: (i) => model.describeStream(i),
    getShardIterator: (i) => model.getShardIterator(i),
    getRecords: async (i) => {
      model.write(change(`k${n++}`, 1));
      const out = await model.getRecords(i);
      if ((out.Records ?? []).length === 0) empties.push(n);
      return out;
    },
  };
  const state = freshState(model);
  const r = reader(model, state, { api: busy });
  let sawTipWhileApplying = false;
  const { controller, outcome } = start(r, async () => {
    if (r.atTipSince(0)) sawTipWhileApplying = true;
    await delay(1);
    if (r.atTipSince(0)) sawTipWhileApplying = true;
  });
  const applied = (): number => Object.values(state.shards)[0]?.applied ?? 0;
  let writtenBefore = 0;
  try {
    await waitFor(() => applied() >= 20, 'some records applied');
    const since = Date.now();
    writtenBefore = n;
    await delay(2);
    await waitFor(() => r.caughtUpSince(since), 'caught up without an empty page');
    // Sampled right after: caught up means every record written before `since` has been applied.
    assert.ok(applied() >= writtenBefore, `applied ${applied()} of the ${writtenBefore} records written before since`);
  } finally {
    controller.abort();
  }
  assert.deepEqual(await outcome, { ok: true });
  assert.deepEqual(empties, [], 'every poll returned records');
  assert.equal(sawTipWhileApplying, false);
});

/** Lets the first `free` GetRecords calls through, then holds every later one until released. */
function holdingGetRecords(model: StreamModel, free: number): { api: StreamsApi; held: () => boolean; release: () => void } {
  let calls = 0;
  let waiting = false;
  const g = gate();
  return {
    api: {
      describeStream: (i) => model.describeStream(i),
      getShardIterator: (i) => model.getShardIterator(i),
      getRecords: async (i) => {
        if (++calls > free) {
          waiting = true;
          await g.wait;
        }
        return model.getRecords(i);
      },
    },
    held: () => waiting,
    release: g.open,
  };
}

for (const [what, modelOpts, limit, expectTip] of [
  ['a page below Limit and well below 1 MB is the tip', {}, 1000, true],
  ['a page at Limit is not the tip', {}, 2, false],
  ['a page that may have been cut by the 1 MB bound is not the tip', { recordBytes: 300_000 }, 1000, false],
] as const) {
  test(what, async () => {
    const model = new StreamModel({ shards: 1, ...modelOpts });
    model.write(change('a', 1));
    model.write(change('b', 1));
    const since = Date.now();
    // A call proves the tip only for what was written before it started, at the clock's millisecond resolution.
    await delay(2);
    // One page of two records, then the next poll is held: only that page can prove the tip.
    const hold = holdingGetRecords(model, 1);
    const r = reader(model, freshState(model), { api: hold.api, maxRecordsPerPage: limit });
    const applied: number[] = [];
    const { controller, outcome } = start(r, async (page) => {
      applied.push(page.records.length);
    });
    await waitFor(() => hold.held(), 'the second poll');
    assert.deepEqual(applied, [2]);
    assert.equal(r.caughtUpSince(since), expectTip);
    assert.equal(r.status()[0]?.state, expectTip ? 'at-tip' : 'reading');
    hold.release();
    try {
      await waitFor(() => r.caughtUpSince(since), 'caught up after the next poll');
    } finally {
      controller.abort();
    }
    assert.deepEqual(await outcome, { ok: true });
  });
}

test('lagMs measures how far the applied records trail the clock and is 0 at the tip', async () => {
  const clock = Date.parse('2026-03-01T12:00:00Z');
  const model = new StreamModel({ now: () => clock });
  for (let i = 0; i < 4; i++) model.write(change(`k${i}`, 1, { createdAt: clock - 60_000 }));
  const state = freshState(model, clock - HOUR);
  const r = reader(model, state, { now: () => clock, maxRecordsPerPage: 2 });
  const lags: number[] = [];
  const { controller, outcome } = start(r, async () => {
    lags.push(r.lagMs());
  });
  await waitFor(() => r.status()[0]?.state === 'at-tip', 'tip');
  assert.deepEqual(lags, [60_000, 60_000]);
  assert.equal(r.lagMs(), 0);
  assert.equal(r.status()[0]?.lagMs, 0);
  controller.abort();
  assert.deepEqual(await outcome, { ok: true });
});

test('lagMs on minute-rounded record times (DynamoDB Local) is bounded by the last time the shard was read to its end', async () => {
  const t0 = Date.parse('2026-03-01T12:00:50Z');
  const minute = (t: number): number => Math.floor(t / 60_000) * 60_000; // how DynamoDB Local stamps records
  let clock = t0;
  const model = new StreamModel({ now: () => clock });
  model.write(change('a', 1, { createdAt: minute(clock) }));
  const r = reader(model, freshState(model, clock - HOUR), { now: () => clock });
  const lags: number[] = [];
  const { controller, outcome } = start(r, async () => {
    lags.push(r.lagMs());
  });
  // The first page proves nothing yet: its record's (rounded) age is all there is.
  await waitFor(() => r.status()[0]?.state === 'at-tip', 'tip');
  assert.deepEqual(lags, [50_000]);
  // A second later another write arrives. Everything written before the last empty poll (at t0) was applied, so
  // nothing pending is older than 1 s, although its record says 12:00:00.
  clock = t0 + 1_000;
  model.write(change('b', 1, { createdAt: minute(clock) }));
  await waitFor(() => lags.length === 2, 'the second page');
  assert.deepEqual(lags, [50_000, 1_000]);
  await waitFor(() => r.status()[0]?.state === 'at-tip', 'tip again');
  assert.equal(r.lagMs(), 0);
  controller.abort();
  assert.deepEqual(await outcome, { ok: true });
});

test('relistNow: caughtUpSince of a fresh moment holds after the next poll, not the next discovery interval', async () => {
  const model = new StreamModel({ shards: 1 });
  model.write(change('a', 1));
  const r = reader(model, freshState(model), { discoveryIntervalMs: 60_000 });
  const { controller, outcome } = start(r, async () => {});
  await waitFor(() => r.status()[0]?.state === 'at-tip', 'tip');
  const since = Date.now();
  await delay(2);
  // Polled at the tip after `since`, but no listing has started since then: a shard created meanwhile could be missed.
  await delay(100);
  assert.equal(r.caughtUpSince(since), false, 'no listing after since yet (the next is 60 s away)');
  r.relistNow();
  try {
    await waitFor(() => r.caughtUpSince(since), 'caught up after the listing asked for', 1_000);
  } finally {
    controller.abort();
  }
  assert.deepEqual(await outcome, { ok: true });
});

// ---- randomized -----------------------------------------------------------------------------------------------------

for (const seed of [7, 1234, 987654]) {
  test(`a randomized workload over random splits delivers each key's records in order (seed ${seed})`, async () => {
    const rng = mulberry32(seed);
    const handlerRng = mulberry32(seed ^ 0x5bd1e995);
    const model = new StreamModel({
      shards: 1 + Math.floor(rng() * 3),
      maxPageSize: 1 + Math.floor(rng() * 5),
      separateClosingPage: rng() < 0.5,
      describePageSize: 20, // small enough to paginate; pagination itself is covered above
    });
    const state = freshState(model);
    const written = new Map<string, number[]>();
    const applied = new Map<string, number[]>();
    const r = reader(model, state, { maxRecordsPerPage: 4, pollIntervalMs: 2, discoveryIntervalMs: 15 });
    const { controller, outcome } = start(r, async (page) => {
      for (const rec of page.records) {
        const key = rec.keys['pk']!.S!;
        applied.set(key, [...(applied.get(key) ?? []), Number(rec.newImage!['v']!.N)]);
      }
      if (handlerRng() < 0.3) await delay(Math.floor(handlerRng() * 4));
    });

    let splits = 0;
    for (let step = 0; step < 500; step++) {
      const p = rng();
      if (p < 0.8) {
        const key = `key-${Math.floor(rng() * 25)}`;
        const versions = written.get(key) ?? [];
        versions.push(versions.length + 1);
        written.set(key, versions);
        model.write(change(key, versions.length));
      } else if (p < 0.9) {
        const open = model.openShardIds();
        model.splitShard(open[Math.floor(rng() * open.length)]!, rng() < 0.7 ? 1 : 2);
        splits++;
      } else if (p < 0.94) {
        model.expireIterators();
      } else if (p < 0.97) {
        // Throttles queued faster than the reader makes calls would only grow the backoff towards its 5 s cap.
        if (model.pendingFailures() === 0) model.throttleNext(1 + Math.floor(rng() * 2));
      } else {
        model.emptyNext(2);
      }
      if (step % 10 === 0) await delay(1);
    }
    const since = Date.now();
    try {
      await waitFor(() => r.caughtUpSince(since), 'reader to catch up', 8_000);
    } finally {
      controller.abort();
    }
    assert.deepEqual(await outcome, { ok: true });

    assert.ok(splits > 20, `workload should split often (${splits})`);
    assert.deepEqual(new Map([...applied].sort()), new Map([...written].sort()));
    const total = [...written.values()].reduce((n, v) => n + v.length, 0);
    assert.equal(
      Object.values(state.shards).reduce((n, s) => n + s.applied, 0),
      total,
      'each record applied once',
    );
    const open = new Set(model.openShardIds());
    for (const [id, s] of Object.entries(state.shards)) assert.equal(s.finished, !open.has(id), `shard ${id} finished iff closed`);
  });
}

test('a single trim report is confirmed by reopening from the checkpoint: nothing skipped, nothing duplicated', async () => {
  const model = new StreamModel();
  const written = Array.from({ length: 6 }, (_, i) => model.write(change(`k${i}`, 1)).sequenceNumber);
  const state = freshState(model);
  const delivered: string[] = [];
  let pages = 0;
  const { controller, outcome } = start(reader(model, state, { maxRecordsPerPage: 2 }), async (page) => {
    delivered.push(...seqs(page));
    if (++pages === 1) model.failNext('getRecords', 'TrimmedDataAccessException', 1);
  });
  await waitFor(() => delivered.length === 6, 'all records');
  controller.abort();
  assert.deepEqual(await outcome, { ok: true });
  assert.deepEqual(delivered, written);
});

test('a shard discovered late keeps its discovery time across a restart: no false gap a day into the migration', async () => {
  const model = new StreamModel();
  const [shard] = model.shardIds();
  assert.ok(shard);
  model.write(change('a', 1));
  // Opened 30 h ago; the shard was first listed an hour ago (persisted createdAfter), then the process restarted.
  const state = freshState(model, Date.now() - 30 * HOUR);
  state.shards[shard] = { finished: false, applied: 0, createdAfter: Date.now() - HOUR };
  const delivered: string[] = [];
  const { controller, outcome } = start(reader(model, state), async (page) => {
    delivered.push(...seqs(page));
  });
  await waitFor(() => delivered.length === 1, 'the record');
  controller.abort();
  assert.deepEqual(await outcome, { ok: true });

  // Without the discovery time, the same shard can't be proven complete: a gap, never a silent skip.
  const unknown = freshState(model, Date.now() - 30 * HOUR);
  unknown.shards[shard] = { finished: false, applied: 0 };
  await expectGap(start(reader(model, unknown), async () => {}).outcome, shard);
});
