/**
 * Which targets the AWS runner can reach, decided at `deploy` (synth) time: a target a Lambda function can't reach is
 * refused with TARGET_NOT_DEPLOYABLE (side target, a fix naming the setting), never deployed to fail later; a
 * PostgreSQL target's secret is granted to exactly the functions that write, the VPC settings reach exactly those
 * functions, and a non-AWS target gets no DynamoDB permission. The runner itself refuses a write-once target too.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load-config.js';
import type { ResolvedConfig } from '../../src/config/resolved-config.js';
import { lambdaTargets } from '../../src/cdk/lambda-targets.js';
import { synthesizeMigration } from '../../src/cdk/synth.js';
import { DynashiftError } from '../../src/errors.js';
import { createBackfillTasks } from '../../src/runners/stepfunctions/tasks.js';
import { resolveConnection } from '../../src/sinks/postgres/postgres-connection.js';
import { connectionStringFrom } from '../../src/sinks/postgres/postgres-secrets.js';
import type { PostgresTargetConfig } from '../../src/sinks/postgres/postgres-config.js';
import { startSecretsStub } from '../support/secrets-manager-stub.js';

const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:orders-db-AbC123';

async function configWith(targets: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<ResolvedConfig> {
  const dir = mkdtempSync(join(tmpdir(), 'dynashift-lambda-targets-'));
  writeFileSync(join(dir, 'transform.mjs'), 'export default (item) => item;\n');
  writeFileSync(
    join(dir, 'dynashift.config.json'),
    JSON.stringify({ name: 'orders-out', source: { table: 'Orders', region: 'eu-west-1' }, targets, transform: './transform.mjs', ...extra }),
  );
  return loadConfig(join(dir, 'dynashift.config.json'));
}

const KEY = { partitionKey: { name: 'id', type: 'S' } };

function refusedWith(fn: () => unknown, setting: RegExp, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof DynashiftError, String(err));
    assert.equal(err.code, 'TARGET_NOT_DEPLOYABLE');
    assert.equal(err.side, 'target');
    assert.equal(err.exitCode, 2);
    assert.match(err.message, message);
    assert.match(err.hint ?? '', setting);
    return true;
  });
}

describe('deploy refuses a target a Lambda function cannot reach, naming what is missing', () => {
  test('a files target on a local path', async () => {
    const config = await configWith({ out: { table: 'orders', kind: 'files', keySchema: KEY, files: { uri: './exports' } } });
    refusedWith(() => lambdaTargets(config, {}), /dynashift run/, /local path "\.\/exports"/);
    refusedWith(() => synthesizeMigration({ config }), /dynashift run/, /local path/);
  });

  test('a files target on S3: export files take one writer, the runner copies segments in parallel', async () => {
    const config = await configWith({ out: { table: 'orders', kind: 'files', keySchema: KEY, files: { uri: 's3://bucket/exports' } } });
    refusedWith(() => lambdaTargets(config, {}), /dynashift run/, /write-once/);
  });

  test('a PostgreSQL target with neither a secret nor an environment variable (DATABASE_URL of the deploying shell is not deployed)', async () => {
    const config = await configWith({ out: { table: 'orders', kind: 'postgres', keySchema: KEY } });
    refusedWith(() => lambdaTargets(config, { DATABASE_URL: 'postgres://u:p@db.example.com/app' }), /connectionStringSecret/, /no connection string/);
  });

  test('a PostgreSQL target whose connectionStringEnv is not set where deploy runs', async () => {
    const config = await configWith({
      out: { table: 'orders', kind: 'postgres', keySchema: KEY, postgres: { connectionStringEnv: 'ORDERS_DB_URL' } },
    });
    refusedWith(() => lambdaTargets(config, {}), /ORDERS_DB_URL/, /ORDERS_DB_URL, which is not set/);
  });

  test('a PostgreSQL connection string or a DynamoDB-compatible endpoint on a loopback address', async () => {
    const pg = await configWith({
      out: { table: 'orders', kind: 'postgres', keySchema: KEY, postgres: { connectionString: 'postgres://u@localhost:5432/app' } },
    });
    refusedWith(() => lambdaTargets(pg, {}), /target\.postgres\.connectionString/, /localhost/);
    const ddb = await configWith({ out: { table: 'orders', endpoint: 'http://127.0.0.1:8000' } });
    refusedWith(() => lambdaTargets(ddb, {}), /target\.endpoint/, /127\.0\.0\.1/);
  });

  test('the runner refuses a write-once target before touching anything (a construct deployed without the check)', async () => {
    const config = await configWith({ out: { table: 'orders', kind: 'files', keySchema: KEY, files: { uri: 's3://bucket/exports' } } });
    const tasks = createBackfillTasks({ config, stateTable: 'unused' });
    await assert.rejects(
      tasks.prepare({}),
      (err: unknown) => err instanceof DynashiftError && err.code === 'TARGET_NOT_DEPLOYABLE' && err.side === 'target',
    );
  });
});

type Resource = { Type: string; Properties: Record<string, any> };

describe('deploy of reachable non-DynamoDB targets', () => {
  test(
    'PostgreSQL by secret: GetSecretValue on that secret for the writing functions only, no DynamoDB permission on it, the VPC on the writing functions; an endpoint target gets no IAM grant; an env-named string is copied into the functions',
    { timeout: 60_000 },
    async () => {
      const config = await configWith(
        {
          pg: { table: 'orders', kind: 'postgres', keySchema: KEY, postgres: { connectionStringSecret: SECRET_ARN } },
          byEnv: { table: 'orders_archive', kind: 'postgres', keySchema: KEY, postgres: { connectionStringEnv: 'ARCHIVE_DB_URL' } },
          alternator: { table: 'OrdersCopy', endpoint: 'https://alternator.internal.example.com:8043' },
        },
        { lambda: { vpc: { vpcId: 'vpc-0abc', subnetIds: ['subnet-1', 'subnet-2'], securityGroupIds: ['sg-9'] } } },
      );
      const prev = process.env.ARCHIVE_DB_URL;
      process.env.ARCHIVE_DB_URL = 'postgres://archiver:s3cret@archive.internal.example.com:5432/app';
      let template: { Resources: Record<string, Resource> };
      try {
        template = synthesizeMigration({ config }).template as typeof template;
      } finally {
        if (prev === undefined) delete process.env.ARCHIVE_DB_URL;
        else process.env.ARCHIVE_DB_URL = prev;
      }
      const resources = Object.entries(template.Resources);
      const functions = resources.filter(([, r]) => r.Type === 'AWS::Lambda::Function');
      const roleOf = (fnId: string): string => template.Resources[fnId]!.Properties.Role['Fn::GetAtt'][0];
      const statementsOf = (roleId: string) =>
        resources
          .filter(([, r]) => r.Type === 'AWS::IAM::Policy' && r.Properties.Roles.some((x: { Ref: string }) => x.Ref === roleId))
          .flatMap(([, r]) => r.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[]);
      const writers = functions.filter(([id]) => /StreamHandler|Prepare|BackfillSegment|ReplaySpool/.test(id));
      const complete = functions.filter(([id]) => /Complete/.test(id));
      assert.equal(writers.length, 4);
      assert.equal(complete.length, 1);
      for (const [id, fn] of writers) {
        const st = statementsOf(roleOf(id));
        const secretGrants = st.filter((s) => [s.Action].flat().includes('secretsmanager:GetSecretValue'));
        assert.deepEqual(
          secretGrants.map((s) => s.Resource),
          [SECRET_ARN],
          `${id}: GetSecretValue on exactly the secret`,
        );
        const text = JSON.stringify(st);
        assert.ok(!/table\/orders\b|table\/orders_archive|table\/OrdersCopy/.test(text), `${id}: no DynamoDB grant on a non-AWS target: ${text}`);
        assert.deepEqual(fn.Properties.VpcConfig.SubnetIds, ['subnet-1', 'subnet-2'], id);
        assert.deepEqual(fn.Properties.VpcConfig.SecurityGroupIds, ['sg-9'], id);
        assert.equal(fn.Properties.Environment.Variables.ARCHIVE_DB_URL, 'postgres://archiver:s3cret@archive.internal.example.com:5432/app');
      }
      for (const [id, fn] of complete) {
        assert.equal(fn.Properties.VpcConfig, undefined, 'Complete touches the state table only: not in the VPC');
        assert.ok(!JSON.stringify(statementsOf(roleOf(id))).includes('secretsmanager'), 'Complete gets no secret');
      }
    },
  );

  test('a secret given by name is granted with the six-character suffix Secrets Manager appends, no wider', async () => {
    const config = await configWith({ pg: { table: 'orders', kind: 'postgres', keySchema: KEY, postgres: { connectionStringSecret: 'orders-db' } } });
    const { template } = synthesizeMigration({ config }) as unknown as { template: { Resources: Record<string, Resource> } };
    const grants = Object.values(template.Resources)
      .filter((r) => r.Type === 'AWS::IAM::Policy')
      .flatMap((r) => r.Properties.PolicyDocument.Statement as { Action: string; Resource: unknown }[])
      .filter((s) => s.Action === 'secretsmanager:GetSecretValue');
    assert.equal(grants.length, 4);
    for (const g of grants) assert.match(JSON.stringify(g.Resource), /:secret:orders-db-\?\?\?\?\?\?"/);
  });
});

describe('a PostgreSQL connection string kept in Secrets Manager', () => {
  test('an RDS secret (JSON) becomes a URL with its parts escaped; another shape is refused without echoing the value', () => {
    const url = connectionStringFrom(
      's',
      JSON.stringify({ engine: 'postgres', host: 'db.example.com', port: 6543, username: 'app', password: 'p@ss/w:rd', dbname: 'orders' }),
    );
    const parsed = new URL(url);
    assert.equal(parsed.hostname, 'db.example.com');
    assert.equal(parsed.port, '6543');
    assert.equal(decodeURIComponent(parsed.password), 'p@ss/w:rd');
    assert.equal(parsed.pathname, '/orders');
    assert.equal(connectionStringFrom('s', ' postgres://u:p@h:5432/d\n'), 'postgres://u:p@h:5432/d');
    assert.throws(
      () => connectionStringFrom('s', 'hunter2-not-a-url'),
      (err: unknown) => err instanceof DynashiftError && err.code === 'CONFIG_INVALID' && !err.message.includes('hunter2'),
    );
  });

  test('the CLI, which does not read Secrets Manager, refuses such a target and names the setting to use instead', () => {
    const target = { table: 'orders', kind: 'postgres', postgres: { connectionStringSecret: 'never-loaded' } } as PostgresTargetConfig;
    assert.throws(
      () => resolveConnection(target, {}),
      (err: unknown) => err instanceof DynashiftError && err.side === 'target' && /connectionStringEnv/.test(err.hint ?? ''),
    );
  });
});

test('Secrets Manager stub: a secret the runner cannot read fails the invocation naming the secret and the setting, and the next invocation reads it again', async () => {
  const id = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:missing-db-AbC123';
  const stub = await startSecretsStub({});
  try {
    const config = await configWith({ pg: { table: 'orders', kind: 'postgres', keySchema: KEY, postgres: { connectionStringSecret: id } } });
    const tasks = createBackfillTasks({ config, stateTable: 'unused', secretsClient: stub.client() });
    for (let attempt = 1; attempt <= 2; attempt++) {
      await assert.rejects(tasks.prepare({}), (err: unknown) => {
        assert.ok(err instanceof DynashiftError, String(err));
        assert.equal(err.code, 'AWS_ERROR');
        assert.equal(err.side, 'target');
        assert.match(err.message, /missing-db-AbC123.*ResourceNotFoundException/);
        assert.match(err.hint ?? '', /connectionStringSecret/);
        return true;
      });
    }
    assert.equal(stub.calls.get(id), 2, 'a failed load is not cached: each invocation tries again');
  } finally {
    await stub.stop();
  }
});
