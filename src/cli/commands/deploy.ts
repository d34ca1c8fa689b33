import { resolve } from 'node:path';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../config/load-config.js';
import { DynashiftError } from '../../errors.js';

export interface DeployFlags {
  config: string;
  synth?: boolean;
  out?: string;
  code?: string;
  stackName?: string;
}

/**
 * `dynashift deploy -c FILE` bundles the AWS runner's handlers with the config and its transform (esbuild, see
 * cdk/bundle.ts) and builds the stack (state machine backfill, Lambda on the stream, state table, on-failure queue,
 * alarms): `--synth` prints the CloudFormation template, `--out DIR` writes a cloud assembly — the bundle included as
 * its asset — that `npx cdk deploy --app DIR` deploys. No AWS credentials are needed: nothing is looked up at synth
 * time. `--code DIR` uses a folder the user bundled instead.
 *
 * aws-cdk-lib is loaded only here, on demand, so the rest of the CLI runs without it.
 */
export async function deployCommand(flags: DeployFlags): Promise<number> {
  if (!flags.synth && !flags.out) {
    throw new DynashiftError('CONFIG_INVALID', 'deploy needs --synth (print the template) or --out DIR (write a cloud assembly)', {
      hint: 'dynashift deploy --synth -c FILE > template.json, or dynashift deploy -c FILE --out cdk.out && npx cdk deploy --app cdk.out; see docs/aws.md',
      exitCode: 2,
    });
  }
  const config = await loadConfig(flags.config);
  const codePath = flags.code ? resolve(flags.code) : undefined;
  if (codePath && !(existsSync(codePath) && statSync(codePath).isDirectory())) {
    throw new DynashiftError('CONFIG_INVALID', `--code ${flags.code} is not a folder`, {
      hint: 'point --code at the folder with your bundled handlers and config, or leave --code out and deploy bundles them (see docs/aws.md)',
      exitCode: 2,
    });
  }
  await requireCdk();
  const { synthesizeMigration } = await import('../../cdk/synth.js');
  // The bundle lives in a temporary folder: synthesis copies it into the cloud assembly as the functions' asset.
  const bundleDir = codePath ? undefined : mkdtempSync(join(tmpdir(), 'dynashift-bundle-'));
  try {
    let code: { codePath: string; configPath?: string } | undefined = codePath ? { codePath } : undefined;
    if (bundleDir) {
      const { bundleHandlers } = await import('../../cdk/bundle.js');
      const bundled = await bundleHandlers(config, bundleDir);
      code = { codePath: bundled.dir, configPath: bundled.configPath };
    }
    const result = synthesizeMigration({
      config,
      ...code,
      ...(flags.stackName ? { stackName: flags.stackName } : {}),
      ...(flags.out ? { outdir: resolve(flags.out) } : {}),
    });
    if (flags.synth) process.stdout.write(`${JSON.stringify(result.template, null, 2)}\n`);
    if (flags.out)
      process.stderr.write(
        `cloud assembly written to ${resolve(flags.out)} (stack ${result.stackName}); deploy it with: npx cdk deploy --app ${flags.out}\n`,
      );
    return 0;
  } finally {
    if (bundleDir) rmSync(bundleDir, { recursive: true, force: true });
  }
}

async function requireCdk(): Promise<void> {
  try {
    await import('aws-cdk-lib');
    await import('constructs');
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') throw err;
    throw new DynashiftError(
      'CDK_NOT_INSTALLED',
      'dynashift deploy builds the stack with the AWS CDK library (aws-cdk-lib, constructs), which is not installed',
      {
        side: 'config',
        hint: 'npm install --save-dev aws-cdk-lib constructs (deploy is the only command that uses them), then run deploy again',
        exitCode: 2,
        cause: err,
      },
    );
  }
}
