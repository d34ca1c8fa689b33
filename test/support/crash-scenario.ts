/**
 * The randomized crash scenario, shared by the crash-resume test and the fault-injection test: a live workload (puts,
 * updates, deletes, delete-then-recreate, target-key moves, transactions) runs against the source while the migrator
 * is SIGKILLed at random points — during the backfill and during the catch-up — and resumed with the same command.
 * Once the workload stops, a final `run --until-synced` must leave every target equal to transform(source), compared
 * item by item by an independent scanner.
 *
 * With `endpointFor`, dynashift talks to DynamoDB (tables and streams) through another endpoint — the fault-injecting
 * proxy — while the workload and the independent scanner talk to DynamoDB Local directly.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { createTable } from './dynamodb-local.js';
import { spawnCli, runCli } from './cli.js';
import { compareTables, formatDiff, isEmptyDiff, scanAll } from './independent-scan.js';
import { mulberry32, runWorkload, seedItems } from './workload.js';

// The transform under test: a split into two targets, a key that moves when `grp` changes, and a filter that drops
// items in or out as `v` changes. Written as a user would, in a module the JSON config points to.
const TRANSFORM = `
export default function transform(item) {
  const v = BigInt(item.v.toString());
  return {
    byGroup: v % 7n === 0n ? null : { ...item, label: item.grp + '#' + item.id },
    flags: item.flag === undefined ? null : { id: item.id, flag: item.flag, grp: item.grp },
  };
}
`;

export interface CrashScenarioOptions {
  seed: number;
  /** DynamoDB Local's endpoint (the workload and the scanner use it directly). */
  endpoint: string;
  client: DynamoDBClient;
  strategy: 'scan' | 'touch';
  items: number;
  kills: number;
  /** The endpoint dynashift's config names (default: `endpoint`). */
  dynashiftEndpoint?: string;
  /** Time allowed for the final `run --until-synced`. */
  finalTimeoutMs?: number;
}

export interface CrashScenarioResult {
  killedIn: string[];
  /** stderr of every dynashift run, for the warnings they printed. */
  stderr: string[];
}

