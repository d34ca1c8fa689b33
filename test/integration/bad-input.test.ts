/**
 * Bad configuration and environment (first describe, a table of scenarios) fail with their own code and a fix that
 * names the setting, before anything is written. Bad items never disappear silently: an item the transform throws on, or the target rejects, halts the run by
 * default (exit 1, the error code, the dead-letter file named) and is recorded in `dead-letter.jsonl` with its source
 * key and error; `--on-error=dead-letter` sets such items aside and lands everything else exactly. During the stream
 * catch-up a failing change also holds the checkpoint, so every rerun meets it again until it is dead-lettered.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DeleteItemCommand, ListTablesCommand, PutItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { runCli, spawnCli, type CliResult } from '../support/cli.js';
import { createTable, withDynamoDbLocal } from '../support/dynamodb-local.js';
import { compareTables, formatDiff, isEmptyDiff, scanAll } from '../support/independent-scan.js';
import { mulberry32, seedItems } from '../support/workload.js';

const local = withDynamoDbLocal();

const RUN_TIMEOUT_MS = 60_000;
// These cases check how each stage (backfill, then stream) records a bad item, so the stream is applied after the
// backfill: applied during it (the default), the seed's own stream records can reach a failing item first, and which
// stage records it would depend on timing. The stream stage has its own cases below.
const FAST = {
  backfill: { segments: 2, concurrency: 2 },
  stream: { pollIntervalMs: 100, discoveryIntervalMs: 1000, duringBackfill: false },
};

type Item = Record<string, AttributeValue>;

interface DeadLetter {
  at: string;
  stage: string;
  source: string;
  sourceKey: Item;
  item?: unknown;
  target?: string;
  sequenceNumber?: string;
  error: { code: string; message: string };
}

interface Migration {
  cfg: string;
  deadLetterFile: string;
  statePath: string;
}

/** A temp dir with a transform module and a JSON config; the state folder is `.dynashift/<name>` beside it. */
function writeMigration(name: string, source: string, target: string, transform: string): Migration {
  const dir = mkdtempSync(join(tmpdir(), 'dynashift-bad-input-'));
  writeFileSync(join(dir, 'transform.mjs'), transform);
  const table = (t: string) => ({ table: t, endpoint: local.endpoint, region: 'us-east-1' });
  const cfg = join(dir, 'dynashift.config.json');
  writeFileSync(cfg, `${JSON.stringify({ name, source: table(source), target: table(target), transform: './transform.mjs', ...FAST }, null, 2)}\n`);
  const stateDir = join(dir, '.dynashift', name);
  return { cfg, deadLetterFile: join(stateDir, 'dead-letter.jsonl'), statePath: join(stateDir, 'state.json') };
}

async function sourceTable(name: string, items: number): Promise<void> {
  await createTable(local.client, { name, partitionKey: { name: 'id', type: 'S' }, streamViewType: 'NEW_AND_OLD_IMAGES' });
  if (items > 0) await seedItems(local.client, name, items, mulberry32(items));
}

function run(m: Migration, ...extra: string[]): Promise<CliResult> {
  return runCli(['run', '-c', m.cfg, '--until-synced', '--no-progress', ...extra], { timeoutMs: RUN_TIMEOUT_MS });
}

function readDeadLetters(m: Migration): DeadLetter[] {
  if (!existsSync(m.deadLetterFile)) return [];
  // The file is a log of failures and resolutions ({"resolved": id, …}); these tests read the failures.
  return readFileSync(m.deadLetterFile, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as DeadLetter & { resolved?: string })
    .filter((l) => l.resolved === undefined);
}

function readState(m: Migration): {
  phase: string;
  deadLetters: number;
  sources: Record<string, { stream: { shards: Record<string, { checkpoint?: string }> } }>;
} {
  return JSON.parse(readFileSync(m.statePath, 'utf8'));
}

const idOf = (key: Item | undefined): string => key?.['id']?.S ?? `<no id: ${JSON.stringify(key)}>`;
const show = (r: CliResult): string => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

/** The default mode stops at a bad item: exit 1, its code, and where the dead letters are. */
function assertHalted(r: CliResult, code: string, m: Migration): void {
  assert.equal(r.code, 1, `expected the run to halt with exit 1:\n${show(r)}`);
  assert.match(r.stderr, new RegExp(`\\[${code}\\]`), `expected [${code}] on stderr:\n${show(r)}`);
  assert.ok(r.stderr.includes(m.deadLetterFile), `stderr should name the dead-letter file ${m.deadLetterFile}:\n${show(r)}`);
  assert.match(r.stderr, /--on-error=dead-letter/, 'the hint should name the flag that sets bad items aside');
}

interface StatusJson {
  running: boolean;
  caughtUp: boolean;
  deadLetters: number;
  deadLetterFile: string;
  safeToCutOver: boolean;
  reason: string;
  runner?: { halt?: { code: string; message: string } };
}

async function status(m: Migration): Promise<StatusJson> {
  const r = await runCli(['status', '-c', m.cfg, '--json'], { timeoutMs: 30_000 });
  assert.equal(r.code, 0, show(r));
  return JSON.parse(r.stdout) as StatusJson;
}

/** Shard checkpoints of the single source, as BigInt (0 when a shard has none yet). */
function checkpoints(m: Migration): bigint[] {
  const shards = Object.values(readState(m).sources['source']!.stream.shards);
  return shards.map((s) => (s.checkpoint ? BigInt(s.checkpoint) : 0n));
}

