/**
 * The crash scenario, once for every sink and strategy: a seeded live workload (puts, updates, deletes,
 * delete-then-recreate, target-key moves, transactions) on a DynamoDB Local source while `dynashift run` is SIGKILLed
 * at random moments — alternately during the backfill and the catch-up — and resumed with the same command. Once the
 * workload stops, a final `run --until-synced` must leave every target equal to transform(source), read back
 * independently of the sink and compared item by item (test/support/independent-scan.ts), and dynashift's own verify
 * must agree. A write-once sink (files) takes no stream: for it the scenario kills the run during the backfill only,
 * with no live workload, and the final `run` must leave the export equal to transform(source).
 *
 * Families beyond the original scan and touch runs (`CrashScenarioOptions.family`), all with the backfill slowed by a
 * rate limit so that the stream, applied during the backfill (stream.duringBackfill, the default), is applied for most
 * of it — the scenario samples the runs' progress snapshots and asserts stream records were applied in phase
 * `backfilling`:
 * - `scan-slow`, `touch-slow`: the same scenario, rate-limited;
 * - `export`: the backfill loads a DynamoDB export (written by a `files` target before the live workload starts, so
 *   every workload change is after its exportTime and reaches the target through the stream only);
 * - `merge`: two source tables (`sources: { a, b }`), each with its own live workload, into the same two targets; the
 *   transform prefixes each id with its source's name, so keys from the two sources cannot collide.
 *
 * The backfill runs in the main thread (`backfill.workers: 1`, as before the option existed) unless CRASH_WORKERS
 * sets the worker threads.
 *
 * Used by test/integration/crash-resume.test.ts (DynamoDB targets, every family), the sink conformance suite
 * (test/conformance/, one sink each) and the AWS-runner tests (test/fixtures/lambda/migration-fixture.ts: the same
 * migration driven through the Lambda and Step Functions handlers).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { AttributeMap, KeySchema } from '../../src/core/item.js';
import { localClientConfig, startDynamoDbLocal } from '../../src/local/dynamodb-local.js';
import { runCli, spawnCli, type CliResult } from './cli.js';
import { createTable, enableStream } from './dynamodb-local.js';
import { compareTables, formatDiff, isEmptyDiff, scanAll } from './independent-scan.js';
import { mulberry32, runWorkload, seedItems, type WorkloadCounts } from './workload.js';

/**
 * The transform under test: a split into two targets, a key that moves when `grp` changes, and a filter that drops
 * items in or out as `v` changes. Written as a user would, in a module the JSON config points to. Two switches only
 * the AWS-runner tests set: `poison: true` makes the transform throw, `huge: true` makes an item the target rejects
 * (over 400 KB). The workload never sets them.
 */
export const TRANSFORM = `
export default function transform(item) {
  if (item.poison === true) throw new Error('poisoned item ' + item.id);
  const v = BigInt(item.v.toString());
  return {
    byGroup: v % 7n === 0n ? null : { ...item, label: item.grp + '#' + item.id, ...(item.huge === true ? { blob: 'x'.repeat(450000) } : {}) },
    flags: item.flag === undefined ? null : { id: item.id, flag: item.flag, grp: item.grp },
  };
}
`;

export const BY_GROUP_KEY: KeySchema = { partitionKey: { name: 'grp', type: 'S' }, sortKey: { name: 'id', type: 'S' } };
export const FLAGS_KEY: KeySchema = { partitionKey: { name: 'id', type: 'S' } };
/** The target tables' names, whatever the sink makes of them. */
export const TARGET_TABLES = { byGroup: 'dst_by_group', flags: 'dst_flags' } as const;
/** The source table, in the scenario's DynamoDB Local. */
export const SOURCE_TABLE = 'src';

type Item = Record<string, AttributeValue>;