export async function runCrashScenario(o: CrashScenarioOptions): Promise<CrashScenarioResult> {
  const { seed, client, strategy } = o;
  const rng = mulberry32(seed);
  const dir = mkdtempSync(join(tmpdir(), `dynashift-crash-${seed}-`));
  await createTable(client, { name: 'src', partitionKey: { name: 'id', type: 'S' }, streamViewType: 'NEW_AND_OLD_IMAGES' });
  // Touch updates items one by one (twice): a smaller table keeps the run comparable in time.
  const items = strategy === 'touch' ? Math.round(o.items / 2) : o.items;
  await seedItems(client, 'src', items, rng);
  writeFileSync(join(dir, 'transform.mjs'), TRANSFORM);
  const endpoint = o.dynashiftEndpoint ?? o.endpoint;
  const table = (name: string) => ({ table: name, endpoint, region: 'us-east-1' });
  writeFileSync(join(dir, 'dynashift.config.json'), JSON.stringify({
    name: `crash-${seed}`,
    source: table('src'),
    targets: {
      byGroup: { ...table('dst_by_group'), create: { keySchema: { partitionKey: { name: 'grp', type: 'S' }, sortKey: { name: 'id', type: 'S' } } } },
      flags: { ...table('dst_flags'), create: { keySchema: { partitionKey: { name: 'id', type: 'S' } } } },
    },
    transform: './transform.mjs',
    backfill: { strategy, segments: 8, concurrency: 2, pageSize: 100 },
    stream: { pollIntervalMs: 100, discoveryIntervalMs: 1000 },
  }, null, 2));
  const cfg = join(dir, 'dynashift.config.json');
  const statePath = join(dir, '.dynashift', `crash-${seed}`, 'state.json');

  const stderr: string[] = [];
  const stopWorkload = new AbortController();
  const workload = runWorkload(client, 'src', { rng: mulberry32(seed * 7919), idSpace: Math.round(items * 1.3), concurrency: 4, signal: stopWorkload.signal });

  const killedIn: string[] = [];
  for (let k = 0; k < o.kills; k++) {
    const child = spawnCli(['run', '-c', cfg, '--no-progress']);
    // Alternate between killing mid-backfill and mid-catch-up, at a random moment inside the phase.
    const wanted = k % 2 === 0 ? 'backfilling' : 'catching-up';
    const phase = await waitForPhase(statePath, [wanted, 'catching-up', 'in-sync'], child, 120_000);
    await sleep(Math.floor(rng() * (phase === 'backfilling' ? 400 : 1500)));
    const phaseAtKill = readPhase(statePath);
    child.kill('SIGKILL');
    const r = await child.result;
    stderr.push(r.stderr);
    if (r.signal !== 'SIGKILL') assert.fail(`migrator exited on its own before the kill (code ${r.code}):\n${r.stderr}`);
    killedIn.push(phaseAtKill ?? 'starting');
  }

  await sleep(500 + Math.floor(rng() * 1000));
  stopWorkload.abort();
  const counts = await workload;
  assert.ok(counts.total > 100, `workload ran only ${counts.total} operations`);

  const final = await runCli(['run', '-c', cfg, '--until-synced', '--no-progress'], { timeoutMs: o.finalTimeoutMs ?? 180_000 });
  stderr.push(final.stderr);
  assert.equal(final.code, 0, `final run failed:\n${final.stderr}`);

  const state = JSON.parse(readFileSync(statePath, 'utf8'));
  assert.equal(state.deadLetters, 0, 'no item may be dead-lettered in this scenario');
  assert.equal(state.phase, 'in-sync');

  const sourceItems = await scanAll(client, 'src');
  if (strategy === 'touch') assert.ok(sourceItems.every((i) => !('_dynashift_touch' in i)), 'the touch marker is removed from the source');
  const expected = expectedTargets(sourceItems);
  const byGroup = compareTables(expected.byGroup, await scanAll(client, 'dst_by_group'), ['grp', 'id']);
  const flags = compareTables(expected.flags, await scanAll(client, 'dst_flags'), ['id']);
  const targetItems = [...(await scanAll(client, 'dst_by_group')), ...(await scanAll(client, 'dst_flags'))];
  assert.ok(targetItems.every((i) => !('_dynashift_touch' in i)), 'no marker attribute reaches the target');
  const context = `${strategy}, seed ${seed}, kills in ${killedIn.join(', ')}, workload ${JSON.stringify(counts)}`;
  assert.ok(isEmptyDiff(byGroup), `byGroup differs (${context}):\n${formatDiff(byGroup)}`);
  assert.ok(isEmptyDiff(flags), `flags differs (${context}):\n${formatDiff(flags)}`);
  assert.ok(killedIn.includes('backfilling') || killedIn.includes('catching-up'), `no kill landed inside a phase: ${killedIn.join(', ')}`);
  assert.ok(expected.byGroup.length > items / 2, 'the comparison must cover a substantial table');
  return { killedIn, stderr };
}

/** The expected targets, computed independently of the engine: plain unmarshall → transform → marshall. */
function expectedTargets(sourceItems: Record<string, import('@aws-sdk/client-dynamodb').AttributeValue>[]) {
  const out = { byGroup: [] as typeof sourceItems, flags: [] as typeof sourceItems };
  for (const raw of sourceItems) {
    const item = unmarshall(raw, { wrapNumbers: true });
    const v = BigInt(String(item.v));
    if (v % 7n !== 0n) out.byGroup.push(marshall({ ...item, label: `${item.grp}#${item.id}` }, { removeUndefinedValues: true }));
    if (item.flag !== undefined) out.flags.push(marshall({ id: item.id, flag: item.flag, grp: item.grp }, { removeUndefinedValues: true }));
  }
  return out;
}

function readPhase(statePath: string): string | undefined {
  try {
    return existsSync(statePath) ? (JSON.parse(readFileSync(statePath, 'utf8')) as { phase: string }).phase : undefined;
  } catch {
    return undefined; // a rename in progress: try again on the next poll
  }
}

async function waitForPhase(statePath: string, phases: string[], child: { exitCode: number | null }, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const phase = readPhase(statePath);
    if (phase && phases.includes(phase)) return phase;
    if (child.exitCode !== null) throw new Error(`migrator exited (code ${child.exitCode}) before reaching ${phases.join('/')}`);
    await sleep(20);
  }
  throw new Error(`migrator did not reach ${phases.join('/')} within ${timeoutMs} ms (state: ${readPhase(statePath)})`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
