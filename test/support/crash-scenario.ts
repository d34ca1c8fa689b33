/**
 * The crash scenario, once for every sink and strategy: a seeded live workload (puts, updates, deletes,
 * delete-then-recreate, target-key moves, transactions) on a DynamoDB Local source while `dynashift run` is SIGKILLed
 * at random moments — alternately during the backfill and the catch-up — and resumed with the same command. Once the
 * workload stops, a final `run --until-synced` must leave every target equal to transform(source), read back
 * independently of the sink and compared item by item (test/support/independent-scan.ts), and dynashift's own verify
 * must agree. A write-once sink (files) takes no stream: for it the scenario kills the run during the backfill only,
 * with no live workload, and the final `run` must leave the export equal to transform(source).
 *
 * Used by test/integration/crash-resume.test.ts (DynamoDB targets, scan and touch), the sink conformance suite
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
import { createTable } from './dynamodb-local.js';
import { compareTables, formatDiff, isEmptyDiff, scanAll } from './independent-scan.js';
import { mulberry32, runWorkload, seedItems } from './workload.js';

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

export interface ScenarioConfig {
  name: string;
  /** The source's DynamoDB Local. */
  endpoint: string;
  /** Each target's config entry (see `ScenarioSink.cliTarget`). */
  targets: { byGroup: Record<string, unknown>; flags: Record<string, unknown> };
  backfill: { strategy?: ScenarioStrategy; segments: number; concurrency: number; pageSize: number; maxReadUnitsPerSecond?: number };
  stream?: { pollIntervalMs: number; discoveryIntervalMs: number };
  write?: { concurrency: number };
  onError?: 'halt' | 'dead-letter';
}