const THROWING_TRANSFORM = [
  'export default function transform(item) {',
  "  if (item.id.endsWith('7')) throw new Error('boom ' + item.id);",
  '  return { ...item, migrated: true };',
  '}',
  '',
].join('\n');

function failingIds(sourceItems: Item[]): Set<string> {
  const failing = new Set(sourceItems.map((i) => i['id']!.S!).filter((id) => id.endsWith('7')));
  assert.equal(failing.size, 30);
  return failing;
}

/** The target equals transform(source) minus the failing items, and every failing item (only those) is dead-lettered. */
async function assertLandedExceptFailing(m: Migration, source: string, target: string, sourceItems: Item[], failing: Set<string>): Promise<void> {
  const expected = sourceItems.filter((i) => !failing.has(i['id']!.S!)).map((i) => ({ ...i, migrated: { BOOL: true } }));
  const actual = await scanAll(local.client, target);
  const diff = compareTables(expected, actual, ['id']);
  assert.ok(isEmptyDiff(diff), `target differs from transform(${source}) minus the failing items:\n${formatDiff(diff)}`);
  const letters = readDeadLetters(m);
  const lettered = new Set(letters.map((d) => idOf(d.sourceKey)));
  assert.deepEqual([...lettered].sort(), [...failing].sort(), 'every failing item, and nothing else, is in the dead-letter file');
  assert.equal(actual.length + lettered.size, sourceItems.length, 'every source item is either in the target or dead-lettered');
  for (const d of letters) {
    assert.equal(d.error.code, 'TRANSFORM_FAILED');
    assert.ok(d.error.message.includes(`boom ${idOf(d.sourceKey)}`), d.error.message);
  }
  // The backfill read each failing item once: each must be dead-lettered from the backfill, not only from the stream.
  const fromBackfill = new Set(letters.filter((d) => d.stage === 'backfill').map((d) => idOf(d.sourceKey)));
  assert.deepEqual([...fromBackfill].sort(), [...failing].sort());
}

// ---------------------------------------------------------------------------------------------------------------------
// Bad configuration and environment, as a table of scenarios (gh-ost's localtests folders, one row each): every row
// runs the real CLI against real local servers and must fail with its exit code, its own [CODE], a `fix:` line naming
// the side's setting — and write nothing: no state file, no table, no change to any file beside the config.

interface Scenario {
  /** Where the case starts: the config to pass, extra arguments, environment. */
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** Runs with the other command still going (a live `dynashift run`), torn down by the case. */
  live?: { stop(): Promise<void> };
}

interface BadInputCase {
  name: string;
  command: string[];
  setup(dir: string): Promise<Scenario> | Scenario;
  exit: number;
  code: string;
  /** The fix line must name the setting to change (and so the side it belongs to). */
  fix: RegExp;
  /** What the message must say, beyond the code (e.g. the side). */
  message?: RegExp;
  /** The case writes state on purpose before the failing command (e.g. a live run); checked its own way. */
  checkNothingWritten?: false;
}

let htmlEndpoint = '';
let closedEndpoint = '';
let caseDirs = 0;
const BI_SOURCE = 'bi_source';

/** No ambient AWS settings reach a case: each states the ones it means (tests may run on a machine with a profile). */
function isolatedEnv(dir: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    AWS_REGION: '',
    AWS_DEFAULT_REGION: '',
    AWS_PROFILE: '',
    AWS_ACCESS_KEY_ID: '',
    AWS_SECRET_ACCESS_KEY: '',
    AWS_SESSION_TOKEN: '',
    AWS_CONFIG_FILE: join(dir, 'aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(dir, 'aws-credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
    ...extra,
  };
}

function caseDir(): string {
  return mkdtempSync(join(tmpdir(), `dynashift-bad-config-${caseDirs++}-`));
}

/** A JSON config in `dir`; the source defaults to the shared local table, the target to a table that must never appear. */
function configIn(dir: string, over: Record<string, unknown> = {}): string {
  const cfg = join(dir, 'dynashift.config.json');
  const local_ = { endpoint: local.endpoint, region: 'us-east-1' };
  writeFileSync(
    cfg,
    `${JSON.stringify(
      {
        name: 'bad-config',
        source: { table: BI_SOURCE, ...local_ },
        target: { table: `bi_never_${caseDirs}`, ...local_ },
        ...FAST,
        ...over,
      },
      null,
      2,
    )}\n`,
  );
  return cfg;
}

/** Every file under `dir` with its content: equal before and after means the command wrote nothing there. */
function filesUnder(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(p, readFileSync(p, 'utf8'));
    }
  };
  walk(dir);
  return out;
}

async function tableNames(): Promise<string[]> {
  return ((await local.client.send(new ListTablesCommand({}))).TableNames ?? []).sort();
}

