/**
 * The AWS runner's Replay task holds the migration lock, a lease: two replayers of one key could land an older read
 * after a newer write (docs/consistency.md, "The AWS runner's dirty-key spool", S4). Here a replayer reads a spooled
 * key, then stalls past its lease; meanwhile the key's item moves (its target key changes), and a second replayer
 * takes the expired lock, replays the new version and goes live. When the first one wakes it must stop before
 * writing (STATE_LOCKED): otherwise it would put the old version back under the old target key, the exact shape of a
 * stale item and a key that should have been deleted. On DynamoDB Local, with the real state table, spool and sinks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetItemCommand, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { loadConfig } from '../../src/config/load-config.js';
import type { AttributeMap } from '../../src/core/item.js';
import { jsonLogger } from '../../src/runners/lambda/observability.js';
import { loadRuntime, mapperFor, openSinks } from '../../src/runners/lambda/runtime.js';
import { completeBackfill } from '../../src/runners/stepfunctions/complete.js';
import { replaySpool, type ReplayContext } from '../../src/runners/stepfunctions/replay.js';
import { createBackfillTasks } from '../../src/runners/stepfunctions/tasks.js';
import type { SegmentInput } from '../../src/runners/stepfunctions/types.js';
import { createStateTable, DynamoDbStateStore } from '../../src/state/dynamodb-state-store.js';
import { createTable, withDynamoDbLocal } from '../support/dynamodb-local.js';
import { compareTables, formatDiff, isEmptyDiff, scanAll } from '../support/independent-scan.js';
import { captureOutput, expectedTargets, writeMigrationConfig } from '../fixtures/lambda/migration-fixture.js';

const STATE_TABLE = 'dynashift_state';
const local = withDynamoDbLocal();

const version = (v: number, grp: string): AttributeMap => ({
  id: { S: 'x' },
  grp: { S: grp },
  v: { N: String(v) },
  flag: { BOOL: v % 2 === 0 },
  note: { S: `version ${v}` },
});

/**
 * A migration of `table` (holding x at version 1, alpha) whose backfill has run: prepared, every segment copied.
 * The state table is created once, by the first caller.
 */
async function backfilledMigration(table: string, name: string) {
  await createTable(local.client, { name: table, partitionKey: { name: 'id', type: 'S' }, streamViewType: 'NEW_AND_OLD_IMAGES' });
  stateTable ??= createStateTable(local.client, STATE_TABLE);
  await stateTable;
  await local.client.send(new PutItemCommand({ TableName: table, Item: version(1, 'alpha') }));
  const config = await loadConfig(
    writeMigrationConfig(mkdtempSync(join(tmpdir(), `dynashift-${name}-`)), {
      name,
      endpoint: local.endpoint,
      segments: 1,
      concurrency: 1,
      pageSize: 50,
    }),
  );
  config.sources.source!.table = table;
  const out = captureOutput();
  const opts = { stateTable: STATE_TABLE, stateClient: local.client, write: out.write, config };
  const tasks = createBackfillTasks(opts);
  const prepared = await tasks.prepare({});
  for (const segment of prepared.segments) {
    let input: SegmentInput = segment;
    for (let r = await tasks.backfillSegment(input); !r.done; r = await tasks.backfillSegment(input)) input = r as SegmentInput;
  }
  const store = (owner: string, skewMs = 0) =>
    new DynamoDbStateStore({ client: local.client, table: STATE_TABLE, migration: config.name, owner, now: () => Date.now() + skewMs });
  return { config, out, opts, tasks, store };
}
let stateTable: Promise<void> | undefined;

