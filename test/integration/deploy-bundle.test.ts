/**
 * `dynashift deploy -c FILE` bundles the handlers, the config and the user's TypeScript transform (and what it
 * imports) itself, without AWS credentials: the template's functions run the bundle, the cloud assembly holds it as
 * the functions' asset, and a plain Node process (no tsx, nothing from the user's folder) loads the bundled module,
 * finds every handler the template names, and runs the transform compiled into it. Without aws-cdk-lib, deploy
 * refuses with CDK_NOT_INSTALLED and says what to install.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { runCli } from '../support/cli.js';

const run = promisify(execFile);

function userProject(): { dir: string; config: string; env: Record<string, string> } {
  const dir = mkdtempSync(join(tmpdir(), 'dynashift-deploy-bundle-'));
  writeFileSync(join(dir, 'label.ts'), 'export const label = (id: string): string => `bundled-${id}`;\n');
  writeFileSync(
    join(dir, 'transform.ts'),
    [
      "import { label } from './label.ts';",
      'interface Order { id: string; total: number }',
      'export default function transform(item: Order): Order & { label: string } {',
      '  return { ...item, label: label(item.id) };',
      '}',
    ].join('\n'),
  );
  const config = join(dir, 'dynashift.config.json');
  writeFileSync(
    config,
    JSON.stringify({
      name: 'orders-move',
      source: { table: 'Orders', region: 'eu-west-1' },
      target: { table: 'OrdersV2', region: 'eu-west-1' },
      transform: './transform.ts',
    }),
  );
  // No credentials anywhere in the chain.
  const env = {
    AWS_ACCESS_KEY_ID: '',
    AWS_SECRET_ACCESS_KEY: '',
    AWS_PROFILE: '',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: join(dir, 'none'),
    AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none'),
  };
  return { dir, config, env };
}

type Template = { Resources: Record<string, { Type: string; Properties: Record<string, any> }> };

test(
  'deploy --synth --out bundles the handlers, the config and the TypeScript transform into the functions asset, and the bundle runs',
  { timeout: 300_000 },
  async () => {
    const { dir, config, env } = userProject();
    const out = join(dir, 'cdk.out');
    const res = await runCli(['deploy', '--synth', '-c', config, '--out', out], { env, timeoutMs: 280_000 });
    assert.equal(res.code, 0, res.stderr);
    const template = JSON.parse(res.stdout) as Template;
    const functions = Object.values(template.Resources).filter(
      (r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Environment?.Variables?.DYNASHIFT_MIGRATION === 'orders-move',
    );
    assert.ok(functions.length >= 5, 'the stream handler and the task functions');
    for (const fn of functions) {
      assert.equal(fn.Properties.Environment.Variables.DYNASHIFT_CONFIG, 'dynashift.config.mjs', 'the functions load the bundled config');
      assert.ok(fn.Properties.Code.S3Key, `${fn.Properties.Handler} runs an asset, not placeholder code`);
      assert.equal(fn.Properties.Code.ZipFile, undefined);
    }
    const assetDirs = readdirSync(out)
      .filter((d) => d.startsWith('asset.'))
      .map((d) => join(out, d))
      .filter((d) => existsSync(join(d, 'index.mjs')));
    assert.equal(assetDirs.length, 1, 'one handler asset in the cloud assembly');
    const asset = assetDirs[0]!;
    const assetHash = asset.replace(/^.*asset\./, '');
    assert.ok(
      functions.every((fn) => String(fn.Properties.Code.S3Key).startsWith(assetHash)),
      'every function runs that asset',
    );
    assert.ok(existsSync(join(asset, 'dynashift.config.mjs')));

    // A Lambda-like plain Node process in the asset folder: no tsx, no access to the user's folder's modules.
    const handlers = [...new Set(functions.map((fn) => String(fn.Properties.Handler).replace(/^index\./, '')))];
    const script = `
    const m = await import('./index.mjs');
    const missing = ${JSON.stringify(handlers)}.filter((h) => typeof m[h] !== 'function');
    const config = await m.configFromEnvironment();
    console.log(JSON.stringify({ missing, name: config.name, out: config.transform({ id: 'o-1', total: 3 }) }));
  `;
    const child = await run(process.execPath, ['--input-type=module', '-e', script], {
      cwd: asset,
      env: { PATH: process.env.PATH ?? '', DYNASHIFT_CONFIG: 'dynashift.config.mjs', DYNASHIFT_MIGRATION: 'orders-move', AWS_REGION: 'eu-west-1' },
      timeout: 60_000,
    });
    const seen = JSON.parse(child.stdout.trim().split('\n').at(-1)!) as { missing: string[]; name: string; out: unknown };
    assert.deepEqual(seen.missing, [], 'the bundle exports every handler the template names');
    assert.equal(seen.name, 'orders-move');
    assert.deepEqual(seen.out, { id: 'o-1', total: 3, label: 'bundled-o-1' }, 'the TypeScript transform and its import are compiled into the bundle');
  },
);

test('deploy without aws-cdk-lib refuses with CDK_NOT_INSTALLED and names the packages to install', { timeout: 120_000 }, async () => {
  const { dir, config, env } = userProject();
  // A resolve hook that hides aws-cdk-lib, as on a machine where it is not installed.
  const hook = join(dir, 'hide-cdk.mjs');
  writeFileSync(
    hook,
    [
      "import { register } from 'node:module';",
      "register('data:text/javascript,' + encodeURIComponent(`export async function resolve(s, c, next) { if (s === 'aws-cdk-lib' || s.startsWith('aws-cdk-lib/')) { const e = new Error('Cannot find package ' + s); e.code = 'ERR_MODULE_NOT_FOUND'; throw e; } return next(s, c); }`));",
    ].join('\n'),
  );
  const res = await runCli(['deploy', '--synth', '-c', config], { env: { ...env, NODE_OPTIONS: `--import ${hook}` }, timeoutMs: 110_000 });
  assert.equal(res.code, 2, res.stderr);
  assert.match(res.stderr, /CDK_NOT_INSTALLED/);
  assert.match(res.stderr, /npm install --save-dev aws-cdk-lib constructs/);
  assert.equal(res.stdout, '', 'no template');
});

test(
  'deploy --synth of an export-strategy migration into PostgreSQL needs no credentials: the export Map reads the manifest from S3, the writing functions may read the connection secret, the database gets no DynamoDB permission',
  { timeout: 300_000 },
  async () => {
    const { dir, env } = userProject();
    const secret = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:orders-db-AbCdEf';
    const config = join(dir, 'export-to-postgres.json');
    writeFileSync(
      config,
      JSON.stringify({
        name: 'orders-to-pg',
        source: { table: 'Orders', region: 'eu-west-1' },
        target: { kind: 'postgres', table: 'orders_pg', postgres: { connectionStringSecret: secret } },
        backfill: { strategy: 'export', export: { uri: 's3://orders-exports/daily' } },
        lambda: { vpc: { vpcId: 'vpc-0123456789abcdef0', subnetIds: ['subnet-0123456789abcdef0'], securityGroupIds: ['sg-0123456789abcdef0'] } },
      }),
    );
    const res = await runCli(['deploy', '--synth', '-c', config, '--out', join(dir, 'cdk.out.pg')], { env, timeoutMs: 280_000 });
    assert.equal(res.code, 0, res.stderr);
    const template = JSON.parse(res.stdout) as Template;
    const resources = Object.values(template.Resources);
    const machine = resources.find((r) => r.Type === 'AWS::StepFunctions::StateMachine');
    assert.ok(machine, 'a state machine');
    const definition = JSON.stringify(machine.Properties.DefinitionString);
    assert.match(definition, /ItemReader/, 'the export Map has an ItemReader');
    assert.match(definition, /s3:getObject/, 'it reads an S3 object');
    assert.match(definition, /JSONL/, 'the manifest is read as JSON Lines');

    const statements = resources
      .filter((r) => r.Type === 'AWS::IAM::Policy')
      .flatMap((r) => r.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[]);
    const actions = (s: { Action: string | string[] }): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);
    const secretGrants = statements.filter((s) => actions(s).includes('secretsmanager:GetSecretValue'));
    assert.ok(secretGrants.length >= 4, `the four writing functions may read the secret (${secretGrants.length} grants)`);
    for (const s of secretGrants) assert.equal(JSON.stringify(s.Resource), JSON.stringify(secret), 'exactly that secret');
    const onTarget = statements.filter((s) => actions(s).some((a) => a.startsWith('dynamodb:')) && JSON.stringify(s.Resource).includes('orders_pg'));
    assert.deepEqual(onTarget, [], 'no DynamoDB permission on the PostgreSQL target');

    const writers = resources.filter((r) => r.Type === 'AWS::Lambda::Function' && r.Properties.VpcConfig);
    assert.ok(writers.length >= 4, 'the writing functions run in the VPC');
    assert.ok(!res.stdout.includes('password'), 'no connection string in the template');
  },
);
