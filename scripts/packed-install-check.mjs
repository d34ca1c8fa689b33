#!/usr/bin/env node
/**
 * What `npm install dynashift` gives a user, checked the way a user would meet it: `npm pack`, install the tarball
 * into an empty folder, then `npx dynashift demo` and `npx dynashift plan` on a TypeScript config that imports
 * `defineMigration` from 'dynashift' (against a table on DynamoDB Local). Run by `npm test` (test/integration/packed-install.test.ts) and by `npm run test:packed`.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const work = mkdtempSync(join(tmpdir(), 'dynashift-packed-'));
const sh = (cmd, args, opts = {}) => {
  process.stderr.write(`$ ${cmd} ${args.join(' ')}\n`);
  return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', ...opts });
};

try {
  const packed = JSON.parse(sh('npm', ['pack', '--json', '--pack-destination', work], { cwd: root }));
  const files = packed[0].files.map((f) => f.path);
  for (const needed of [
    'bin/dynashift.js',
    'dist/index.js',
    'dist/cli/entry.js',
    'schema/dynashift.schema.json',
    'docs/consistency.md',
    'docs/design.md',
    'README.md',
  ]) {
    if (!files.includes(needed)) throw new Error(`the package lacks ${needed}`);
  }
  const leaked = files.filter((f) => /^(src|test|bench)\//.test(f));
  if (leaked.length > 0) throw new Error(`the package carries development files: ${leaked.slice(0, 5).join(', ')}`);

  const app = join(work, 'app');
  sh('mkdir', ['-p', app]);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'packed-install-check', private: true, type: 'module' }));
  sh('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', join(work, packed[0].filename)], {
    cwd: app,
    stdio: ['ignore', 'inherit', 'inherit'],
  });

  const demo = sh('npx', ['--no-install', 'dynashift', 'demo', '--items', '200'], { cwd: app });
  process.stdout.write(demo);
  if (!demo.includes('0 differences')) throw new Error('the demo did not end with "0 differences"');

  // A TS config planned against a real (local) table, as the README's "Migrating your table" describes.
  const installed = join(app, 'node_modules', 'dynashift');
  const { startDynamoDbLocal, localClientConfig } = await import(pathToFileURL(join(installed, 'dist/local/dynamodb-local.js')).href);
  const { DynamoDBClient, CreateTableCommand } = await import(
    pathToFileURL(join(app, 'node_modules/@aws-sdk/client-dynamodb/dist-cjs/index.js')).href
  );
  const local = await startDynamoDbLocal();
  try {
    const client = new DynamoDBClient(localClientConfig(local.endpoint));
    await client.send(
      new CreateTableCommand({
        TableName: 'Orders',
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'orderId', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'orderId', KeyType: 'HASH' }],
        StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
      }),
    );
    client.destroy();
    writeFileSync(
      join(app, 'dynashift.config.ts'),
      `import { defineMigration } from 'dynashift';

export default defineMigration({
  source: { table: 'Orders', region: 'us-east-1', endpoint: '${local.endpoint}' },
  target: {
    table: 'OrdersByCustomer', region: 'us-east-1', endpoint: '${local.endpoint}',
    create: { keySchema: { partitionKey: { name: 'customerId', type: 'S' }, sortKey: { name: 'orderId', type: 'S' } } },
  },
  transform: (order) => ({ ...order, migratedAt: '2026-11-23' }),
});
`,
    );
    const plan = sh('npx', ['--no-install', 'dynashift', 'plan', '-c', 'dynashift.config.ts', '--json'], { cwd: app });
    const parsed = JSON.parse(plan);
    if (!Array.isArray(parsed.refusals) || parsed.refusals.length !== 0) throw new Error(`plan refused: ${plan}`);
  } finally {
    await local.stop();
  }
  process.stderr.write(`packed install check: ok (${files.length} files in ${packed[0].filename}: ${readdirSync(work).length} entries in ${work})\n`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
