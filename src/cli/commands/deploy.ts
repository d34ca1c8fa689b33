import { resolve } from 'node:path';
import { existsSync, statSync } from 'node:fs';
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
 * `dynashift deploy --synth` prints the CloudFormation template of the AWS runner (state machine backfill, Lambda on
 * the stream, state table, on-failure queue, alarms) for this config; `--out DIR` writes a cloud assembly that
 * `npx cdk deploy --app DIR` deploys. No AWS credentials are needed: nothing is looked up at synth time.
 *
 * aws-cdk-lib is loaded only here, on demand, so the rest of the CLI runs without it.
 */
export async function deployCommand(flags: DeployFlags): Promise<number> {
  if (!flags.synth && !flags.out) {
    throw new DynashiftError('CONFIG_INVALID', 'deploy needs --synth (print the template) or --out DIR (write a cloud assembly)', {
      hint: 'dynashift deploy --synth -c FILE > template.json, or dynashift deploy -c FILE --code DIR --out cdk.out && npx cdk deploy --app cdk.out; see docs/aws.md',
      exitCode: 2,
    });
  }
  const config = await loadConfig(flags.config);
  const codePath = flags.code ? resolve(flags.code) : undefined;
  if (codePath && !(existsSync(codePath) && statSync(codePath).isDirectory())) {
    throw new DynashiftError('CONFIG_INVALID', `--code ${flags.code} is not a folder`, {
      hint: 'point --code at the folder with your bundled handlers and config (see docs/aws.md, "Bundle the handlers")',
      exitCode: 2,
    });
  }
  await requireCdk();
  const { synthesizeMigration } = await import('../../cdk/synth.js');
  const result = synthesizeMigration({
    config,
    ...(codePath ? { codePath } : {}),
    ...(flags.stackName ? { stackName: flags.stackName } : {}),
    ...(flags.out ? { outdir: resolve(flags.out) } : {}),
  });
  if (result.placeholderCode) {
    process.stderr.write(
      'note: no --code folder given: the functions in this template hold placeholder code that refuses to run; pass --code DIR with your bundled handlers to deploy\n',
    );
  }
  if (flags.synth) process.stdout.write(`${JSON.stringify(result.template, null, 2)}\n`);
  if (flags.out)
    process.stderr.write(
      `cloud assembly written to ${resolve(flags.out)} (stack ${result.stackName}); deploy it with: npx cdk deploy --app ${flags.out}\n`,
    );
  return 0;
}

async function requireCdk(): Promise<void> {
  try {
    await import('aws-cdk-lib');
    await import('constructs');
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') throw err;
    throw new DynashiftError('CONFIG_INVALID', 'dynashift deploy needs the AWS CDK library, which is not installed', {
      hint: 'npm install --save-dev aws-cdk-lib constructs (deploy is the only command that uses them)',
      exitCode: 2,
      cause: err,
    });
  }
}