async function freePort(): Promise<number> {
  const srv = createNetServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** Runs `dynashift run` on a small table until the migration is in sync, then keeps it running for live commands. */
async function liveRun(dir: string, source: string): Promise<{ cfg: string; stop(): Promise<void> }> {
  await sourceTable(source, 20);
  const cfg = configIn(dir, { name: `live-${source}`, source: { table: source, endpoint: local.endpoint, region: 'us-east-1' } });
  const child = spawnCli(['run', '-c', cfg, '--no-progress']);
  const stateDir = join(dir, '.dynashift', `live-${source}`);
  for (const deadline = Date.now() + 60_000; ; ) {
    const st = existsSync(join(stateDir, 'state.json'))
      ? (JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8')) as { phase: string })
      : undefined;
    if (st?.phase === 'in-sync') break;
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the live run did not reach in-sync: ${show(await child.result)}`);
    await sleep(200);
  }
  return {
    cfg,
    stop: async () => {
      child.kill('SIGTERM');
      await child.result;
    },
  };
}

const BAD_INPUT: BadInputCase[] = [
  // --- the endpoint ---
  {
    name: 'a source endpoint where nothing listens is ENDPOINT_UNREACHABLE naming source.endpoint',
    command: ['plan'],
    exit: 1,
    code: 'ENDPOINT_UNREACHABLE',
    setup: (dir) => ({ args: ['-c', configIn(dir, { source: { table: BI_SOURCE, endpoint: closedEndpoint, region: 'us-east-1' } })] }),
    fix: /source\.endpoint/,
    message: /source table/,
  },
  {
    name: 'a target endpoint where nothing listens fails `run` before anything is written, naming target.endpoint',
    command: ['run', '--until-synced', '--no-progress'],
    exit: 1,
    code: 'ENDPOINT_UNREACHABLE',
    setup: (dir) => ({ args: ['-c', configIn(dir, { target: { table: 'bi_dst_refused', endpoint: closedEndpoint, region: 'us-east-1' } })] }),
    fix: /target\.endpoint/,
    message: /target table bi_dst_refused/,
  },
  {
    name: 'an endpoint that answers HTML (not the DynamoDB API) is ENDPOINT_NOT_DYNAMODB naming source.endpoint',
    command: ['plan'],
    exit: 1,
    code: 'ENDPOINT_NOT_DYNAMODB',
    setup: (dir) => ({ args: ['-c', configIn(dir, { source: { table: BI_SOURCE, endpoint: htmlEndpoint, region: 'us-east-1' } })] }),
    fix: /source\.endpoint/,
    message: /HTTP 200/,
  },
  {
    name: '`verify` against an unreachable target is ENDPOINT_UNREACHABLE on the target side',
    command: ['verify'],
    exit: 1,
    code: 'ENDPOINT_UNREACHABLE',
    setup: (dir) => ({ args: ['-c', configIn(dir, { target: { table: 'bi_dst_verify', endpoint: closedEndpoint, region: 'us-east-1' } })] }),
    fix: /target\.endpoint/,
  },
  // --- credentials ---
  {
    name: 'credentials the target endpoint does not recognize are CREDENTIALS_REJECTED on the target side, not the source',
    command: ['plan'],
    exit: 1,
    code: 'CREDENTIALS_REJECTED',
    setup: (dir) => {
      // DynamoDB Local answers UnrecognizedClientException to an access key id with other than letters and digits.
      writeFileSync(
        join(dir, 'aws-credentials'),
        '[good]\naws_access_key_id = goodkey\naws_secret_access_key = x\n\n[bad]\naws_access_key_id = bad_key!\naws_secret_access_key = x\n',
      );
      const cfg = configIn(dir, {
        source: { table: BI_SOURCE, endpoint: local.endpoint, region: 'us-east-1', profile: 'good' },
        target: { table: 'bi_dst_badkey', endpoint: local.endpoint, region: 'us-east-1', profile: 'bad' },
      });
      return { args: ['-c', cfg], env: isolatedEnv(dir) };
    },
    fix: /target\.profile/,
    message: /target table bi_dst_badkey.*UnrecognizedClientException/,
  },
  {
    name: 'no credentials anywhere is CREDENTIALS_MISSING naming source.profile / roleArn',
    command: ['plan'],
    exit: 1,
    code: 'CREDENTIALS_MISSING',
    setup: (dir) => ({
      // 0.0.0.0 is no loopback name, so dynashift offers no placeholder credentials; the request never leaves.
      args: ['-c', configIn(dir, { source: { table: BI_SOURCE, endpoint: 'http://0.0.0.0:9', region: 'eu-west-1' } })],
      env: isolatedEnv(dir),
    }),
    fix: /source\.profile or source\.roleArn/,
  },
  {
    name: 'a profile in neither AWS file is PROFILE_NOT_FOUND naming source.profile',
    command: ['plan'],
    exit: 2,
    code: 'PROFILE_NOT_FOUND',
    setup: (dir) => {
      writeFileSync(join(dir, 'aws-config'), '[profile other]\nregion = eu-west-1\n');
      return {
        args: ['-c', configIn(dir, { source: { table: BI_SOURCE, endpoint: local.endpoint, region: 'us-east-1', profile: 'nope' } })],
        env: isolatedEnv(dir),
      };
    },
    fix: /source\.profile/,
  },
  // --- region ---
  {
    name: 'no region from the config, AWS_REGION, AWS_DEFAULT_REGION or the profile is REGION_MISSING (never a silent us-east-1)',
    command: ['plan'],
    exit: 2,
    code: 'REGION_MISSING',
    setup: (dir) => ({ args: ['-c', configIn(dir, { source: { table: BI_SOURCE } })], env: isolatedEnv(dir) }),
    fix: /source\.region.*AWS_REGION/,
  },
  {
    name: 'a target without a region is REGION_MISSING naming target.region',
    command: ['plan'],
    exit: 2,
    code: 'REGION_MISSING',
    setup: (dir) => ({ args: ['-c', configIn(dir, { target: { table: 'bi_dst_noregion' } })], env: isolatedEnv(dir) }),
    fix: /target\.region/,
  },
  // --- table names ---
  {
    name: 'an invalid source table name is TABLE_NAME_INVALID before any call',
    command: ['plan'],
    exit: 2,
    code: 'TABLE_NAME_INVALID',
    setup: (dir) => ({ args: ['-c', configIn(dir, { source: { table: 'orders table!', endpoint: local.endpoint, region: 'us-east-1' } })] }),
    fix: /source\.table/,
  },
  {
    name: 'an invalid target table name (too short) is TABLE_NAME_INVALID naming target.table',
    command: ['run', '--until-synced', '--no-progress'],
    exit: 2,
    code: 'TABLE_NAME_INVALID',
    setup: (dir) => ({ args: ['-c', configIn(dir, { target: { table: 'ab', endpoint: local.endpoint, region: 'us-east-1' } })] }),
    fix: /target\.table/,
  },
  // --- the state folder ---
  {
    name: 'a stateDir that cannot be created (a path under a file) is STATE_DIR_UNWRITABLE naming stateDir',
    command: ['run', '--until-synced', '--no-progress'],
    exit: 1,
    code: 'STATE_DIR_UNWRITABLE',
    setup: (dir) => {
      // The tests run as root, for whom chmod does not forbid writing; a file in the path stops root too.
      writeFileSync(join(dir, 'not-a-folder'), 'x');
      return { args: ['-c', configIn(dir, { stateDir: './not-a-folder/state' })] };
    },
    fix: /"stateDir"/,
  },
  {
    name: 'a state.json that is not JSON is STATE_CORRUPT',
    command: ['run', '--until-synced', '--no-progress'],
    exit: 1,
    code: 'STATE_CORRUPT',
    setup: (dir) => {
      const cfg = configIn(dir);
      mkdirSync(join(dir, '.dynashift', 'bad-config'), { recursive: true });
      writeFileSync(join(dir, '.dynashift', 'bad-config', 'state.json'), '{"phase": "in-sy');
      return { args: ['-c', cfg] };
    },
    fix: /state folder/,
  },
  {
    name: 'a migration another live process holds is STATE_LOCKED',
    command: ['run', '--until-synced', '--no-progress'],
    exit: 1,
    code: 'STATE_LOCKED',
    setup: (dir) => {
      const cfg = configIn(dir);
      mkdirSync(join(dir, '.dynashift', 'bad-config'), { recursive: true });
      writeFileSync(join(dir, '.dynashift', 'bad-config', 'lock'), JSON.stringify({ pid: process.pid, host: hostname() }));
      return { args: ['-c', cfg] };
    },
    fix: new RegExp(`kill -TERM ${process.pid}`),
  },
  // --- the config file ---
  {
    name: '-c pointing at a folder is CONFIG_NOT_A_FILE and names the config inside it',
    command: ['plan'],
    exit: 2,
    code: 'CONFIG_NOT_A_FILE',
    setup: (dir) => {
      const cfg = configIn(dir);
      return { args: ['-c', dirname(cfg)] };
    },
    fix: /-c .*dynashift\.config\.json/,
  },
  {
    name: 'a missing config file is CONFIG_NOT_FOUND',
    command: ['plan'],
    exit: 2,
    code: 'CONFIG_NOT_FOUND',
    setup: (dir) => ({ args: ['-c', join(dir, 'nope.json')] }),
    fix: /-c FILE/,
  },
  {
    name: 'malformed JSON is CONFIG_INVALID',
    command: ['run', '--until-synced', '--no-progress'],
    exit: 2,
    code: 'CONFIG_INVALID',
    setup: (dir) => {
      writeFileSync(join(dir, 'c.json'), '{ "source": ');
      return { args: ['-c', join(dir, 'c.json')] };
    },
    fix: /JSON syntax/,
  },
  {
    name: 'an unknown field (a typo) is CONFIG_INVALID naming it',
    command: ['plan'],
    exit: 2,
    code: 'CONFIG_INVALID',
    setup: (dir) => ({ args: ['-c', configIn(dir, { backfil: { segments: 2 } })] }),
    fix: /fields named above/,
    message: /backfil/,
  },
  {
    name: 'an invalid field value is CONFIG_INVALID naming its path',
    command: ['run', '--until-synced', '--no-progress'],
    exit: 2,
    code: 'CONFIG_INVALID',
    setup: (dir) => ({ args: ['-c', configIn(dir, { backfill: { segments: 0 } })] }),
    fix: /fields named above/,
    message: /backfill\.segments/,
  },
  {
    name: 'an unknown --backfill strategy is CONFIG_INVALID naming the choices',
    command: ['plan', '--backfill', 'dump'],
    exit: 2,
    code: 'CONFIG_INVALID',
    setup: (dir) => ({ args: ['-c', configIn(dir)] }),
    fix: /--backfill scan, none, touch or export/,
  },
  // --- the transform module ---
  {
    name: 'a transform module that does not exist is TRANSFORM_LOAD_FAILED',
    command: ['run', '--until-synced', '--no-progress'],
    exit: 2,
    code: 'TRANSFORM_LOAD_FAILED',
    setup: (dir) => ({ args: ['-c', configIn(dir, { transform: './missing.mjs' })] }),
    fix: /relative to the config file/,
  },
  {
    name: 'a transform module without a function export is TRANSFORM_LOAD_FAILED',
    command: ['plan'],
    exit: 2,
    code: 'TRANSFORM_LOAD_FAILED',
    setup: (dir) => {
      writeFileSync(join(dir, 'transform.mjs'), 'export const notAFunction = 1;\n');
      return { args: ['-c', configIn(dir, { transform: './transform.mjs' })] };
    },
    fix: /export default function transform/,
  },
  {
    name: 'a transform module that fails to load is TRANSFORM_LOAD_FAILED',
    command: ['plan'],
    exit: 2,
    code: 'TRANSFORM_LOAD_FAILED',
    setup: (dir) => {
      writeFileSync(join(dir, 'transform.mjs'), 'export default function transform(item) { return item; \n');
      return { args: ['-c', configIn(dir, { transform: './transform.mjs' })] };
    },
    fix: /fix the error in/,
  },
  // --- live commands ---
  {
    name: '`finish` before `cutover writes` with no run active is CUTOVER_REFUSED, and the state is left as it was',
    command: ['finish'],
    exit: 2,
    code: 'CUTOVER_REFUSED',
    setup: async (dir) => {
      const live = await liveRun(dir, 'bi_finish_src');
      await live.stop();
      return { args: ['-c', live.cfg] };
    },
    fix: /cutover writes.*--force/,
  },
  {
    name: '`cutover writes` straight from in-sync is CUTOVER_REFUSED, naming `cutover reads`',
    command: ['cutover', 'writes'],
    exit: 2,
    code: 'CUTOVER_REFUSED',
    setup: async (dir) => {
      const live = await liveRun(dir, 'bi_writes_src');
      return { args: ['-c', live.cfg], live };
    },
    fix: /cutover reads/,
    checkNothingWritten: false,
  },
];

describe('bad configuration and environment: exit code, [CODE], a fix naming the setting, and nothing written', () => {
  let html: HttpServer | undefined;
  before(async () => {
    html = createHttpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html><body>Welcome to nginx!</body></html>');
    });
    await new Promise<void>((r) => html!.listen(0, '127.0.0.1', r));
    htmlEndpoint = `http://127.0.0.1:${(html.address() as AddressInfo).port}`;
    closedEndpoint = `http://127.0.0.1:${await freePort()}`;
    await sourceTable(BI_SOURCE, 30);
  });
  after(() => new Promise<void>((r) => (html ? html.close(() => r()) : r())));

  for (const c of BAD_INPUT) {
    test(c.name, { timeout: 120_000 }, async () => {
      const dir = caseDir();
      const scenario = await c.setup(dir);
      const filesBefore = filesUnder(dir);
      const tablesBefore = await tableNames();
      let phaseBefore: string | undefined;
      const statePath = join(dir, '.dynashift');
      const states = (): string[] =>
        existsSync(statePath)
          ? [...filesUnder(statePath).entries()].filter(([p]) => p.endsWith('state.json')).map(([, t]) => (JSON.parse(t) as { phase: string }).phase)
          : [];
      if (c.checkNothingWritten === false) phaseBefore = states().join(',');
      let r: CliResult;
      try {
        r = await runCli([...c.command, ...scenario.args], { timeoutMs: 100_000, ...(scenario.env ? { env: scenario.env } : {}) });
      } finally {
        if (c.checkNothingWritten === false) assert.equal(states().join(','), phaseBefore, 'the refused command must leave the phase as it was');
        await scenario.live?.stop();
      }
      assert.equal(r.code, c.exit, `exit code:\n${show(r)}`);
      assert.match(r.stderr, new RegExp(`\\[${c.code}\\]`), `expected [${c.code}] on stderr:\n${show(r)}`);
      const fix = r.stderr.split('\n').find((l) => /^\s*fix: /.test(l));
      assert.ok(fix, `expected a fix: line on stderr:\n${show(r)}`);
      assert.match(fix, c.fix, `the fix should name the setting to change:\n${show(r)}`);
      if (c.message) assert.match(r.stderr, c.message, show(r));
      assert.doesNotMatch(r.stderr, /\n\s+at .*\(/, `no stack trace for a bad input:\n${show(r)}`);
      if (c.checkNothingWritten !== false) {
        assert.deepEqual(filesUnder(dir), filesBefore, 'no file (state, lock, dead letters, report) may be written or changed');
        assert.deepEqual(await tableNames(), tablesBefore, 'no table may be created or deleted');
      }
    });
  }

  test('with --log-format json, a failing run prints only JSON lines on stderr, the error with its code and fix', async () => {
    const dir = caseDir();
    const cfg = configIn(dir, { target: { table: 'bi_dst_json', endpoint: closedEndpoint, region: 'us-east-1' } });
    const r = await runCli(['run', '-c', cfg, '--until-synced', '--log-format', 'json'], { timeoutMs: 100_000 });
    assert.equal(r.code, 1, show(r));
    const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
    assert.ok(lines.length > 0, show(r));
    const records = lines.map((l) => {
      try {
        return JSON.parse(l) as { code?: string; fix?: string; side?: string };
      } catch {
        assert.fail(`a stderr line is not JSON: ${l}\n${show(r)}`);
      }
    });
    const error = records.find((x) => x.code === 'ENDPOINT_UNREACHABLE');
    assert.ok(error, show(r));
    assert.equal(error.side, 'target');
    assert.match(error.fix ?? '', /target\.endpoint/);
    assert.equal(r.stdout.trim(), '', 'run prints nothing on stdout');
  });

  test(
    'segments: 1000000 on a 504-item table is capped (and the plan says so): the run keeps a small state file, and JSON logs stay JSON',
    { timeout: 200_000 },
    async () => {
      const dir = caseDir();
      await sourceTable('bi_segments_src', 504);
      const cfg = configIn(dir, {
        name: 'segments',
        source: { table: 'bi_segments_src', endpoint: local.endpoint, region: 'us-east-1' },
        target: { table: 'bi_segments_dst', endpoint: local.endpoint, region: 'us-east-1' },
        backfill: { segments: 1_000_000, concurrency: 2 },
      });
      const planned = await runCli(['plan', '-c', cfg, '--json'], { timeoutMs: 100_000 });
      assert.equal(planned.code, 0, show(planned));
      const plan = JSON.parse(planned.stdout) as { strategy: { segments: number; segmentsConfigured?: number }; notes: string[] };
      assert.equal(plan.strategy.segmentsConfigured, 1_000_000);
      assert.equal(plan.strategy.segments, 1, 'one page of 1000 items holds the whole table');
      assert.ok(
        plan.notes.some((n) => /backfill\.segments 1,000,000 capped at 1/.test(n)),
        JSON.stringify(plan.notes),
      );
      const text = await runCli(['plan', '-c', cfg], { timeoutMs: 100_000 });
      assert.match(text.stdout, /1 segments — capped from backfill\.segments 1,000,000/, show(text));

      // With JSON logs, progress comes as JSON records too: nothing plain slips onto stderr.
      const r = await runCli(['run', '-c', cfg, '--until-synced', '--log-format', 'json'], { timeoutMs: 120_000 });
      assert.equal(r.code, 0, show(r));
      const records = r.stderr
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => {
          try {
            return JSON.parse(l) as { msg?: string };
          } catch {
            return assert.fail(`a stderr line is not JSON: ${l}`);
          }
        });
      assert.ok(
        records.some((x) => x.msg === 'progress'),
        `progress is logged as JSON: ${show(r)}`,
      );
      const statePath = join(dir, '.dynashift', 'segments', 'state.json');
      const state = JSON.parse(readFileSync(statePath, 'utf8')) as {
        sources: Record<string, { backfill: { segments: number; partitions: object; itemsWritten: number } }>;
      };
      const backfill = state.sources['source']!.backfill;
      assert.equal(backfill.segments, 1);
      assert.equal(Object.keys(backfill.partitions).length, 1);
      assert.equal(backfill.itemsWritten, 504);
      assert.ok(statSync(statePath).size < 100_000, `state.json is ${statSync(statePath).size} bytes`);
      const diff = compareTables(await scanAll(local.client, 'bi_segments_src'), await scanAll(local.client, 'bi_segments_dst'), ['id']);
      assert.ok(isEmptyDiff(diff), formatDiff(diff));
    },
  );

  test('positive control: no region on a loopback endpoint (DynamoDB Local) plans fine, as does AWS_DEFAULT_REGION alone', async () => {
    const dir = caseDir();
    const bare = { table: BI_SOURCE, endpoint: local.endpoint };
    const loopback = await runCli(['plan', '-c', configIn(dir, { source: bare, target: { table: 'bi_dst_ok', endpoint: local.endpoint } })], {
      env: isolatedEnv(dir),
      timeoutMs: 100_000,
    });
    assert.equal(loopback.code, 0, show(loopback));
    const dir2 = caseDir();
    const env = await runCli(['plan', '-c', configIn(dir2, { source: bare, target: { table: 'bi_dst_ok', endpoint: local.endpoint } })], {
      env: isolatedEnv(dir2, { AWS_DEFAULT_REGION: 'eu-west-1' }),
      timeoutMs: 100_000,
    });
    assert.equal(env.code, 0, show(env));
  });
});