/** Writes dynashift.config.json + transform.mjs into `dir`, as a user would; returns the config path. */
export function writeScenarioConfig(dir: string, o: ScenarioConfig): string {
  writeFileSync(join(dir, 'transform.mjs'), TRANSFORM);
  const path = join(dir, 'dynashift.config.json');
  const backfill = Object.fromEntries(Object.entries(o.backfill).filter(([, v]) => v !== undefined));
  writeFileSync(
    path,
    JSON.stringify(
      {
        name: o.name,
        source: { table: SOURCE_TABLE, endpoint: o.endpoint, region: 'us-east-1' },
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

export interface CrashScenarioOptions {
  seed: number;
  strategy: ScenarioStrategy;
  /** Items seeded before the first run. */
  items: number;
  /** SIGKILLs before the final run (default 4). */
  kills?: number;
}

export const DEFAULT_KILLS = 4;
const TOUCH_MARKER = '_dynashift_touch';

/** The scenario on a fresh DynamoDB Local (one per run: long-lived DynamoDB Local JVMs slow down). */
export async function runCrashScenario(sink: ScenarioSink, opts: CrashScenarioOptions): Promise<void> {
  const local = await startDynamoDbLocal();
  const client = new DynamoDBClient(localClientConfig(local.endpoint));
  try {
    await crashAndResume(sink, { seed: opts.seed, endpoint: local.endpoint, client }, opts);
  } finally {
    client.destroy();
    await local.stop();
  }
}

async function crashAndResume(sink: ScenarioSink, ctx: ScenarioContext, opts: CrashScenarioOptions): Promise<void> {
  const { seed, client } = ctx;
  const { strategy, items } = opts;
  const kills = opts.kills ?? DEFAULT_KILLS;
  const live = sink.writeOnce === undefined;
  const rng = mulberry32(seed);
  const dir = mkdtempSync(join(tmpdir(), `dynashift-crash-${sink.kind}-${strategy}-${seed}-`));
  await createTable(client, { name: SOURCE_TABLE, partitionKey: { name: 'id', type: 'S' }, streamViewType: 'NEW_AND_OLD_IMAGES' });
  const name = `crash-${sink.kind}-${strategy}-${seed}`;
  const cfg = writeScenarioConfig(dir, {
    name,
    endpoint: ctx.endpoint,
    targets: {
      byGroup: sink.cliTarget(ctx, TARGET_TABLES.byGroup, BY_GROUP_KEY),
      flags: sink.cliTarget(ctx, TARGET_TABLES.flags, FLAGS_KEY),
    },
    // A write-once run ends with its backfill: a read budget keeps it long enough for the kills to land inside it.
    backfill: { strategy, segments: 8, concurrency: 2, pageSize: 100, ...(live ? {} : { maxReadUnitsPerSecond: 20 }) },
    stream: { pollIntervalMs: 100, discoveryIntervalMs: 1000 },
  });
  const stateDir = join(dir, '.dynashift', name);
  const statePath = join(stateDir, 'state.json');
  const env = sink.cliEnv?.(ctx) ?? {};
  const outputs: CliResult[] = [];

  // `plan` only reads, so it runs while the source is being seeded.
  const [plan] = await Promise.all([runCli(['plan', '-c', cfg, '--json'], { env, timeoutMs: 60_000 }), seedItems(client, SOURCE_TABLE, items, rng)]);
  outputs.push(plan);
  assert.equal(plan.code, 0, `plan failed:\n${plan.stderr}\n${plan.stdout}`);

  const stopWorkload = new AbortController();
  const workload = live
    ? runWorkload(client, SOURCE_TABLE, {
        rng: mulberry32(seed * 7919),
        idSpace: Math.round(items * 1.3),
        concurrency: 4,
        signal: stopWorkload.signal,
      })
    : undefined;
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
  const counts = await workload;
  if (counts) assert.ok(counts.total > 100, `workload ran only ${counts.total} operations`);

  const final = await runCli(['run', '-c', cfg, ...(live ? ['--until-synced'] : []), '--no-progress'], { env, timeoutMs: 180_000 });
  outputs.push(final);
  assert.equal(final.code, 0, `final run failed:\n${final.stderr}`);
  const state = JSON.parse(readFileSync(statePath, 'utf8'));
  assert.equal(state.deadLetters, 0, 'no item may be dead-lettered in this scenario');
  assert.equal(state.phase, live ? 'in-sync' : 'exported');

  const sourceItems = await scanAll(client, SOURCE_TABLE);
  if (strategy === 'touch')
    assert.ok(
      sourceItems.every((i) => !(TOUCH_MARKER in i)),
      'the touch marker is removed from the source',
    );
  const expected = expectedTargets(sourceItems);
  const byGroupItems = await sink.readTarget(ctx, TARGET_TABLES.byGroup, BY_GROUP_KEY);
  const flagsItems = await sink.readTarget(ctx, TARGET_TABLES.flags, FLAGS_KEY);
  assert.ok(
    [...byGroupItems, ...flagsItems].every((i) => !(TOUCH_MARKER in i)),
    'no marker attribute reaches the target',
  );
  const context = `${sink.kind}, ${strategy}, seed ${seed}, kills in ${killedIn.join(', ')}, workload ${counts ? JSON.stringify(counts) : 'none (write-once)'}`;
  const byGroup = compareTables(expected.byGroup, byGroupItems, ['grp', 'id']);
  assert.ok(isEmptyDiff(byGroup), `byGroup differs (${context}):\n${formatDiff(byGroup)}`);
  const flags = compareTables(expected.flags, flagsItems, ['id']);
  assert.ok(isEmptyDiff(flags), `flags differs (${context}):\n${formatDiff(flags)}`);
  assert.ok(killedIn.includes('backfilling') || killedIn.includes('catching-up'), `no kill landed inside a phase: ${killedIn.join(', ')}`);
  assert.ok(expected.byGroup.length > items / 2, 'the comparison must cover a substantial table');

  // dynashift's own verify agrees, reading each target back through its sink's TargetReader.
  const verified = await runCli(['verify', '-c', cfg], { env, timeoutMs: 180_000 });
  outputs.push(verified);
  assert.equal(verified.code, 0, `verify reported differences (${context}):\n${verified.stdout.slice(0, 3000)}${verified.stderr.slice(-2000)}`);
  assert.match(verified.stdout, /✔ 0 differences/);

  for (const secret of sink.secrets?.() ?? []) {
    for (const file of readdirSync(stateDir)) {
      assert.ok(!readFileSync(join(stateDir, file), 'utf8').includes(secret), `the state folder's ${file} must not contain the password`);
    }
    outputs.forEach((o, i) => assert.ok(!o.stdout.includes(secret) && !o.stderr.includes(secret), `CLI output #${i} must not contain the password`));
  }
  await sink.afterScenario?.(ctx);
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