test(
  'a replayer that stalled past its lease stops before writing: the replayer that took over keeps the newer version',
  { timeout: 60_000 },
  async () => {
    // The backfill copies version 1; the stream handler then spools the record that moves x from alpha to bravo.
    const { config, out, opts, tasks, store } = await backfilledMigration('src', 'lease');
    assert.equal((await tasks.complete({})).replay, true, 'Complete hands over to the replay');
    const runtime = (await loadRuntime(store('reader'), config))!;
    const mapper = mapperFor(config, runtime);
    const targetKeys = [version(1, 'alpha'), version(2, 'bravo')].flatMap((image) =>
      mapper.map('source', image).map((m) => ({ target: m.target, key: m.key })),
    );
    await local.client.send(new PutItemCommand({ TableName: 'src', Item: version(2, 'bravo') }));
    assert.equal(
      await store('reader')
        .spool()
        .write('source', [{ sourceKey: { id: { S: 'x' } }, targetKeys }]),
      'spooled',
    );

    const context = async (owner: string, sourceClient: DynamoDBClient, skewMs = 0): Promise<ReplayContext> => ({
      config,
      store: store(owner, skewMs),
      runtime,
      mapper,
      sinks: await openSinks(config, runtime, opts),
      sourceClients: { source: sourceClient },
      log: jsonLogger({ fields: { owner }, write: out.write }),
    });

    // Replayer A reads x (version 2), then stalls until told to go on.
    let stalled!: () => void;
    const readDone = new Promise<void>((r) => (stalled = r));
    let wake!: () => void;
    const woken = new Promise<void>((r) => (wake = r));
    const stalling = {
      send: async (command: GetItemCommand) => {
        const res = await local.client.send(command);
        stalled();
        await woken;
        return res;
      },
    } as unknown as DynamoDBClient;
    const a = replaySpool(await context('replayer-a', stalling), { timeBudgetMs: 10_000, handoffBelow: 100 });
    a.catch(() => {}); // awaited below
    await readDone;

    // While A stalls: x moves back to alpha with version 3 and is spooled again, and A's lease runs out (replayer B's
    // clock is 2 minutes ahead, past A's 60 s lease). B takes the lock, replays version 3, hands off and goes live.
    await local.client.send(new PutItemCommand({ TableName: 'src', Item: version(3, 'alpha') }));
    assert.equal(
      await store('reader')
        .spool()
        .write('source', [{ sourceKey: { id: { S: 'x' } }, targetKeys }]),
      'spooled',
    );
    const b = await replaySpool(await context('replayer-b', local.client, 120_000), { timeBudgetMs: 10_000, handoffBelow: 100 });
    assert.equal(b.done, true, `B replayed the spool and went live: ${JSON.stringify(b)}`);
    // A wakes holding version 2, older than B's: without the lease check it would put bravo#x back (deleted by B) and
    // overwrite flags' x with version 2's flag.
    wake();
    await assert.rejects(a, (err: { code?: string; message?: string }) => err.code === 'STATE_LOCKED' && /lost its lock/.test(err.message ?? ''));

    const expected = expectedTargets(await scanAll(local.client, 'src'));
    const byGroup = compareTables(expected.byGroup, await scanAll(local.client, 'dst_by_group'), ['grp', 'id']);
    const flags = compareTables(expected.flags, await scanAll(local.client, 'dst_flags'), ['id']);
    assert.ok(isEmptyDiff(byGroup), `byGroup differs:\n${formatDiff(byGroup)}`);
    assert.ok(isEmptyDiff(flags), `flags differs:\n${formatDiff(flags)}`);
  },
);

test(
  'a Complete that stalled past its lease saves nothing: the state the next holder saved (the replay gone live) stays',
  { timeout: 60_000 },
  async () => {
    const { config, out, opts, store } = await backfilledMigration('src2', 'complete-lease');
    const log = jsonLogger({ write: out.write });

    // Complete A reads the state, then stalls past its lease.
    let stalled!: () => void;
    const readDone = new Promise<void>((r) => (stalled = r));
    let wake!: () => void;
    const woken = new Promise<void>((r) => (wake = r));
    const storeA = store('complete-a');
    const load = storeA.load.bind(storeA);
    storeA.load = async () => {
      const state = await load();
      stalled();
      await woken;
      return state;
    };
    const a = completeBackfill(config, storeA, log);
    a.catch(() => {}); // awaited below
    await readDone;

    // Its retry B (clock 2 minutes ahead, past A's 60 s lease) completes, and the replay goes live: phase catching-up.
    const b = await completeBackfill(config, store('complete-b', 120_000), log);
    assert.equal(b.replay, true);
    const runtime = (await loadRuntime(store('reader'), config))!;
    const replayed = await replaySpool(
      {
        config,
        store: store('replayer', 120_000),
        runtime,
        mapper: mapperFor(config, runtime),
        sinks: await openSinks(config, runtime, opts),
        sourceClients: { source: local.client },
        log,
      },
      { timeBudgetMs: 10_000, handoffBelow: 100 },
    );
    assert.equal(replayed.done, true);
    assert.equal((await store('reader').peek())!.phase, 'catching-up');

    // A wakes with the state it read (phase backfilling): saving it would move the migration back.
    wake();
    await assert.rejects(
      a,
      (err: Error & { code?: string }) => err.name === 'MigrationLockedError' && err.code === 'STATE_LOCKED' && /lost its lock/.test(err.message),
    );
    assert.equal((await store('reader').peek())!.phase, 'catching-up', 'the stalled Complete saved nothing');
  },
);