/** transform(source) computed independently of the engine: plain unmarshall → the same rules → marshall. */
export function expectedTargets(sourceItems: Item[]): { byGroup: Item[]; flags: Item[] } {
  const out = { byGroup: [] as Item[], flags: [] as Item[] };
  for (const raw of sourceItems) {
    const item = unmarshall(raw, { wrapNumbers: true });
    const v = BigInt(String(item.v));
    if (v % 7n !== 0n) out.byGroup.push(marshall({ ...item, label: `${item.grp}#${item.id}` }, { removeUndefinedValues: true }));
    if (item.flag !== undefined) out.flags.push(marshall({ id: item.id, flag: item.flag, grp: item.grp }, { removeUndefinedValues: true }));
  }
  return out;
}

/**
 * The merge family's transform: the same split, filter and key move, with each id prefixed by the source's name (the
 * transform's second argument) so that the two sources' items never share a target key.
 */
export const MERGE_TRANSFORM = `
export default function transform(item, ctx) {
  const v = BigInt(item.v.toString());
  const id = ctx.source + '#' + item.id;
  return {
    byGroup: v % 7n === 0n ? null : { ...item, id, label: item.grp + '#' + id },
    flags: item.flag === undefined ? null : { id, flag: item.flag, grp: item.grp },
  };
}
`;

/** The merge family's sources: config name → table, in the scenario's DynamoDB Local. */
export const MERGE_SOURCES = { a: 'src_a', b: 'src_b' } as const;

/** MERGE_TRANSFORM(every source) computed independently of the engine. */
export function expectedMergedTargets(sources: Record<string, Item[]>): { byGroup: Item[]; flags: Item[] } {
  const out = { byGroup: [] as Item[], flags: [] as Item[] };
  for (const [name, items] of Object.entries(sources)) {
    const prefixed = items.map((raw) => ({ ...raw, id: { S: `${name}#${raw.id!.S}` } }));
    const e = expectedTargets(prefixed);
    out.byGroup.push(...e.byGroup);
    out.flags.push(...e.flags);
  }
  return out;
}

export interface ScenarioConfig {
  name: string;
  /** The source's DynamoDB Local. */
  endpoint: string;
  /** Several sources (config name → table) instead of SOURCE_TABLE; they are merged with MERGE_TRANSFORM. */
  sources?: Record<string, string>;
  /** The one source's table, when not SOURCE_TABLE. */
  sourceTable?: string;
  /** Each target's config entry (see `ScenarioSink.cliTarget`). */
  targets: { byGroup: Record<string, unknown>; flags: Record<string, unknown> };
  backfill: {
    strategy?: ScenarioStrategy | 'export';
    segments: number;
    concurrency: number;
    pageSize: number;
    maxReadUnitsPerSecond?: number;
    export?: { uri: string };
    touch?: { maxWriteUnitsPerSecond: number };
    /** Worker threads (backfill.workers). Default CRASH_WORKERS, else 1: the in-thread backfill, as before the option. */
    workers?: number;
  };
  stream?: { pollIntervalMs?: number; discoveryIntervalMs?: number; duringBackfill?: boolean };
  write?: { concurrency?: number; maxWriteUnitsPerSecond?: number };
  onError?: 'halt' | 'dead-letter';
}

/** Writes dynashift.config.json + transform.mjs into `dir`, as a user would; returns the config path. */
export function writeScenarioConfig(dir: string, o: ScenarioConfig): string {
  writeFileSync(join(dir, 'transform.mjs'), o.sources ? MERGE_TRANSFORM : TRANSFORM);
  const path = join(dir, 'dynashift.config.json');
  const backfill = Object.fromEntries(
    Object.entries({ workers: Number(process.env.CRASH_WORKERS ?? 1), ...o.backfill }).filter(([, v]) => v !== undefined),
  );
  const ref = (table: string) => ({ table, endpoint: o.endpoint, region: 'us-east-1' });
  writeFileSync(
    path,
    JSON.stringify(
      {
        name: o.name,
        ...(o.sources
          ? { sources: Object.fromEntries(Object.entries(o.sources).map(([name, table]) => [name, ref(table)])) }
          : { source: ref(o.sourceTable ?? SOURCE_TABLE) }),
        targets: o.targets,
        transform: './transform.mjs',
        backfill,
        ...(o.stream ? { stream: o.stream } : {}),
        ...(o.write ? { write: o.write } : {}),
        ...(o.onError ? { onError: o.onError } : {}),
      },
      null,
      2,
    ),
  );
  return path;
}

