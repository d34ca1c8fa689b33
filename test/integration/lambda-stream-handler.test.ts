/**
 * The Lambda stream handler, invoked locally with Lambda-shaped events built from DynamoDB Local's real stream, with its
 * state in a DynamoDB-Local-hosted state table. Each test is named after the guarantee it protects.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient, GetItemCommand, PutItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import type { _Record } from '@aws-sdk/client-dynamodb-streams';
import { loadConfig } from '../../src/config/load-config.js';
import type { CutoverState, Phase } from '../../src/state/migration-state.js';
import { DEFAULTS, type ResolvedConfig } from '../../src/config/resolved-config.js';
import { localClientConfig } from '../../src/local/dynamodb-local.js';
import { createStreamHandler, type StreamHandler } from '../../src/runners/lambda/stream-handler.js';
import type { DynamoDBStreamEvent } from '../../src/runners/lambda/types.js';
import { createBackfillTasks, type BackfillTasks } from '../../src/runners/stepfunctions/tasks.js';
import { createStateTable, DynamoDbStateStore } from '../../src/state/dynamodb-state-store.js';
import { createTable, latestStreamArn, withDynamoDbLocal } from '../support/dynamodb-local.js';
import { compareTables, formatDiff, isEmptyDiff, scanAll } from '../support/independent-scan.js';
import { mulberry32, seedItems } from '../support/workload.js';
import { LocalEventSourceMapping } from '../fixtures/lambda/event-source-mapping.js';
import { captureOutput, expectedTargets, writeMigrationConfig } from '../fixtures/lambda/migration-fixture.js';
import { readStream } from '../fixtures/lambda/read-stream.js';
import { runBackfillStateMachine } from '../fixtures/lambda/state-machine.js';
import { toLambdaEvent } from '../fixtures/lambda/stream-events.js';

const local = withDynamoDbLocal();
const STATE_TABLE = 'dynashift_state';

describe('Lambda stream handler', () => {
  let config: ResolvedConfig;
  let tasks: BackfillTasks;
  let handler: StreamHandler;
  let streamArn: string;
  let lastSeen: string | undefined;
  const out = captureOutput();
  const store = (): DynamoDbStateStore => new DynamoDbStateStore({ client: local.client, table: STATE_TABLE, migration: config.name });
  const handlerFor = (cfg: ResolvedConfig): StreamHandler =>
    createStreamHandler({ config: cfg, stateTable: STATE_TABLE, stateClient: local.client, write: out.write, stateCacheMs: 0 });
  const put = (id: string, attrs: Record<string, AttributeValue> = {}) =>
    local.client.send(
      new PutItemCommand({
        TableName: 'src',
        Item: { id: { S: id }, grp: { S: 'alpha' }, v: { N: '1' }, ...attrs },
      }),
    );
  /** Records written since the last call, as the mapping would deliver them next. */
  const newRecords = async (): Promise<_Record[]> => {
    const records = await readStream(local.streams, streamArn, lastSeen);
    if (records.length) lastSeen = records[records.length - 1]!.dynamodb!.SequenceNumber;
    return records;
  };
  const seqs = (records: _Record[]) => records.map((r) => r.dynamodb!.SequenceNumber!);
  const inTarget = async (id: string) =>
    (await local.client.send(new GetItemCommand({ TableName: 'dst_by_group', Key: { grp: { S: 'alpha' }, id: { S: id } }, ConsistentRead: true })))
      .Item;

  before(async () => {
    await createTable(local.client, { name: 'src', partitionKey: { name: 'id', type: 'S' }, streamViewType: 'NEW_AND_OLD_IMAGES' });
    await seedItems(local.client, 'src', 200, mulberry32(5));
    await createStateTable(local.client, STATE_TABLE);
    streamArn = await latestStreamArn(local.client, 'src');
    const dir = mkdtempSync(join(tmpdir(), 'dynashift-lambda-'));
    config = await loadConfig(writeMigrationConfig(dir, { name: 'lambda', endpoint: local.endpoint, segments: 2, concurrency: 2, pageSize: 100 }));
    tasks = createBackfillTasks({ config, stateTable: STATE_TABLE, stateClient: local.client, write: out.write });
    handler = handlerFor(config);
  });

  test('before the migration is prepared, every record is returned for redelivery', async () => {
    const records = (await newRecords()).slice(0, 20);
    const res = await handler(toLambdaEvent(records, streamArn));
    assert.deepEqual(
      res.batchItemFailures.map((f) => f.itemIdentifier),
      seqs(records),
    );
  });

  test('while the backfill is not complete the handler applies nothing: it spools the batch (stream.duringBackfill), or returns every record in order (without)', async () => {
    await tasks.prepare({});
    await put('early-1');
    const records = await newRecords();
    // stream.duringBackfill false: nothing is consumed before the backfill completes.
    const deferring = handlerFor({ ...config, stream: { ...config.stream, duringBackfill: false } });
    const deferred = await deferring(toLambdaEvent(records, streamArn));
    assert.deepEqual(
      deferred.batchItemFailures.map((f) => f.itemIdentifier),
      seqs(records),
    );
    assert.ok(out.metrics().RecordsDeferred! >= records.length);
    // The default: the batch is consumed into the spool, and still nothing reaches the targets until the replay.
    const res = await handler(toLambdaEvent(records, streamArn));
    assert.deepEqual(res.batchItemFailures, []);
    assert.equal((await scanAll(local.client, 'dst_by_group')).length, 0, 'nothing may be applied before the backfill completes');
    assert.ok(out.metrics().RecordsSpooled! >= records.length);
    const spooled = await store().spool().page('source');
    assert.ok(
      spooled.keys.some((k) => k.sourceKey.id?.S === 'early-1' && k.targetKeys.some((t) => t.target === 'byGroup')),
      'the spool holds the key and the target keys its image maps to',
    );
  });

  test('after the backfill, the mapping from TRIM_HORIZON converges: target = transform(source)', async () => {
    const run = await runBackfillStateMachine(tasks, { concurrency: 2, timeBudgetMs: 60_000 });
    assert.equal(run.complete.enableStreamMapping, true);
    await put('late-1', { grp: { S: 'bravo' } });
    await put('late-1', { grp: { S: 'charlie' } }); // a key move after the snapshot: the old target copy must go
    const esm = new LocalEventSourceMapping({ streams: local.streams, streamArn, handler, batchSize: 100 });
    await esm.drain();
    lastSeen = (await readStream(local.streams, streamArn)).at(-1)!.dynamodb!.SequenceNumber;
    const expected = expectedTargets(await scanAll(local.client, 'src'));
    const byGroup = compareTables(expected.byGroup, await scanAll(local.client, 'dst_by_group'), ['grp', 'id']);
    const flags = compareTables(expected.flags, await scanAll(local.client, 'dst_flags'), ['id']);
    assert.ok(isEmptyDiff(byGroup), formatDiff(byGroup));
    assert.ok(isEmptyDiff(flags), formatDiff(flags));
    assert.equal(esm.stats.partialFailures, 0);
  });

  test('a transform error mid-batch (halt): failures start at that record, earlier records land, one dead letter however often it is retried', async () => {
    await put('t-1');
    await put('t-2');
    await put('t-poison', { poison: { BOOL: true } });
    await put('t-3');
    await put('t-4');
    const records = await newRecords();
    assert.equal(records.length, 5);
    for (let attempt = 0; attempt < 2; attempt++) {
      const res = await handler(toLambdaEvent(records, streamArn));
      assert.deepEqual(
        res.batchItemFailures.map((f) => f.itemIdentifier),
        seqs(records).slice(2),
        'from the failing record to the end of the batch',
      );
    }
    assert.ok(await inTarget('t-1'));
    assert.ok(await inTarget('t-2'));
    assert.equal(await inTarget('t-3'), undefined, 'no record after the failing one may land first');
    const letters = (await store().deadLetters()).filter((d) => d.sequenceNumber === seqs(records)[2]);
    assert.equal(letters.length, 1);
    assert.equal(letters[0]!.error.code, 'TRANSFORM_FAILED');
    assert.equal(letters[0]!.stage, 'stream');
    // Lambda retries from the failed record: the poisoned record still fails, nothing after it is applied.
    const retry = await handler(toLambdaEvent(records.slice(2), streamArn));
    assert.equal(retry.batchItemFailures[0]!.itemIdentifier, seqs(records)[2]);
  });

  test('with onError dead-letter the same batch succeeds, the dead letter exists, and later records are applied', async () => {
    const records = await readStream(local.streams, streamArn, undefined).then((all) => all.slice(-5));
    const res = await handlerFor({ ...config, onError: 'dead-letter' })(toLambdaEvent(records, streamArn));
    assert.deepEqual(res.batchItemFailures, []);
    assert.ok(await inTarget('t-3'));
    assert.ok(await inTarget('t-4'));
    assert.ok((await store().deadLetters()).some((d) => d.sequenceNumber === seqs(records)[2]));
  });

  test('a write the target rejects (an item over 400 KB) halts at its record with a dead letter naming the target', async () => {
    await put('r-1');
    await put('r-huge', { huge: { BOOL: true } });
    await put('r-2');
    const records = await newRecords();
    const res = await handler(toLambdaEvent(records, streamArn));
    assert.deepEqual(
      res.batchItemFailures.map((f) => f.itemIdentifier),
      seqs(records).slice(1),
    );
    const letter = (await store().deadLetters()).find((d) => d.sequenceNumber === seqs(records)[1]);
    assert.equal(letter?.target, 'byGroup');
    assert.ok(await inTarget('r-1'));
  });

  test('records older than skipBefore are passed over, exactly like the CLI', async () => {
    const state = (await store().load())!;
    const skipBefore = state.sources.source!.stream.skipBefore!;
    const record = (id: string, seconds: number, seq: string): DynamoDBStreamEvent['Records'][number] => ({
      eventID: `synthetic-${seq}`,
      eventName: 'INSERT',
      eventVersion: '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: 'us-east-1',
      eventSourceARN: streamArn,
      dynamodb: {
        ApproximateCreationDateTime: seconds,
        Keys: { id: { S: id } },
        NewImage: { id: { S: id }, grp: { S: 'alpha' }, v: { N: '1' }, bin: { B: Buffer.from([1, 2, 3]).toString('base64') } },
        SequenceNumber: seq,
        SizeBytes: 40,
        StreamViewType: 'NEW_AND_OLD_IMAGES',
      },
    });
    const before = out.metrics().RecordsSkipped ?? 0;
    const res = await handler({
      Records: [
        record('ghost-old', Math.floor((skipBefore - 60_000) / 1000), '900000000000000000001'),
        record('ghost-new', Math.floor(Date.now() / 1000), '900000000000000000002'),
      ],
    });
    assert.deepEqual(res.batchItemFailures, []);
    assert.equal(await inTarget('ghost-old'), undefined, 'a record older than the snapshot start − margin is already in the snapshot');
    const applied = await inTarget('ghost-new');
    assert.deepEqual(applied?.bin?.B ? [...applied.bin.B] : undefined, [1, 2, 3], 'binary arrives base64 in Lambda events and lands as bytes');
    assert.equal((out.metrics().RecordsSkipped ?? 0) - before, 1);
  });

  test("DynamoDB Local's duplicate REMOVE (no old image, right after a REMOVE of the same key) is passed over with a warning, in one batch or the next, as the CLI does", async () => {
    let seq = 910000000000000000000n;
    const record = (eventName: 'INSERT' | 'REMOVE', id: string, withImage: boolean): DynamoDBStreamEvent['Records'][number] => {
      const image = { id: { S: id }, grp: { S: 'alpha' }, v: { N: '1' } };
      return {
        eventID: `synthetic-${++seq}`,
        eventName,
        eventVersion: '1.1',
        eventSource: 'aws:dynamodb',
        awsRegion: 'us-east-1',
        eventSourceARN: streamArn,
        dynamodb: {
          ApproximateCreationDateTime: Math.floor(Date.now() / 1000),
          Keys: { id: { S: id } },
          ...(eventName === 'INSERT' ? { NewImage: image } : withImage ? { OldImage: image } : {}),
          SequenceNumber: String(seq),
          SizeBytes: 40,
          StreamViewType: 'NEW_AND_OLD_IMAGES',
        },
      };
    };
    const before = out.metrics().DuplicateRemovesPassedOver ?? 0;
    assert.deepEqual((await handler({ Records: [record('INSERT', 'dup-1', true), record('INSERT', 'dup-2', true)] })).batchItemFailures, []);
    assert.ok(await inTarget('dup-1'));
    // Both REMOVEs in one batch.
    const one = await handler({ Records: [record('REMOVE', 'dup-1', true), record('REMOVE', 'dup-1', false)] });
    assert.deepEqual(one.batchItemFailures, [], 'the duplicate REMOVE does not halt the shard');
    assert.equal(await inTarget('dup-1'), undefined, 'the first REMOVE deleted the target item');
    // The duplicate in the next batch: the container remembers the deletion.
    assert.deepEqual((await handler({ Records: [record('REMOVE', 'dup-2', true)] })).batchItemFailures, []);
    assert.deepEqual((await handler({ Records: [record('REMOVE', 'dup-2', false)] })).batchItemFailures, []);
    assert.equal(await inTarget('dup-2'), undefined);
    assert.equal((out.metrics().DuplicateRemovesPassedOver ?? 0) - before, 2);
    const warnings = out.lines().filter((l) => String(l.message).includes("DynamoDB Local's duplicate REMOVE"));
    assert.equal(warnings.length, 2, 'each one is logged');
  });

  test("a batch behind the lag threshold whose progress write fails is returned whole for redelivery (cutover's lag evidence is not lost); a fresh batch's failed progress write is only logged", async () => {
    // A state client whose stream-progress write fails (an injected fault in front of DynamoDB Local, before the SDK's
    // retries): every other state read and write goes through.
    const failing = new DynamoDBClient(localClientConfig(local.endpoint));
    failing.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { UpdateExpression?: string };
        if (context.commandName === 'UpdateItemCommand' && input.UpdateExpression?.includes('#lastBatchAt'))
          throw Object.assign(new Error('injected: the state table is unavailable'), { name: 'InternalServerError' });
        return next(args);
      },
      { step: 'initialize', name: 'failProgressWrites' },
    );
    const withLag = (maxLagSeconds: number): StreamHandler =>
      createStreamHandler({
        config: { ...config, state: { table: STATE_TABLE, ...DEFAULTS.state, maxLagSeconds } },
        stateTable: STATE_TABLE,
        stateClient: failing,
        write: out.write,
        stateCacheMs: 0,
      });
    try {
      const before = (await store().streamProgress())[0]!;
      await put('progress-fresh');
      const fresh = await newRecords();
      const ok = await withLag(3600)(toLambdaEvent(fresh, streamArn));
      assert.deepEqual(ok.batchItemFailures, [], 'a fresh batch is applied even though its progress was not recorded');
      assert.ok(await inTarget('progress-fresh'));

      await put('progress-behind');
      const behind = await newRecords();
      // A negative threshold: every record is behind it, whatever DynamoDB Local's minute rounding of the record's
      // timestamp (which can put it after now) made its age.
      const returned = await withLag(-3600)(toLambdaEvent(behind, streamArn));
      assert.deepEqual(
        seqs(behind),
        returned.batchItemFailures.map((f) => f.itemIdentifier),
        'every record is returned for redelivery',
      );
      assert.ok(
        out.lines().some((l) => l.level === 'ERROR' && String(l.message).startsWith('could not record that this batch is behind')),
        'the failure is logged as an error',
      );
      const after = (await store().streamProgress())[0]!;
      assert.equal(after.records, before.records, 'neither progress write landed (the fault is real)');
      // Redelivered with the state table back, the same batch is applied again and its lag recorded.
      const again = await handlerFor({ ...config, state: { table: STATE_TABLE, ...DEFAULTS.state, maxLagSeconds: -3600 } })(
        toLambdaEvent(behind, streamArn),
      );
      assert.deepEqual(again.batchItemFailures, []);
      assert.ok(await inTarget('progress-behind'));
      const recorded = (await store().streamProgress())[0]!;
      assert.equal(recorded.lastSequenceNumber, behind[behind.length - 1]!.dynamodb!.SequenceNumber);
    } finally {
      failing.destroy();
    }
  });

  test('a batch from a stream the migration did not open is refused whole', async () => {
    await put('wrong-stream');
    const records = await newRecords();
    const res = await handler(toLambdaEvent(records, `${streamArn.replace(/stream\/.*/, 'stream/2000-01-01T00:00:00.000')}`));
    assert.equal(res.batchItemFailures.length, records.length);
    assert.equal(await inTarget('wrong-stream'), undefined);
  });

  test('logs are JSON lines with the migration name; metrics are EMF lines (RecordsApplied, WritesLanded, DeadLetters, IteratorAge)', async () => {
    const lines = out.lines();
    const logs = lines.filter((l) => typeof l.level === 'string');
    assert.ok(logs.length > 0 && logs.every((l) => l.migration === 'lambda' && l.service === 'dynashift' && typeof l.timestamp === 'string'));
    assert.ok(
      logs.some(
        (l) => l.level === 'ERROR' && l.message === 'batch stopped at a failing record; it and every later record are returned for redelivery',
      ),
    );
    const emf = lines.filter((l) => l._aws);
    const names = new Set(
      emf.flatMap((l) =>
        (
          l._aws as { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] }
        ).CloudWatchMetrics[0]!.Metrics.map((m) => m.Name),
      ),
    );
    for (const n of ['RecordsApplied', 'WritesLanded', 'DeadLetters', 'IteratorAge', 'BatchItemFailures', 'RecordsDeferred'])
      assert.ok(names.has(n), `EMF metric ${n}`);
    const first = emf[0]!._aws as { CloudWatchMetrics: { Namespace: string; Dimensions: string[][] }[] };
    assert.equal(first.CloudWatchMetrics[0]!.Namespace, 'Dynashift');
    assert.deepEqual(first.CloudWatchMetrics[0]!.Dimensions, [['migration']]);
    const progress = await store().streamProgress();
    assert.ok(progress[0]!.records > 0 && progress[0]!.failedBatches > 0);
  });
  test('the handler follows the cutover the CLI records: applies while the source drains, pauses after the switch and during a rollback, applies again after it, stops when finished', async () => {
    const s = store();
    const record = async (phase: Phase, cutover: CutoverState) => {
      const lock = await s.lock();
      try {
        const st = (await s.load())!;
        st.phase = phase;
        st.cutover = cutover;
        await s.save(st);
      } finally {
        await lock.release();
      }
    };
    const since = new Date().toISOString();
    await record('writes-cutover', { direction: 'forward', draining: { from: 'forward', to: 'reverse', since, quietMs: 1000 }, history: [] });
    await put('phase-draining');
    assert.deepEqual((await handler(toLambdaEvent(await newRecords(), streamArn))).batchItemFailures, []);
    assert.ok(await inTarget('phase-draining'), 'source writes are applied until the source is drained');

    await record('writes-cutover', { direction: 'reverse', history: [] });
    await put('phase-paused');
    const paused = await newRecords();
    const pausedRes = await handler(toLambdaEvent(paused, streamArn));
    assert.deepEqual(
      pausedRes.batchItemFailures.map((f) => f.itemIdentifier),
      seqs(paused),
      'after the switch every record is returned for redelivery',
    );
    await record('reads-cutover', { direction: 'reverse', draining: { from: 'reverse', to: 'forward', since, quietMs: 1000 }, history: [] });
    assert.equal((await handler(toLambdaEvent(paused, streamArn))).batchItemFailures.length, paused.length, 'still paused while rollback drains');
    assert.equal(await inTarget('phase-paused'), undefined);

    await record('reads-cutover', { direction: 'forward', history: [] });
    assert.deepEqual((await handler(toLambdaEvent(paused, streamArn))).batchItemFailures, []);
    assert.ok(await inTarget('phase-paused'), 'after the rollback the redelivered batch is applied');
    const evidence = (await s.streamProgress())[0]!;
    assert.equal(evidence.lastSequenceNumber, paused.at(-1)!.dynamodb!.SequenceNumber, 'the applied position is recorded');
    assert.ok(evidence.lastAppliedAt !== undefined && evidence.lastAgeMs !== undefined && evidence.lastAgeMs >= 0, JSON.stringify(evidence));

    await record('finished', { direction: 'none', history: [] });
    await put('phase-finished');
    assert.deepEqual((await handler(toLambdaEvent(await newRecords(), streamArn))).batchItemFailures, [], 'acknowledged');
    assert.equal(await inTarget('phase-finished'), undefined, 'nothing is applied once finished');
  });
});
