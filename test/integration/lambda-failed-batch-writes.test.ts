/**
 * A stream batch that fails on one target while another target's writes are still in flight: the handler must not
 * return (and so let Lambda redeliver and move on) before those writes have settled. Otherwise they land later, after
 * the redelivery and after later batches wrote the same keys — a stale put after a delete leaves an extra item, a stale
 * put after a newer put leaves an old version. (lambda-end-to-end.test.ts failed that way once under load: a crashed
 * `flags` write, `byGroup` writes of the abandoned invocation landing after the next batches.) On real Lambda the
 * abandoned writes are frozen with the container and resume — SDK retries included — whenever it is next thawed.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { _Record } from '@aws-sdk/client-dynamodb-streams';
import { loadConfig } from '../../src/config/load-config.js';
import type { ResolvedConfig } from '../../src/config/resolved-config.js';
import type { Sink } from '../../src/sinks/sink.js';
import { createStreamHandler } from '../../src/runners/lambda/stream-handler.js';
import { createBackfillTasks } from '../../src/runners/stepfunctions/tasks.js';
import { createStateTable } from '../../src/state/dynamodb-state-store.js';
import { createTable, latestStreamArn, withDynamoDbLocal } from '../support/dynamodb-local.js';
import { compareTables, formatDiff, isEmptyDiff, scanAll } from '../support/independent-scan.js';
import { mulberry32, seedItems } from '../support/workload.js';
import { captureOutput, expectedTargets, writeMigrationConfig } from '../fixtures/lambda/migration-fixture.js';
import { readStream } from '../fixtures/lambda/read-stream.js';
import { runBackfillStateMachine } from '../fixtures/lambda/state-machine.js';
import { toLambdaEvent } from '../fixtures/lambda/stream-events.js';

const local = withDynamoDbLocal();
const STATE_TABLE = 'dynashift_state';

class InjectedCrash extends Error {
  override readonly name = 'InjectedCrash';
}

/** Faults armed for one write call each: `flags` fails at once, `byGroup` holds its writes until released (2 s at most). */
function faults() {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const held = { armed: false, settled: false, done: Promise.resolve() as Promise<unknown> };
  const crash = { armed: false };
  const wrapSink = (sink: Sink, target: string): Sink => ({
    name: sink.name,
    capabilities: sink.capabilities,
    write(ops, signal) {
      if (target === 'flags' && crash.armed) {
        crash.armed = false;
        return Promise.reject(new InjectedCrash('injected: the flags target failed'));
      }
      if (target === 'byGroup' && held.armed) {
        held.armed = false;
        const write = Promise.race([released, new Promise((r) => setTimeout(r, 2_000))])
          .then(() => sink.write(ops, signal))
          .finally(() => (held.settled = true));
        held.done = write.catch(() => {});
        return write;
      }
      return sink.write(ops, signal);
    },
  });
  return { wrapSink, held, crash, release };
}

describe('Lambda stream handler: a batch failing on one target', () => {
  let config: ResolvedConfig;
  let streamArn: string;
  let lastSeen: string | undefined;
  const out = captureOutput();
  const newRecords = async (): Promise<_Record[]> => {
    const records = await readStream(local.streams, streamArn, lastSeen);
    if (records.length) lastSeen = records[records.length - 1]!.dynamodb!.SequenceNumber;
    return records;
  };

  before(async () => {
    await createTable(local.client, { name: 'src', partitionKey: { name: 'id', type: 'S' }, streamViewType: 'NEW_AND_OLD_IMAGES' });
    await seedItems(local.client, 'src', 50, mulberry32(3));
    await createStateTable(local.client, STATE_TABLE);
    streamArn = await latestStreamArn(local.client, 'src');
    const dir = mkdtempSync(join(tmpdir(), 'dynashift-lambda-failed-'));
    config = await loadConfig(
      writeMigrationConfig(dir, { name: 'failed-batch', endpoint: local.endpoint, segments: 2, concurrency: 2, pageSize: 100 }),
    );
    const tasks = createBackfillTasks({ config, stateTable: STATE_TABLE, stateClient: local.client, write: out.write });
    const run = await runBackfillStateMachine(tasks, { concurrency: 2, timeBudgetMs: 60_000 });
    assert.equal(run.complete.enableStreamMapping, true);
    await newRecords(); // the seed is in the snapshot: the mapping starts at the tip here
  });

  test('returns only after every target settled, so none of its writes lands after a later batch: target = transform(source)', async () => {
    const f = faults();
    const handler = createStreamHandler({ config, stateTable: STATE_TABLE, stateClient: local.client, write: out.write, wrapSink: f.wrapSink });
    const put = (grp: string, v: string) =>
      local.client.send(new PutItemCommand({ TableName: 'src', Item: { id: { S: 'moved' }, grp: { S: grp }, v: { N: v }, flag: { S: 'on' } } }));

    await put('alpha', '1');
    const first = await newRecords();
    f.crash.armed = true;
    f.held.armed = true;
    const failed = await handler(toLambdaEvent(first, streamArn));
    const settledOnReturn = f.held.settled;
    assert.deepEqual(
      failed.batchItemFailures.map((x) => x.itemIdentifier),
      first.map((r) => r.dynamodb!.SequenceNumber),
      'a failed target write redelivers the whole batch',
    );

    // Lambda redelivers the batch, then the next one: the item moves from alpha to bravo (delete alpha/moved).
    assert.deepEqual((await handler(toLambdaEvent(first, streamArn))).batchItemFailures, []);
    await put('bravo', '2');
    assert.deepEqual((await handler(toLambdaEvent(await newRecords(), streamArn))).batchItemFailures, []);
    f.release();
    await f.held.done;

    const expected = expectedTargets(await scanAll(local.client, 'src'));
    const byGroup = compareTables(expected.byGroup, await scanAll(local.client, 'dst_by_group'), ['grp', 'id']);
    const flags = compareTables(expected.flags, await scanAll(local.client, 'dst_flags'), ['id']);
    assert.ok(isEmptyDiff(byGroup), `byGroup differs:\n${formatDiff(byGroup)}`);
    assert.ok(isEmptyDiff(flags), `flags differs:\n${formatDiff(flags)}`);
    assert.ok(settledOnReturn, 'the handler returned while a target write of the failed batch was still in flight');
  });
});