/** A DynamoDB target in the source's DynamoDB Local, created by the migration. */
export function localDynamoDbTarget(endpoint: string, table: string, keySchema: KeySchema): Record<string, unknown> {
  return { table, endpoint, region: 'us-east-1', create: { keySchema } };
}

/** What the scenario knows about its run: the source's DynamoDB Local and the seed. */
export interface ScenarioContext {
  seed: number;
  endpoint: string;
  client: DynamoDBClient;
}

/** How the scenario configures and reads back one kind of sink. */
export interface ScenarioSink {
  kind: string;
  /** The config entry of a CLI target named `table` with this key. */
  cliTarget(ctx: ScenarioContext, table: string, keySchema: KeySchema): Record<string, unknown>;
  /** Extra environment for the CLI (where the target's credentials come from). */
  cliEnv?(ctx: ScenarioContext): NodeJS.ProcessEnv;
  /** Every item of a CLI target, read independently of the sink. */
  readTarget(ctx: ScenarioContext, table: string, keySchema: KeySchema): Promise<AttributeMap[]>;
  /** Strings that must appear in no state file and no CLI output (passwords). */
  secrets?(): string[];
  /** Sink-specific checks after the scenario converged (e.g. typed columns agree with the items). */
  afterScenario?(ctx: ScenarioContext): Promise<void>;
  /** Set (to the reason) for a sink that takes the backfill's puts only: no live workload, kills during the backfill. */
  writeOnce?: string;
}

/** DynamoDB targets next to the source, in the scenario's DynamoDB Local. */
export const localDynamoDbSink: ScenarioSink = {
  kind: 'dynamodb',
  cliTarget: (ctx, table, keySchema) => localDynamoDbTarget(ctx.endpoint, table, keySchema),
  readTarget: (ctx, table) => scanAll(ctx.client, table),
};

/** scan: a consistent Scan; touch: every item updated so it flows through the stream. */
export type ScenarioStrategy = 'scan' | 'touch';

/**
 * The rate-limited families (see the header): scan-slow and touch-slow, export (load a DynamoDB export, then the
 * stream from its exportTime) and merge (two sources, scan). Each slows its backfill so the stream is applied during
 * most of it.
 */
export type ScenarioFamily = 'scan-slow' | 'touch-slow' | 'export' | 'merge';

export interface CrashScenarioOptions {
  seed: number;
  strategy: ScenarioStrategy;
  /** A rate-limited family instead of the plain strategy run (the strategy is then ignored). */
  family?: ScenarioFamily;
  /** Items seeded before the first run. */
  items: number;
  /** SIGKILLs before the final run (default 4). */
  kills?: number;
  /**
   * Where dynashift reaches DynamoDB Local, given its endpoint: e.g. a fault-injecting proxy in front of it
   * (test/integration/fault-injection.test.ts). The workload and the independent scan always go direct.
   */
  dynashiftEndpoint?(localEndpoint: string): Promise<string>;
  /** backfill.workers for this run (overrides CRASH_WORKERS). */
  workers?: number;
}

export const DEFAULT_KILLS = 4;
const TOUCH_MARKER = '_dynashift_touch';

/** What a run of the scenario observed, for the test's diagnostics. */
export interface ScenarioReport {
  label: string;
  killedIn: string[];
  /** Progress snapshots (one a second) the runs wrote in phase `backfilling`, and how many had applied stream records. */
  backfillSnapshots: number;
  backfillSnapshotsApplying: number;
  /** Backfill items the snapshot gate left to the stream, which had already written their key (all sources). */
  overtaken: number;
  workloadOps: number;
  seconds: number;
  /** stderr of every dynashift command, for the warnings they printed. */
  stderr: string[];
}

