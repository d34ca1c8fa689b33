import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/load-config.js';
import { DynashiftError, type ErrorCode } from '../../src/errors.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const definePath = join(repoRoot, 'src/config/define.ts');

const root = mkdtempSync(join(tmpdir(), 'dynashift-config-'));
after(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
/** A fresh folder holding the given files; returns the path of the first one. */
function files(entries: Record<string, string | object>): string {
  const dir = join(root, `case${n++}`);
  mkdirSync(dir, { recursive: true });
  let first = '';
  for (const [name, content] of Object.entries(entries)) {
    const p = join(dir, name);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
    if (!first) first = p;
  }
  return first;
}

/** One JSON config in a fresh folder. */
const files_ = (config: object): string => files({ 'c.json': config });

const minimal = { source: { table: 'Orders' }, target: { table: 'OrdersV2' } };

async function rejectsWith(p: Promise<unknown>, code: ErrorCode, message?: RegExp, exitCode = 2): Promise<DynashiftError> {
  let caught: unknown;
  await assert.rejects(p, (err: unknown) => {
    caught = err;
    return true;
  });
  assert.ok(caught instanceof DynashiftError, `expected DynashiftError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.equal(caught.exitCode, exitCode);
  if (message) assert.match(caught.message, message);
  return caught;
}

describe('loadConfig: JSON', () => {
  test('a minimal JSON config gets every default filled in', async () => {
    const path = files({ 'dynashift.json': minimal });
    const cfg = await loadConfig(path);
    assert.equal(cfg.configPath, path);
    assert.equal(cfg.name, 'Orders-to-OrdersV2');
    assert.deepEqual(cfg.sources, { source: { table: 'Orders' } });
    assert.deepEqual(cfg.targets, { target: { table: 'OrdersV2' } });
    assert.equal(cfg.singleTarget, 'target');
    assert.equal(cfg.transform, undefined);
    assert.equal(cfg.transformSource, undefined);
    assert.deepEqual(cfg.backfill, {
      strategy: 'scan',
      segments: 16,
      concurrency: 8,
      pageSize: 1000,
      readShare: 0.5,
      consistentRead: true,
      skipExpired: false,
    });
    assert.deepEqual(cfg.stream, { pollIntervalMs: 250, discoveryIntervalMs: 10_000, duringBackfill: true });
    assert.deepEqual(cfg.write, { concurrency: 16 });
    assert.equal(cfg.onError, 'halt');
  });

  test('stateDir defaults to .dynashift next to the config file, in a folder named after the migration', async () => {
    const path = files({ 'conf/m.json': minimal });
    const cfg = await loadConfig(path);
    assert.equal(cfg.stateDir, join(dirname(path), '.dynashift', 'Orders-to-OrdersV2'));
  });

  test('a relative stateDir is resolved against the config file, not the working directory', async () => {
    const path = files({ 'sub/m.json': { ...minimal, name: 'my-migration', stateDir: '../state' } });
    const cfg = await loadConfig(path);
    assert.equal(cfg.name, 'my-migration');
    assert.equal(cfg.stateDir, join(dirname(path), '..', 'state', 'my-migration'));
  });

  test('a relative config path is resolved to an absolute configPath', async () => {
    const path = files({ 'rel.json': minimal });
    const cfg = await loadConfig(relative(process.cwd(), path));
    assert.equal(cfg.configPath, path);
  });

  test('given fields override the defaults one by one; the others keep their defaults', async () => {
    const path = files({
      'c.json': {
        ...minimal,
        backfill: { segments: 4, readShare: 0.25, maxReadUnitsPerSecond: 500 },
        stream: { pollIntervalMs: 500 },
        write: { maxWriteUnitsPerSecond: 1000 },
        onError: 'dead-letter',
      },
    });
    const cfg = await loadConfig(path);
    assert.deepEqual(cfg.backfill, {
      strategy: 'scan',
      segments: 4,
      concurrency: 8,
      pageSize: 1000,
      readShare: 0.25,
      consistentRead: true,
      skipExpired: false,
      maxReadUnitsPerSecond: 500,
    });
    assert.deepEqual(cfg.stream, { pollIntervalMs: 500, discoveryIntervalMs: 10_000, duringBackfill: true });
    assert.deepEqual(cfg.write, { concurrency: 16, maxWriteUnitsPerSecond: 1000 });
    assert.equal(cfg.onError, 'dead-letter');
  });

  test('the default name is sanitized to a valid folder name and joins several tables with +', async () => {
    const path = files({
      'c.json': {
        sources: { a: { table: 'Aaa' }, b: { table: 'Bbb' } },
        targets: { x: { table: 'Xxx' } },
        transform: './t.mjs',
      },
      't.mjs': 'export default (item) => ({ x: item });\n',
    });
    const cfg = await loadConfig(path);
    assert.equal(cfg.name, 'Aaa+Bbb-to-Xxx'.replace(/[^A-Za-z0-9._-]/g, '_'));
    assert.match(cfg.name, /^[A-Za-z0-9._-]+$/);
    assert.deepEqual(Object.keys(cfg.sources), ['a', 'b']);
    assert.equal(cfg.singleTarget, undefined);
  });

  test('the $schema field is accepted', async () => {
    const path = files({ 'c.json': { $schema: './schema/dynashift.schema.json', ...minimal } });
    const cfg = await loadConfig(path);
    assert.equal(cfg.name, 'Orders-to-OrdersV2');
  });

  test('target.create is kept as given', async () => {
    const create = {
      keySchema: { partitionKey: { name: 'customer', type: 'S' }, sortKey: { name: 'id', type: 'S' } },
      billingMode: 'PAY_PER_REQUEST',
      ttlAttribute: null,
    };
    const path = files({ 'c.json': { source: { table: 'Aaa' }, target: { table: 'Bbb', create } } });
    const cfg = await loadConfig(path);
    assert.deepEqual((cfg.targets.target as { create?: unknown }).create, create);
  });
});

describe('loadConfig: transform modules', () => {
  test('a transform path is resolved relative to the config file and its default export is loaded', async () => {
    const path = files({
      'conf/c.json': { ...minimal, transform: '../lib/transform.ts' },
      'lib/transform.ts': 'export default function (item: Record<string, unknown>) { return { ...item, tagged: "yes" }; }\n',
    });
    const cfg = await loadConfig(path);
    assert.equal(typeof cfg.transform, 'function');
    assert.equal(cfg.transformSource, resolve(dirname(path), '../lib/transform.ts'));
    assert.deepEqual(cfg.transform!({ id: 'a' }, { source: 'source' }), { id: 'a', tagged: 'yes' });
  });

  test('a module exporting a named `transform` is loaded', async () => {
    const path = files({
      'c.json': { ...minimal, transform: './t.ts' },
      't.ts': 'export const other = 1;\nexport function transform(item: Record<string, unknown>) { return { ...item, named: true }; }\n',
    });
    const cfg = await loadConfig(path);
    assert.deepEqual(cfg.transform!({ id: 'a' }, { source: 'source' }), { id: 'a', named: true });
  });

  test('a missing transform module is TRANSFORM_LOAD_FAILED naming the resolved path', async () => {
    const path = files({ 'c.json': { ...minimal, transform: './nope.ts' } });
    await rejectsWith(loadConfig(path), 'TRANSFORM_LOAD_FAILED', new RegExp(join(dirname(path), 'nope.ts').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  });

  test('a module without a function export is TRANSFORM_LOAD_FAILED', async () => {
    const path = files({ 'c.json': { ...minimal, transform: './t.ts' }, 't.ts': 'export const transform = 42;\nexport const x = 1;\n' });
    await rejectsWith(loadConfig(path), 'TRANSFORM_LOAD_FAILED', /no transform function/);
  });

  test('a module that fails to load is TRANSFORM_LOAD_FAILED with the cause', async () => {
    const path = files({
      'c.json': { ...minimal, transform: './t.ts' },
      't.ts': 'throw new Error("module init exploded");\nexport default () => null;\n',
    });
    const err = await rejectsWith(loadConfig(path), 'TRANSFORM_LOAD_FAILED', /module init exploded/);
    assert.ok(err.cause !== undefined);
  });
});

describe('loadConfig: TypeScript configs', () => {
  test('a TS config using defineMigration with an inline transform is loaded', async () => {
    const path = files({
      'dynashift.config.ts': [
        `import { defineMigration } from ${JSON.stringify(definePath)};`,
        'export default defineMigration({',
        "  source: { table: 'Orders', region: 'eu-west-1' },",
        "  target: { table: 'OrdersByCustomer' },",
        '  backfill: { segments: 32 },',
        "  transform: (item) => (item.status === 'deleted' ? null : { ...item, migrated: true }),",
        '});',
      ].join('\n'),
    });
    const cfg = await loadConfig(path);
    assert.equal(cfg.transformSource, 'inline');
    assert.equal(cfg.backfill.segments, 32);
    assert.equal(cfg.backfill.concurrency, 8);
    assert.deepEqual(cfg.sources, { source: { table: 'Orders', region: 'eu-west-1' } });
    assert.equal(cfg.transform!({ status: 'deleted' }, { source: 'source' }), null);
    assert.deepEqual(cfg.transform!({ status: 'open' }, { source: 'source' }), { status: 'open', migrated: true });
  });

  test('a TS config exporting a plain object is loaded, with stateDir next to it', async () => {
    const path = files({ 'plain.config.ts': `export default ${JSON.stringify({ ...minimal, name: 'plain' })};\n` });
    const cfg = await loadConfig(path);
    assert.equal(cfg.name, 'plain');
    assert.equal(cfg.stateDir, join(dirname(path), '.dynashift', 'plain'));
    assert.equal(cfg.transform, undefined);
  });

  test('a TS config may name its transform by module path, resolved relative to the config', async () => {
    const path = files({
      'cfg/dynashift.config.ts': `export default ${JSON.stringify({ ...minimal, transform: './t/x.ts' })};\n`,
      'cfg/t/x.ts': 'export default (item: object) => item;\n',
    });
    const cfg = await loadConfig(path);
    assert.equal(cfg.transformSource, join(dirname(path), 't', 'x.ts'));
    assert.equal(typeof cfg.transform, 'function');
  });

  test('a TS config that throws while loading is CONFIG_INVALID with the error', async () => {
    const path = files({ 'bad.config.ts': 'throw new Error("config exploded");\nexport default {};\n' });
    await rejectsWith(loadConfig(path), 'CONFIG_INVALID', /config exploded/);
  });

  test('a TS config whose transform is neither a function nor a path is CONFIG_INVALID naming transform', async () => {
    const path = files({ 'c.config.ts': `export default ${JSON.stringify({ ...minimal, transform: 42 })};\n` });
    await rejectsWith(loadConfig(path), 'CONFIG_INVALID', /transform/);
  });
});

describe('loadConfig: errors', () => {
  test("each target kind takes its own settings: another kind's sub-config is refused, naming the field", async () => {
    const pg = {
      kind: 'postgres',
      table: 'orders',
      keySchema: { partitionKey: { name: 'id', type: 'S' } },
      postgres: { schema: 'sales' },
      create: false,
    };
    const files = { kind: 'files', table: 'exp', files: { uri: './out' } };
    const ddb = { table: 'Bbb', maxBatchSize: 10, create: { billingMode: 'PAY_PER_REQUEST' } };
    for (const target of [pg, files, ddb]) {
      const cfg = await loadConfig(files_({ source: { table: 'Aaa' }, target }));
      assert.deepEqual(cfg.targets.target, target);
    }
    await rejectsWith(loadConfig(files_({ source: { table: 'Aaa' }, target: { ...ddb, postgres: { schema: 'x' } } })), 'CONFIG_INVALID', /postgres/);
    await rejectsWith(loadConfig(files_({ source: { table: 'Aaa' }, target: { ...files, maxBatchSize: 5 } })), 'CONFIG_INVALID', /maxBatchSize/);
    await rejectsWith(loadConfig(files_({ source: { table: 'Aaa' }, target: { ...pg, files: { uri: './out' } } })), 'CONFIG_INVALID', /files/);
    await rejectsWith(loadConfig(files_({ source: { table: 'Aaa' }, target: { table: 'Bbb', kind: 'mysql' } })), 'CONFIG_INVALID', /kind/);
  });

  test('a missing config file is CONFIG_NOT_FOUND with exit code 2', async () => {
    await rejectsWith(loadConfig(join(root, 'does-not-exist.json')), 'CONFIG_NOT_FOUND', /does-not-exist\.json/);
  });

  test('malformed JSON is CONFIG_INVALID', async () => {
    const path = files({ 'c.json': '{ "source": { "table": "A" }, ' });
    await rejectsWith(loadConfig(path), 'CONFIG_INVALID', /not valid JSON/);
  });

  test('an invalid field is CONFIG_INVALID whose message names the field path', async () => {
    const path = files({ 'c.json': { ...minimal, backfill: { segments: 0 } } });
    const err = await rejectsWith(loadConfig(path), 'CONFIG_INVALID', /backfill\.segments/);
    assert.ok(Array.isArray(err.details?.issues));
  });

  test('a field of the wrong type is CONFIG_INVALID naming the field path', async () => {
    await rejectsWith(loadConfig(files({ 'c.json': { ...minimal, backfill: { segments: '16' } } })), 'CONFIG_INVALID', /backfill\.segments/);
    await rejectsWith(loadConfig(files({ 'c.json': { ...minimal, backfill: { segments: 1.5 } } })), 'CONFIG_INVALID', /backfill\.segments/);
    await rejectsWith(loadConfig(files({ 'c.json': { ...minimal, write: { concurrency: 0 } } })), 'CONFIG_INVALID', /write\.concurrency/);
    await rejectsWith(
      loadConfig(files({ 'c.json': { ...minimal, target: { table: 'B', maxBatchSize: 26 } } })),
      'CONFIG_INVALID',
      /target\.maxBatchSize/,
    );
    await rejectsWith(loadConfig(files({ 'c.json': { ...minimal, source: { table: '' } } })), 'CONFIG_INVALID', /source\.table/);
    await rejectsWith(loadConfig(files({ 'c.json': { ...minimal, onError: 'ignore' } })), 'CONFIG_INVALID', /onError/);
    await rejectsWith(loadConfig(files({ 'c.json': { ...minimal, name: 'has space' } })), 'CONFIG_INVALID', /name/);
    await rejectsWith(
      loadConfig(files({ 'c.json': { ...minimal, source: { table: 'A', roleArn: 'not-an-arn' } } })),
      'CONFIG_INVALID',
      /source\.roleArn/,
    );
    await rejectsWith(
      loadConfig(files({ 'c.json': { ...minimal, source: { table: 'A', endpoint: 'localhost' } } })),
      'CONFIG_INVALID',
      /source\.endpoint/,
    );
    await rejectsWith(
      loadConfig(files({ 'c.json': { ...minimal, target: { table: 'B', create: { keySchema: { partitionKey: { name: 'pk', type: 'X' } } } } } })),
      // zod reports a failure inside the `create` union at the union itself, so only `target.create` is named.
      'CONFIG_INVALID',
      /target\.create/,
    );
  });

  test('a config that is not an object is CONFIG_INVALID', async () => {
    await rejectsWith(loadConfig(files({ 'c.json': '[]' })), 'CONFIG_INVALID');
  });

  test('an unknown top-level field is rejected, naming it', async () => {
    const path = files({ 'c.json': { ...minimal, segments: 4 } });
    await rejectsWith(loadConfig(path), 'CONFIG_INVALID', /segments/);
  });

  test('a TS config with an unknown top-level field is rejected too', async () => {
    const path = files({ 'c.config.ts': `export default ${JSON.stringify({ ...minimal, tragets: {} })};\n` });
    await rejectsWith(loadConfig(path), 'CONFIG_INVALID', /tragets/);
  });

  test('an unknown nested field (a typo such as backfill.segmnts) is rejected, not silently ignored', async () => {
    // A silently dropped typo leaves the default in force (16 segments, the source key schema, …) without a word.
    await rejectsWith(loadConfig(files({ 'c.json': { ...minimal, backfill: { segmnts: 4 } } })), 'CONFIG_INVALID', /segmnts/);
    await rejectsWith(
      loadConfig(
        files({ 'c.json': { source: { table: 'A' }, target: { table: 'B', create: { keySchem: { partitionKey: { name: 'x', type: 'S' } } } } } }),
      ),
      'CONFIG_INVALID',
      /keySchem/,
    );
  });

  test('source and sources together are rejected', async () => {
    const path = files({ 'c.json': { ...minimal, sources: { a: { table: 'A' } } } });
    await rejectsWith(loadConfig(path), 'CONFIG_INVALID', /"source" or "sources"/);
  });

  test('target and targets together are rejected', async () => {
    const path = files({ 'c.json': { ...minimal, targets: { a: { table: 'A' } }, transform: './t.mjs' }, 't.mjs': 'export default (i) => i;\n' });
    await rejectsWith(loadConfig(path), 'CONFIG_INVALID', /"target" or "targets"/);
  });

  test('a config without source or without target is rejected, naming what is missing', async () => {
    await rejectsWith(loadConfig(files({ 'c.json': { target: { table: 'B' } } })), 'CONFIG_INVALID', /"source" is required/);
    await rejectsWith(loadConfig(files({ 'c.json': { source: { table: 'A' } } })), 'CONFIG_INVALID', /"target" is required/);
  });

  test('targets (a split) without a transform are rejected', async () => {
    const path = files({ 'c.json': { source: { table: 'A' }, targets: { x: { table: 'X' }, y: { table: 'Y' } } } });
    await rejectsWith(loadConfig(path), 'CONFIG_INVALID', /needs a "transform"/);
  });

  test('a config path that is a folder is CONFIG_NOT_A_FILE, naming the config file inside it', async () => {
    const path = files({ 'dynashift.config.json': minimal });
    const err = await rejectsWith(loadConfig(dirname(path)), 'CONFIG_NOT_A_FILE', /is a folder/);
    assert.match(err.hint ?? '', new RegExp(`-c ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.equal(err.side, 'config');
  });

  test('a DynamoDB table name DynamoDB would refuse is TABLE_NAME_INVALID on its side, naming the setting', async () => {
    const src = await rejectsWith(
      loadConfig(files({ 'c.json': { ...minimal, source: { table: 'my table' } } })),
      'TABLE_NAME_INVALID',
      /source\.table "my table"/,
    );
    assert.equal(src.side, 'source');
    assert.match(src.hint ?? '', /source\.table/);
    const dst = await rejectsWith(
      loadConfig(
        files({
          'c.json': { ...minimal, targets: { lines: { table: 'ab' } }, target: undefined, transform: './t.mjs' },
          't.mjs': 'export default (i) => i;\n',
        }),
      ),
      'TABLE_NAME_INVALID',
      /targets\.lines\.table/,
    );
    assert.equal(dst.side, 'target');
  });

  test('a table ARN, and a PostgreSQL table name DynamoDB would refuse, are accepted', async () => {
    const arn = 'arn:aws:dynamodb:eu-west-1:123456789012:table/Orders';
    assert.equal((await loadConfig(files({ 'c.json': { ...minimal, source: { table: arn } } }))).sources['source']!.table, arn);
    const pg = await loadConfig(files({ 'c.json': { ...minimal, target: { table: 'o', kind: 'postgres' } } }));
    assert.equal(pg.targets['target']!.table, 'o');
  });

  test('empty sources or targets maps are rejected', async () => {
    await rejectsWith(loadConfig(files({ 'c.json': { sources: {}, target: { table: 'B' } } })), 'CONFIG_INVALID', /"sources" is empty/);
    await rejectsWith(
      loadConfig(files({ 'c.json': { source: { table: 'A' }, targets: {}, transform: './t.mjs' }, 't.mjs': 'export default (i) => i;\n' })),
      'CONFIG_INVALID',
      /"targets" is empty/,
    );
  });
});

describe('loadConfig: overrides', () => {
  test('the --on-error override wins over the config', async () => {
    const path = files({ 'c.json': { ...minimal, onError: 'dead-letter' } });
    assert.equal((await loadConfig(path, { onError: 'halt' })).onError, 'halt');
    assert.equal((await loadConfig(path, {})).onError, 'dead-letter');
  });

  test('the --on-error override applies when the config says nothing', async () => {
    const path = files({ 'c.json': minimal });
    assert.equal((await loadConfig(path, { onError: 'dead-letter' })).onError, 'dead-letter');
  });
});