describe('bad input is halted on or dead-lettered, never dropped', () => {
  test('a transform that throws for some items: halt by default, then --on-error=dead-letter lands the rest exactly', async () => {
    const [source, target] = ['bad_tx_src', 'bad_tx_dst'];
    await sourceTable(source, 300);
    const m = writeMigration('throwing-transform', source, target, THROWING_TRANSFORM);
    const sourceItems = await scanAll(local.client, source);
    const failing = failingIds(sourceItems);

    // 1. Default mode: the run halts and records what failed.
    const halted = await run(m);
    assertHalted(halted, 'TRANSFORM_FAILED', m);
    assert.match(halted.stderr, /boom item-\d+7/);
    const first = readDeadLetters(m);
    assert.ok(first.length > 0, 'the halted run should have written dead letters');
    for (const d of first) {
      const id = idOf(d.sourceKey);
      assert.ok(failing.has(id), `dead letter for an item that should not fail: ${JSON.stringify(d.sourceKey)}`);
      assert.equal(d.error.code, 'TRANSFORM_FAILED');
      assert.ok(d.error.message.includes(`boom ${id}`), `the dead letter should carry the transform's error: ${d.error.message}`);
      assert.equal(d.source, 'source');
    }
    const afterHalt = await status(m);
    assert.ok(afterHalt.deadLetters > 0, JSON.stringify(afterHalt));
    assert.equal(afterHalt.safeToCutOver, false);
    assert.equal(afterHalt.runner?.halt?.code, 'TRANSFORM_FAILED', JSON.stringify(afterHalt));
    assert.match(afterHalt.reason, /halted/);

    // 2. Dead-letter mode, resuming the halted migration: it completes, and nothing is lost.
    const done = await run(m, '--on-error=dead-letter');
    assert.equal(done.code, 0, show(done));
    await assertLandedExceptFailing(m, source, target, sourceItems, failing);
    const after = await status(m);
    assert.ok(after.deadLetters >= failing.size, `status should count the dead letters: ${JSON.stringify(after)}`);
    assert.equal(after.safeToCutOver, false);
  });

  test('with --on-error=dead-letter from the start, every other item lands exactly and dead letters block the cut-over', async () => {
    const [source, target] = ['bad_txdl_src', 'bad_txdl_dst'];
    await sourceTable(source, 300);
    const m = writeMigration('throwing-transform-dl', source, target, THROWING_TRANSFORM);
    const sourceItems = await scanAll(local.client, source);
    const failing = failingIds(sourceItems);

    const done = await run(m, '--on-error=dead-letter');
    assert.equal(done.code, 0, show(done));
    assert.ok(done.stderr.includes(m.deadLetterFile), `the run should say where the dead letters are:\n${show(done)}`);
    await assertLandedExceptFailing(m, source, target, sourceItems, failing);

    const after = await status(m);
    assert.ok(after.deadLetters >= failing.size, `status should count the dead letters: ${JSON.stringify(after)}`);
    assert.equal(after.deadLetterFile, m.deadLetterFile);
    assert.equal(after.safeToCutOver, false);

    // Even with a live run caught up with the stream, dead letters keep the migration from being safe to cut over.
    const live = spawnCli(['run', '-c', m.cfg, '--on-error=dead-letter', '--no-progress']);
    try {
      let seen: StatusJson | undefined;
      for (const deadline = Date.now() + 30_000; Date.now() < deadline; ) {
        seen = await status(m);
        if ((seen.running && seen.caughtUp) || live.exitCode !== null) break;
        await sleep(250);
      }
      assert.ok(seen?.running && seen.caughtUp, `the live run should catch up: ${JSON.stringify(seen)}`);
      assert.ok(seen.deadLetters > 0);
      assert.equal(seen.safeToCutOver, false, `dead letters must block the cut-over: ${JSON.stringify(seen)}`);
      assert.match(seen.reason, /dead-letter/);
    } finally {
      live.kill('SIGTERM');
    }
    const stopped = await live.result;
    assert.equal(stopped.code, 0, `the live run should stop cleanly on SIGTERM:\n${show(stopped)}`);
  });

  test('an item the target rejects (> 400 KB): ITEM_REJECTED by default, dead-lettered alone with --on-error=dead-letter', async () => {
    const [source, target] = ['bad_big_src', 'bad_big_dst'];
    await sourceTable(source, 200);
    const bigId = 'item-000042';
    const m = writeMigration(
      'oversized-item',
      source,
      target,
      [
        'export default function transform(item) {',
        `  if (item.id === '${bigId}') return { ...item, blob: 'x'.repeat(420 * 1024) };`,
        '  return item;',
        '}',
        '',
      ].join('\n'),
    );
    const sourceItems = await scanAll(local.client, source);

    const halted = await run(m);
    assertHalted(halted, 'ITEM_REJECTED', m);
    assert.ok(halted.stderr.includes(bigId), `the error should name the rejected item:\n${show(halted)}`);
    const first = readDeadLetters(m);
    assert.ok(first.length > 0, 'the rejected item should be in the dead-letter file');
    for (const d of first) {
      assert.equal(idOf(d.sourceKey), bigId);
      assert.equal(d.target, 'target');
      assert.equal(d.error.code, 'ValidationException', `the service's error should be recorded: ${JSON.stringify(d.error)}`);
      assert.match(d.error.message, /size/i);
    }
    const afterHalt = await status(m);
    assert.ok(afterHalt.deadLetters > 0);
    assert.equal(afterHalt.safeToCutOver, false);
    assert.equal(afterHalt.runner?.halt?.code, 'ITEM_REJECTED');

    const done = await run(m, '--on-error=dead-letter');
    assert.equal(done.code, 0, show(done));
    const expected = sourceItems.filter((i) => i['id']!.S !== bigId);
    const diff = compareTables(expected, await scanAll(local.client, target), ['id']);
    assert.ok(isEmptyDiff(diff), `every other item should land unchanged:\n${formatDiff(diff)}`);
    const letters = readDeadLetters(m);
    assert.deepEqual([...new Set(letters.map((d) => idOf(d.sourceKey)))], [bigId], 'the dead-letter file holds exactly that item');
    // The dead-letter run meets the item again in the backfill (the halted page is re-read) and records nothing new
    // for it; as the seeding is recent, it may meet it once more when it replays the item's INSERT from the stream.
    assert.equal(
      letters.filter((d) => d.stage === 'backfill').length,
      1,
      `the backfill failure is recorded once: ${JSON.stringify(letters.map((d) => d.stage))}`,
    );
    for (const d of letters) {
      assert.equal(d.error.code, 'ValidationException');
      if (d.stage === 'stream') assert.ok(d.sequenceNumber);
    }

    const after = await status(m);
    assert.ok(after.deadLetters > 0);
    assert.equal(after.safeToCutOver, false);
  });

  test('a stream change that fails the transform during catch-up halts without moving the checkpoint past it', async () => {
    const [source, target] = ['bad_stream_src', 'bad_stream_dst'];
    await sourceTable(source, 60);
    const m = writeMigration(
      'stream-failure',
      source,
      target,
      ['export default function transform(item) {', "  if (item.explode) throw new Error('exploded ' + item.id);", '  return item;', '}', ''].join(
        '\n',
      ),
    );

    // The backfill is clean; the bad item arrives only through the stream.
    const synced = await run(m);
    assert.equal(synced.code, 0, show(synced));
    assert.deepEqual(readDeadLetters(m), []);
    const before = checkpoints(m);

    const bad: Item = { id: { S: 'late-bad' }, explode: { BOOL: true } };
    const good: Item = { id: { S: 'late-good' }, v: { N: '1' } };
    await local.client.send(new PutItemCommand({ TableName: source, Item: bad }));
    await local.client.send(new PutItemCommand({ TableName: source, Item: good }));

    const halted = await run(m);
    assertHalted(halted, 'TRANSFORM_FAILED', m);
    assert.match(halted.stderr, /exploded late-bad/);
    const letters = readDeadLetters(m);
    assert.equal(letters.length, 1, `exactly the failing change is dead-lettered: ${JSON.stringify(letters)}`);
    const letter = letters[0]!;
    assert.equal(idOf(letter.sourceKey), 'late-bad');
    assert.equal(letter.stage, 'stream');
    assert.match(letter.error.message, /exploded late-bad/);
    assert.ok(letter.sequenceNumber && /^\d+$/.test(letter.sequenceNumber), `the dead letter should name the record: ${JSON.stringify(letter)}`);
    const failedAt = BigInt(letter.sequenceNumber);
    const held = checkpoints(m);
    assert.ok(
      held.every((c) => c < failedAt),
      `the checkpoint (${held.join(',')}) must stay before the failed record ${failedAt}`,
    );
    assert.ok(
      held.every((c, i) => c >= (before[i] ?? 0n)),
      'the checkpoint never moves backwards',
    );

    // The same command meets the same record again: the failure was not skipped.
    const again = await run(m);
    assertHalted(again, 'TRANSFORM_FAILED', m);
    const lettersAgain = readDeadLetters(m);
    assert.deepEqual(lettersAgain, letters, 'the rerun meets the same record again, and records it once: no second entry on resume');
    assert.ok(checkpoints(m).every((c) => c < failedAt));
    const afterHalt = await status(m);
    assert.ok(afterHalt.deadLetters > 0);
    assert.equal(afterHalt.safeToCutOver, false);
    assert.equal(afterHalt.runner?.halt?.code, 'TRANSFORM_FAILED');

    // Setting it aside lets the catch-up proceed past it.
    const done = await run(m, '--on-error=dead-letter');
    assert.equal(done.code, 0, show(done));
    assert.ok(
      checkpoints(m).some((c) => c >= failedAt),
      'the checkpoint moves past the dead-lettered record',
    );
    const expected = (await scanAll(local.client, source)).filter((i) => i['id']!.S !== 'late-bad');
    const diff = compareTables(expected, await scanAll(local.client, target), ['id']);
    assert.ok(isEmptyDiff(diff), `the target should hold every change but the failed one:\n${formatDiff(diff)}`);
    const final = readDeadLetters(m);
    assert.ok(
      final.every((d) => idOf(d.sourceKey) === 'late-bad' && d.sequenceNumber === letter.sequenceNumber),
      JSON.stringify(final),
    );
    const after = await status(m);
    assert.ok(after.deadLetters > 0);
    assert.equal(after.safeToCutOver, false);
  });

  test('a transient bad change (written, then deleted) halts the catch-up too, though no scan can see it', async () => {
    // The planner samples the table; a change that is no longer in the table can only be met in the stream.
    const [source, target] = ['bad_transient_src', 'bad_transient_dst'];
    await sourceTable(source, 60);
    const m = writeMigration(
      'transient-failure',
      source,
      target,
      ['export default function transform(item) {', "  if (item.explode) throw new Error('exploded ' + item.id);", '  return item;', '}', ''].join(
        '\n',
      ),
    );
    const synced = await run(m);
    assert.equal(synced.code, 0, show(synced));

    await local.client.send(new PutItemCommand({ TableName: source, Item: { id: { S: 'brief-bad' }, explode: { BOOL: true } } }));
    await local.client.send(new DeleteItemCommand({ TableName: source, Key: { id: { S: 'brief-bad' } } }));

    const halted = await run(m);
    assertHalted(halted, 'TRANSFORM_FAILED', m);
    const letters = readDeadLetters(m);
    assert.ok(
      letters.length >= 1 && letters.every((d) => idOf(d.sourceKey) === 'brief-bad' && d.stage === 'stream' && d.sequenceNumber),
      JSON.stringify(letters),
    );
    const firstFailed = letters.map((d) => BigInt(d.sequenceNumber!)).reduce((a, b) => (a < b ? a : b));
    assert.ok(
      checkpoints(m).every((c) => c < firstFailed),
      'the checkpoint must stay before the first failed record',
    );

    const again = await run(m);
    assertHalted(again, 'TRANSFORM_FAILED', m);

    const done = await run(m, '--on-error=dead-letter');
    assert.equal(done.code, 0, show(done));
    const diff = compareTables(await scanAll(local.client, source), await scanAll(local.client, target), ['id']);
    assert.ok(isEmptyDiff(diff), formatDiff(diff));
    const st = await status(m);
    assert.ok(st.deadLetters > 0);
    assert.equal(st.safeToCutOver, false);
    assert.equal(dirname(st.deadLetterFile), dirname(m.statePath));
  });
});