/** The scenario on a fresh DynamoDB Local (one per run: long-lived DynamoDB Local JVMs slow down). */
export async function runCrashScenario(sink: ScenarioSink, opts: CrashScenarioOptions): Promise<ScenarioReport> {
  const local = await startDynamoDbLocal();
  const client = new DynamoDBClient(localClientConfig(local.endpoint));
  try {
    const cliEndpoint = opts.dynashiftEndpoint ? await opts.dynashiftEndpoint(local.endpoint) : local.endpoint;
    return await crashAndResume(sink, { seed: opts.seed, endpoint: local.endpoint, client }, opts, cliEndpoint);
  } finally {
    client.destroy();
    await local.stop();
  }
}

/**
 * The rate limits of the slowed families, scaled with the table so that the backfill lasts about SLOW_BACKFILL_S
 * seconds whatever CRASH_ITEMS is (items are ~250 bytes: the scan limiter lets ~3.5 read units pass per 100 items, a touch
 * 1 write unit twice — touch and marker removal —, an export item ~1.4 target writes split over two targets).
 */
const SLOW_BACKFILL_S = 15;
/** ~35 operations a second per source: under the export family's write limit at CRASH_ITEMS=1000. */
const SLOW_WORKLOAD_PAUSE_MS = 100;
function slowBackfill(family: ScenarioFamily, items: number): Pick<ScenarioConfig, 'backfill' | 'write'> {
  const base = { segments: 8, concurrency: 2, pageSize: 100 };
  switch (family) {
    case 'scan-slow':
    case 'merge':
      return { backfill: { ...base, strategy: 'scan', maxReadUnitsPerSecond: Math.max(1, Math.round((items * 0.035) / SLOW_BACKFILL_S)) } };
    case 'touch-slow':
      return { backfill: { ...base, strategy: 'touch', touch: { maxWriteUnitsPerSecond: Math.max(10, Math.round((items * 2) / SLOW_BACKFILL_S)) } } };
    case 'export':
      return {
        backfill: { ...base, strategy: 'export' },
        write: { maxWriteUnitsPerSecond: Math.max(10, Math.round(items / (2 * SLOW_BACKFILL_S))) },
      };
  }
}

