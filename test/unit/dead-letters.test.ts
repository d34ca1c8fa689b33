/**
 * The dead-letter lifecycle without a table: one entry per source item, DynamoDB JSON values, nothing recorded twice
 * on resume, failures resolved by the very write that failed landing later, a count derived from what is unresolved,
 * and files written before the lifecycle still loading.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChangeRecord } from '../../src/core/change.js';
import type { AttributeMap, KeySchema } from '../../src/core/item.js';
import { changeWrites, retryWrites, type MapFailure } from '../../src/core/protocol.js';
import { ItemMapper, type Transform } from '../../src/core/transform.js';
import { FailurePolicy, ItemFailureHalt } from '../../src/engine/failure-policy.js';
import type { Logger } from '../../src/engine/logger.js';
import { decodeMap, deadLetterId, failureOldImage, isUnresolved } from '../../src/state/dead-letters.js';
import { FileStateStore } from '../../src/state/file-state-store.js';
import type { RejectedWrite } from '../../src/sinks/sink.js';

const quiet: Logger = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {}, child: () => quiet } as unknown as Logger;

function store(): FileStateStore {
  return new FileStateStore(mkdtempSync(join(tmpdir(), 'dynashift-dl-')));
}

function lines(s: FileStateStore): Record<string, unknown>[] {
  return readFileSync(s.deadLetterLocation(), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

const key = (id: string): AttributeMap => ({ id: { S: id } });
const backfillFailure = (id: string, item: AttributeMap = key(id)): MapFailure => ({
  stage: 'backfill',
  source: 'source',
  sourceKey: key(id),
  item,
  error: { code: 'TRANSFORM_FAILED', message: `transform threw: boom ${id}` },
});
const record = (id: string, seq: string, extra: Partial<ChangeRecord> = {}): ChangeRecord => ({
  sequenceNumber: seq,
  eventName: 'MODIFY',
  keys: key(id),
  newImage: { ...key(id), v: { N: seq } },
  oldImage: key(id),
  ...extra,
});
const streamFailure = (id: string, seq: string): MapFailure => ({
  stage: 'stream',
  source: 'source',
  sourceKey: key(id),
  record: record(id, seq),
  shardId: 'shardId-1',
  error: { code: 'TRANSFORM_FAILED', message: `transform threw: boom ${id}` },
});

async function loaded(s: FileStateStore, mode: 'halt' | 'dead-letter' = 'dead-letter'): Promise<FailurePolicy> {
  const p = new FailurePolicy(s, mode, quiet);
  await p.load();
  return p;
}

describe('dead letters: one entry per source item, in DynamoDB JSON', () => {
  test('binary values are base64 and numbers exact strings, in keys, items and nested values (not {"0":27,…})', async () => {
    const s = store();
    const bytes = Uint8Array.from([27, 0, 255]);
    const item: AttributeMap = {
      id: { B: bytes },
      n: { N: '12345678901234567890123456789012345678' },
      bs: { BS: [bytes] },
      nested: { M: { inner: { L: [{ B: bytes }, { N: '1.50' }] } } },
    };
    const p = await loaded(s);
    await p.handle(
      [{ stage: 'backfill', source: 'source', sourceKey: { id: { B: bytes } }, item, error: { code: 'TRANSFORM_FAILED', message: 'x' } }],
      [],
    );
    const [line] = lines(s);
    const b64 = Buffer.from(bytes).toString('base64');
    assert.deepEqual(line!['sourceKey'], { id: { B: b64 } });
    assert.deepEqual(line!['item'], {
      id: { B: b64 },
      n: { N: '12345678901234567890123456789012345678' },
      bs: { BS: [b64] },
      nested: { M: { inner: { L: [{ B: b64 }, { N: '1.50' }] } } },
    });
    assert.deepEqual(decodeMap(line!['item']), item, 'DynamoDB JSON reads back to the same item');
  });

  test('a resumed run that meets the same failures again records none of them twice (6 records → 6 entries)', async () => {
    const s = store();
    const failures = ['a', 'b', 'c', 'd', 'e', 'f'].map((id, i) => streamFailure(id, String(100 + i)));
    for (let run = 0; run < 3; run++) {
      const p = await loaded(s, 'halt');
      await assert.rejects(p.handle(failures, []), (err: ItemFailureHalt) => err.code === 'TRANSFORM_FAILED');
    }
    assert.equal(lines(s).length, 6);
    assert.equal((await loaded(s)).count, 6);
    assert.equal(s.unresolvedDeadLetters(), 6);
  });

  test('an item that fails in the backfill and in the stream is one dead letter', async () => {
    const s = store();
    const p = await loaded(s);
    await p.handle([backfillFailure('a')], []);
    await p.handle([streamFailure('a', '200')], []);
    assert.equal(p.count, 1);
    const letters = await s.deadLetters();
    assert.equal(letters.length, 1);
    assert.equal(letters[0]!.failures.length, 2);
    assert.equal(letters[0]!.stage, 'backfill', 'the entry shows its first failure');
    assert.equal(s.unresolvedDeadLetters(), 1);
  });

  test('the count is derived from what is unresolved: a backfill failure is resolved when the same item is copied again', async () => {
    const s = store();
    await (await loaded(s, 'dead-letter')).handle([backfillFailure('a'), backfillFailure('b')], []);
    const rerun = await loaded(s);
    assert.equal(rerun.count, 2);
    await rerun.landed('backfill', 'source', () => [{ sourceKey: key('a') }, { sourceKey: key('c') }], [], []);
    assert.equal(rerun.count, 1);
    assert.equal(s.unresolvedDeadLetters(), 1, 'the file says so too');
    const a = (await s.deadLetters()).find((l) => l.id === deadLetterId('source', key('a')))!;
    assert.equal(isUnresolved(a), false);
    assert.equal(a.failures[0]!.resolved?.by, 'rerun');
    assert.equal((await loaded(s)).count, 1, 'a later run loads the same count');
  });

  test('a stream failure is resolved only by the same record applied again, not by a later change of the item', async () => {
    const s = store();
    await (await loaded(s)).handle([streamFailure('a', '300')], []);
    const rerun = await loaded(s);
    await rerun.landed('stream', 'source', () => [{ sourceKey: key('a'), sequenceNumber: '301' }], [], []);
    assert.equal(rerun.count, 1, 'record 301 does not repair what 300 left behind when the key moved');
    await rerun.landed('stream', 'source', () => [{ sourceKey: key('a'), sequenceNumber: '300' }], [], []);
    assert.equal(rerun.count, 0);
    assert.equal(s.unresolvedDeadLetters(), 0);
  });

  test('an item that fails again on the page that would resolve it stays unresolved', async () => {
    const s = store();
    await (await loaded(s)).handle([backfillFailure('a')], []);
    const rerun = await loaded(s);
    const rejected: RejectedWrite[] = [
      {
        op: {
          kind: 'put',
          target: 'target',
          key: key('a'),
          keyId: 'a',
          item: key('a'),
          origin: { source: 'source', sourceKey: key('a'), via: 'backfill' },
        },
        error: { code: 'ValidationException', message: 'too big' },
      },
    ];
    await rerun.handle([], rejected);
    await rerun.landed('backfill', 'source', () => [{ sourceKey: key('a') }], [], rejected);
    assert.equal(rerun.count, 1);
    assert.equal(s.unresolvedDeadLetters(), 1);
  });

  test('a discarded item is resolved with its reason; a new failure of it opens it again', async () => {
    const s = store();
    await (await loaded(s)).handle([backfillFailure('a')], []);
    const id = deadLetterId('source', key('a'));
    await s.resolveDeadLetters([{ id, at: new Date().toISOString(), by: 'discard', reason: 'test data' }]);
    assert.equal(s.unresolvedDeadLetters(), 0);
    const letter = (await s.deadLetters())[0]!;
    assert.deepEqual({ by: letter.failures[0]!.resolved?.by, reason: letter.failures[0]!.resolved?.reason }, { by: 'discard', reason: 'test data' });
    const p = await loaded(s);
    assert.equal(p.count, 0);
    await p.handle([backfillFailure('a')], []);
    assert.equal(p.count, 1);
    assert.equal(s.unresolvedDeadLetters(), 1);
  });

  test('a dead-letter file written before the lifecycle (SDK-shaped binary, no ids, the record in "item") still loads', async () => {
    const s = store();
    mkdirSync(s.location, { recursive: true });
    const oldBinaryKey = { id: { B: { 0: 27, 1: 0, 2: 255 } } };
    const old = [
      {
        at: '2026-01-01T00:00:00.000Z',
        stage: 'backfill',
        source: 'source',
        sourceKey: oldBinaryKey,
        item: oldBinaryKey,
        error: { code: 'TRANSFORM_FAILED', message: 'boom' },
      },
      {
        at: '2026-01-01T00:00:01.000Z',
        stage: 'stream',
        source: 'source',
        sourceKey: oldBinaryKey,
        sequenceNumber: '7',
        item: {
          sequenceNumber: '7',
          eventName: 'MODIFY',
          keys: oldBinaryKey,
          oldImage: { ...oldBinaryKey, grp: { S: 'A' } },
          newImage: oldBinaryKey,
        },
        error: { code: 'TRANSFORM_FAILED', message: 'boom' },
      },
      {
        at: '2026-01-01T00:00:02.000Z',
        stage: 'stream',
        source: 'source',
        sourceKey: oldBinaryKey,
        sequenceNumber: '7',
        item: { sequenceNumber: '7', eventName: 'MODIFY', keys: oldBinaryKey },
        error: { code: 'TRANSFORM_FAILED', message: 'boom' },
      },
    ];
    writeFileSync(s.deadLetterLocation(), old.map((l) => `${JSON.stringify(l)}\n`).join(''));
    const letters = await s.deadLetters();
    assert.equal(letters.length, 1, 'one item, however many lines');
    assert.equal(letters[0]!.failures.length, 2, 'the repeated stream failure (a resume) counts once');
    assert.equal(
      letters[0]!.id,
      deadLetterId('source', { id: { B: Buffer.from([27, 0, 255]).toString('base64') } }),
      'old and new encodings of one key are one item',
    );
    assert.deepEqual(failureOldImage(letters[0]!.failures[1]!), { id: { B: Uint8Array.from([27, 0, 255]) }, grp: { S: 'A' } });
    // The same item failing now (new encoding) joins the old entry instead of adding one.
    const p = await loaded(s);
    await p.handle(
      [
        {
          stage: 'backfill',
          source: 'source',
          sourceKey: { id: { B: Uint8Array.from([27, 0, 255]) } },
          error: { code: 'TRANSFORM_FAILED', message: 'boom' },
        },
      ],
      [],
    );
    assert.equal(p.count, 1);
    assert.equal(lines(s).length, 3, 'the backfill failure was already open: nothing appended');
  });

  test('halting on an incomplete stream record says STREAM_RECORD_INCOMPLETE with the quirk, not TRANSFORM_FAILED', async () => {
    const s = store();
    const mapper = new ItemMapper({ transform: (i) => i, targets: { target: { partitionKey: { name: 'id', type: 'S' } } }, singleTarget: 'target' });
    const mapped = changeWrites(mapper, { source: 'source', shardId: 's', records: [{ sequenceNumber: '9', eventName: 'REMOVE', keys: key('a') }] });
    const p = await loaded(s, 'halt');
    await assert.rejects(p.handle(mapped.failures, []), (err: ItemFailureHalt) => {
      assert.equal(err.code, 'STREAM_RECORD_INCOMPLETE');
      assert.match(err.hint ?? '', /DynamoDB Local/);
      assert.match(err.hint ?? '', /--on-error=dead-letter/);
      return true;
    });
  });
});

describe('incomplete stream records', () => {
  const byGroup: KeySchema = { partitionKey: { name: 'grp', type: 'S' }, sortKey: { name: 'id', type: 'S' } };
  const page = (r: ChangeRecord) => ({ source: 'source', shardId: 's', records: [r] });

  test('an untyped empty map ({}) in a stream image is STREAM_RECORD_INCOMPLETE naming the Local quirk; the transform never runs', () => {
    let ran = 0;
    const t: Transform = (i) => {
      ran++;
      return i;
    };
    const mapper = new ItemMapper({ transform: t, targets: { target: { partitionKey: { name: 'id', type: 'S' } } }, singleTarget: 'target' });
    for (const untyped of [{}, { $unknown: undefined }] as unknown as AttributeMap[string][]) {
      const r = record('a', '5', { newImage: { ...key('a'), meta: { M: { tags: untyped } } } });
      const res = changeWrites(mapper, page(r));
      assert.deepEqual(res.ops, []);
      assert.equal(res.failures[0]!.error.code, 'STREAM_RECORD_INCOMPLETE');
      assert.match(res.failures[0]!.error.message, /without a type at meta\.tags of its new image/);
      assert.doesNotMatch(res.failures[0]!.error.message, /transform threw|No value defined/);
      assert.match(res.failures[0]!.error.hint ?? '', /DynamoDB Local .*empty maps as \{\}/);
    }
    assert.equal(ran, 0);
  });

  test('without a transform, a target key that can move (taken from a non-key attribute) makes a REMOVE without old image incomplete', () => {
    const mapper = new ItemMapper({ targets: { target: byGroup }, singleTarget: 'target' });
    assert.equal(mapper.keyCanMove(key('a')), true);
    const res = changeWrites(mapper, page({ sequenceNumber: '6', eventName: 'REMOVE', keys: key('a') }));
    assert.equal(res.failures[0]!.error.code, 'STREAM_RECORD_INCOMPLETE', 'not TARGET_KEY_MISSING from mapping the keys');
  });

  test('where the target key cannot move (keyCanMove false), a REMOVE without an old image is applied from its key', () => {
    const pkSk: KeySchema = { partitionKey: { name: 'id', type: 'S' }, sortKey: { name: 'n', type: 'N' } };
    const swapped: KeySchema = { partitionKey: { name: 'n', type: 'N' }, sortKey: { name: 'id', type: 'S' } };
    const mapper = new ItemMapper({ targets: { target: swapped }, singleTarget: 'target' });
    const keys = { id: { S: 'a' }, n: { N: '1' } };
    assert.equal(mapper.keyCanMove(keys), false);
    const res = changeWrites(mapper, page({ sequenceNumber: '7', eventName: 'REMOVE', keys }));
    assert.deepEqual(res.failures, []);
    assert.deepEqual(
      res.ops.map((o) => [o.kind, o.key]),
      [['delete', keys]],
    );
    void pkSk;
  });
});

describe('retryWrites: a dead letter applied from a consistent read, with the protocol rules', () => {
  const byGroup: KeySchema = { partitionKey: { name: 'gpk', type: 'S' }, sortKey: { name: 'id', type: 'S' } };
  const regroup: Transform = (item) => ({ ...item, gpk: `G#${String(item.grp)}` });
  const mapper = new ItemMapper({ transform: regroup, targets: { target: byGroup }, singleTarget: 'target' });
  const g = (id: string, grp: string): AttributeMap => ({ id: { S: id }, grp: { S: grp } });
  const summary = (ops: ReturnType<typeof retryWrites>) => ops.map((o) => `${o.kind} ${o.key['gpk']?.S}|${o.key['id']?.S}`);

  test("the current version is put and the target keys the failed records' old images produced are deleted", () => {
    assert.deepEqual(summary(retryWrites(mapper, 'source', key('1'), g('1', 'B'), [g('1', 'A')])), ['delete G#A|1', 'put G#B|1']);
  });

  test('an old image that still maps to the current target key is not deleted; repeats are deleted once', () => {
    assert.deepEqual(summary(retryWrites(mapper, 'source', key('1'), g('1', 'A'), [g('1', 'A'), g('1', 'C'), g('1', 'C')])), [
      'delete G#C|1',
      'put G#A|1',
    ]);
  });

  test('an item gone from the source only deletes; a target item a rejected delete left is deleted too', () => {
    const left = [{ target: 'target', key: { gpk: { S: 'G#Z' }, id: { S: '1' } } }];
    assert.deepEqual(summary(retryWrites(mapper, 'source', key('1'), undefined, [g('1', 'A')], left)), ['delete G#A|1', 'delete G#Z|1']);
  });
});