async function crashAndResume(sink: ScenarioSink, ctx: ScenarioContext, opts: CrashScenarioOptions, cliEndpoint: string): Promise<ScenarioReport> {
  const startedAt = Date.now();
  const { seed, client } = ctx;
  const { family, items } = opts;
  const strategy = family === 'touch-slow' ? 'touch' : family === undefined ? opts.strategy : 'scan';
  const label = family ?? strategy;
  const kills = opts.kills ?? DEFAULT_KILLS;
  const live = sink.writeOnce === undefined;
  const rng = mulberry32(seed);
  const dir = mkdtempSync(join(tmpdir(), `dynashift-crash-${sink.kind}-${label}-${seed}-`));
  // config name → table; the merge family's items are shared between its two sources.
  const sources: Record<string, string> = family === 'merge' ? { ...MERGE_SOURCES } : { source: SOURCE_TABLE };
  const itemsPerSource = Math.round(items / Object.keys(sources).length);
  // The scan runs seed their source before its stream is enabled, as a table that has held its items for a while: the
  // seeding's own records would otherwise lie inside the snapshot margin (skipBefore = start − 5 min), so the stream
  // applier would write most seeded keys first and the gate would leave nearly every backfill item to it (measured:
  // 780–990 of 1000 `overtaken`), and the backfill's writes racing the stream's would be the exception, not the rule.
  // The export family needs the stream before its export (plan checks it); touch writes every item through it anyway.
  const streamAfterSeeding = strategy === 'scan' && family !== 'export';
  for (const table of Object.values(sources)) {
    await createTable(client, {
      name: table,
      partitionKey: { name: 'id', type: 'S' },
      ...(streamAfterSeeding ? {} : { streamViewType: 'NEW_AND_OLD_IMAGES' as const }),
    });
  }
  const name = `crash-${sink.kind}-${label}-${seed}`;
  const slowed = family ? slowBackfill(family, items) : undefined;
  const exportsDir = join(dir, 'exports');
  const cliCtx = { ...ctx, endpoint: cliEndpoint }; // what the config points dynashift at
  const cfg = writeScenarioConfig(dir, {
    name,
    endpoint: cliCtx.endpoint,
    ...(family === 'merge' ? { sources } : {}),
    targets: {
      byGroup: sink.cliTarget(cliCtx, TARGET_TABLES.byGroup, BY_GROUP_KEY),
      flags: sink.cliTarget(cliCtx, TARGET_TABLES.flags, FLAGS_KEY),
    },
    // A write-once run ends with its backfill: a read budget keeps it long enough for the kills to land inside it.
    backfill: {
      ...(slowed
        ? { ...slowed.backfill, ...(family === 'export' ? { export: { uri: exportsDir } } : {}) }
        : { strategy, segments: 8, concurrency: 2, pageSize: 100, ...(live ? {} : { maxReadUnitsPerSecond: 20 }) }),
      ...(opts.workers !== undefined ? { workers: opts.workers } : {}),
    },
    stream: { pollIntervalMs: 100, discoveryIntervalMs: 1000 },
    ...(slowed?.write ? { write: slowed.write } : {}),
  });
  const stateDir = join(dir, '.dynashift', name);
  const statePath = join(stateDir, 'state.json');
  const env = sink.cliEnv?.(ctx) ?? {};
  const outputs: CliResult[] = [];

  let plan: CliResult;
  if (family === 'export') {
    // The export is taken before the live workload starts: every workload change is newer than its exportTime and
    // reaches the targets only through the stream, applied while the export is loaded.
    await seedItems(client, SOURCE_TABLE, items, rng);
    await writeExport(ctx, dir, exportsDir);
    plan = await runCli(['plan', '-c', cfg, '--json'], { env, timeoutMs: 60_000 });
  } else if (streamAfterSeeding) {
    await Promise.all(Object.values(sources).map((table, i) => seedItems(client, table, itemsPerSource, i === 0 ? rng : mulberry32(seed * 31 + i))));
    for (const table of Object.values(sources)) await enableStream(client, table);
    plan = await runCli(['plan', '-c', cfg, '--json'], { env, timeoutMs: 60_000 });
  } else {
    // `plan` only reads, so it runs while the source is being seeded.
    [plan] = await Promise.all([
      runCli(['plan', '-c', cfg, '--json'], { env, timeoutMs: 60_000 }),
      ...Object.values(sources).map((table, i) => seedItems(client, table, itemsPerSource, i === 0 ? rng : mulberry32(seed * 31 + i))),
    ]);
  }
  outputs.push(plan);
  assert.equal(plan.code, 0, `plan failed:\n${plan.stderr}\n${plan.stdout}`);

  const stopWorkload = new AbortController();
  const workloads = live
    ? Object.values(sources).map((table, i) =>
        runWorkload(client, table, {
          rng: mulberry32(seed * 7919 + i),
          idSpace: Math.round(itemsPerSource * 1.3),
          concurrency: 4,
          signal: stopWorkload.signal,
          // The slowed families pace their writers, so the rate-limited applier still keeps up once the backfill ends.
          ...(family ? { pauseMs: SLOW_WORKLOAD_PAUSE_MS } : {}),
        }),
      )
    : [];
  const sampler = sampleProgress(statePath);
  const killedIn: string[] = [];
  try {
    for (let k = 0; k < kills; k++) {
      const child = spawnCli(['run', '-c', cfg, '--no-progress'], { env });
      // Alternate between killing mid-backfill and mid-catch-up, at a random moment inside the phase.
      const wanted = k % 2 === 0 || !live ? 'backfilling' : 'catching-up';
      const phase = await waitForPhase(statePath, live ? [wanted, 'catching-up', 'in-sync'] : [wanted], child, 120_000);
      await sleep(Math.floor(rng() * (phase === 'backfilling' ? 400 : 1500)));
      const phaseAtKill = readPhase(statePath);
      child.kill('SIGKILL');
      const r = await child.result;
      outputs.push(r);
      if (r.signal !== 'SIGKILL') assert.fail(`migrator exited on its own before the kill (code ${r.code}):\n${r.stderr}`);
      killedIn.push(phaseAtKill ?? 'starting');
    }
    await sleep(500 + Math.floor(rng() * 1000));
  } finally {
    stopWorkload.abort();
  }
  const counts = workloads.length > 0 ? sumCounts(await Promise.all(workloads)) : undefined;
  if (counts) assert.ok(counts.total > 100, `workload ran only ${counts.total} operations`);

  let final: CliResult;
  try {
    final = await runCli(['run', '-c', cfg, ...(live ? ['--until-synced'] : []), '--no-progress'], { env, timeoutMs: 180_000 });
  } finally {
    sampler.stop();
  }
  outputs.push(final);
  assert.equal(final.code, 0, `final run failed:\n${final.stderr}`);
  const state = JSON.parse(readFileSync(statePath, 'utf8'));
  assert.equal(state.deadLetters, 0, 'no item may be dead-lettered in this scenario');
  assert.equal(state.phase, live ? 'in-sync' : 'exported');

  const sourceItems: Record<string, Item[]> = {};
  for (const [sourceName, table] of Object.entries(sources)) sourceItems[sourceName] = await scanAll(client, table);
  const allSourceItems = Object.values(sourceItems).flat();
  if (strategy === 'touch')
    assert.ok(
      allSourceItems.every((i) => !(TOUCH_MARKER in i)),
      'the touch marker is removed from the source',
    );
  const expected = family === 'merge' ? expectedMergedTargets(sourceItems) : expectedTargets(allSourceItems);
  const byGroupItems = await sink.readTarget(ctx, TARGET_TABLES.byGroup, BY_GROUP_KEY);
  const flagsItems = await sink.readTarget(ctx, TARGET_TABLES.flags, FLAGS_KEY);
  assert.ok(
    [...byGroupItems, ...flagsItems].every((i) => !(TOUCH_MARKER in i)),
    'no marker attribute reaches the target',
  );
  const context = `${sink.kind}, ${label}, seed ${seed}, kills in ${killedIn.join(', ')}, workload ${counts ? JSON.stringify(counts) : 'none (write-once)'}`;
  const byGroup = compareTables(expected.byGroup, byGroupItems, ['grp', 'id']);
  assert.ok(isEmptyDiff(byGroup), `byGroup differs (${context}):\n${formatDiff(byGroup)}`);
  const flags = compareTables(expected.flags, flagsItems, ['id']);
  assert.ok(isEmptyDiff(flags), `flags differs (${context}):\n${formatDiff(flags)}`);
  assert.ok(killedIn.includes('backfilling') || killedIn.includes('catching-up'), `no kill landed inside a phase: ${killedIn.join(', ')}`);
  assert.ok(expected.byGroup.length > items / 2, 'the comparison must cover a substantial table');

  const backfilling = sampler.snapshots.filter((s) => s.phase === 'backfilling');
  const applying = backfilling.filter((s) => s.records > 0);
  // The new mode, slowed: the stream is applied while the backfill runs, not only after it.
  if (family !== undefined) {
    assert.ok(applying.length > 0, `no stream record was applied during the backfill (${context}; ${backfilling.length} backfilling snapshots)`);
  }
  // The export family's load must write items itself, not only leave them to the stream. The seeding's own stream
  // records lie inside the export's 5-minute margin (skipBefore = exportTime - 5 min), so the stream carries a newer
  // (or equal) value for every key it reaches first and the gate leaves those items to it (`overtaken`): correct, but
  // with too few items the applier reaches every key before the load does and the load writes nothing
  // (EXPORT_MIN_ITEMS in crash-resume.test.ts).
  const backfills = Object.keys(sources).map((name) => state.sources?.[name]?.backfill as { itemsWritten?: number; overtaken?: number } | undefined);
  const overtaken = backfills.reduce((n, b) => n + (b?.overtaken ?? 0), 0);
  if (family === 'export') {
    const loaded = (backfills[0]?.itemsWritten ?? 0) - overtaken;
    assert.ok(loaded > 0, `the export load wrote no item itself: all ${overtaken} were overtaken by the stream (${context})`);
  }

  // dynashift's own verify agrees, reading each target back through its sink's TargetReader.
  const verified = await runCli(['verify', '-c', cfg], { env, timeoutMs: 180_000 });
  outputs.push(verified);
  assert.equal(verified.code, 0, `verify reported differences (${context}):\n${verified.stdout.slice(0, 3000)}${verified.stderr.slice(-2000)}`);
  assert.match(verified.stdout, /✔ 0 differences/);

  // Abort listeners pile up on a run's signals by design (one per in-flight request): Node's leak warning must not fire.
  outputs.forEach((o, i) =>
    assert.ok(!o.stderr.includes('MaxListenersExceededWarning'), `CLI output #${i} warns of an abort-listener leak:\n${o.stderr.slice(0, 2000)}`),
  );
  for (const secret of sink.secrets?.() ?? []) {
    for (const file of readdirSync(stateDir)) {
      assert.ok(!readFileSync(join(stateDir, file), 'utf8').includes(secret), `the state folder's ${file} must not contain the password`);
    }
    outputs.forEach((o, i) => assert.ok(!o.stdout.includes(secret) && !o.stderr.includes(secret), `CLI output #${i} must not contain the password`));
  }
  await sink.afterScenario?.(ctx);
  return {
    label,
    killedIn,
    backfillSnapshots: backfilling.length,
    backfillSnapshotsApplying: applying.length,
    overtaken,
    workloadOps: counts?.total ?? 0,
    seconds: Math.round((Date.now() - startedAt) / 1000),
    stderr: outputs.map((o) => o.stderr),
  };
}

/** The export family's snapshot: a `files` target writes SOURCE_TABLE as a DynamoDB export into `exportsDir`. */
async function writeExport(ctx: ScenarioContext, dir: string, exportsDir: string): Promise<void> {
  const path = join(dir, 'snapshot.config.json');
  writeFileSync(
    path,
    JSON.stringify(
      {
        name: 'snapshot',
        source: { table: SOURCE_TABLE, endpoint: ctx.endpoint, region: 'us-east-1' },
        target: { table: 'snapshot', kind: 'files', files: { uri: exportsDir } },
      },
      null,
      2,
    ),
  );
  const r = await runCli(['run', '-c', path, '--no-progress'], { timeoutMs: 120_000 });
  assert.equal(r.code, 0, `the export run failed:\n${r.stderr}`);
}

function sumCounts(all: WorkloadCounts[]): WorkloadCounts {
  const sum = { ...all[0]! };
  for (const c of all.slice(1)) for (const k of Object.keys(sum) as (keyof WorkloadCounts)[]) sum[k] += c[k];
  return sum;
}

interface ProgressSample {
  at: string;
  phase: string;
  records: number;
}

/** Collects the progress snapshots the runs write into the state file (one a second), each once. */
function sampleProgress(statePath: string): { snapshots: ProgressSample[]; stop(): void } {
  const snapshots: ProgressSample[] = [];
  const seen = new Set<string>();
  const timer = setInterval(() => {
    try {
      if (!existsSync(statePath)) return;
      const p = (JSON.parse(readFileSync(statePath, 'utf8')) as { progress?: { at: string; phase: string; stream: { records: number } } }).progress;
      if (!p || seen.has(p.at)) return;
      seen.add(p.at);
      snapshots.push({ at: p.at, phase: p.phase, records: p.stream.records });
    } catch {
      // a rename in progress: the next poll reads it
    }
  }, 250);
  return { snapshots, stop: () => clearInterval(timer) };
}

function readPhase(statePath: string): string | undefined {
  try {
    return existsSync(statePath) ? (JSON.parse(readFileSync(statePath, 'utf8')) as { phase: string }).phase : undefined;
  } catch {
    return undefined; // a rename in progress: try again on the next poll
  }
}

async function waitForPhase(
  statePath: string,
  phases: string[],
  child: { exitCode: number | null; result: Promise<CliResult> },
  timeoutMs: number,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const phase = readPhase(statePath);
    if (phase && phases.includes(phase)) return phase;
    if (child.exitCode !== null)
      throw new Error(`migrator exited (code ${child.exitCode}) before reaching ${phases.join('/')}:\n${(await child.result).stderr}`);
    await sleep(20);
  }
  throw new Error(`migrator did not reach ${phases.join('/')} within ${timeoutMs} ms (state: ${readPhase(statePath)})`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
