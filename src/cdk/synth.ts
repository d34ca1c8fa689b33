import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, CfnOutput, Stack } from 'aws-cdk-lib';
import { Code } from 'aws-cdk-lib/aws-lambda';
import type { ResolvedConfig } from '../config/resolved-config.js';
import { AWS_RUNNER_STRATEGIES, strategyFor } from '../engine/strategies/registry.js';
import { isS3Uri, parseS3Uri } from '../aws/s3.js';
import { exportUri } from '../formats/ddb-export/locate-export.js';
import { DynashiftError } from '../errors.js';
import { DynashiftMigration } from './dynashift-migration.js';
import { lambdaTargets } from './lambda-targets.js';
import { vpcProps } from './vpc.js';

export interface SynthOptions {
  config: ResolvedConfig;
  /** Folder with the bundled handlers and config (lambda.Code.fromAsset). Without it the functions get placeholder code. */
  codePath?: string;
  /** The config's path inside `codePath` ($DYNASHIFT_CONFIG); default `dynashift.config.json`. */
  configPath?: string;
  /** Default `Dynashift-<migration name>`. */
  stackName?: string;
  /** Write the cloud assembly here (for `cdk deploy --app DIR`); default: a temporary folder, removed afterwards. */
  outdir?: string;
}

export interface SynthResult {
  stackName: string;
  template: Record<string, unknown>;
  /** True when no code folder was given: the template deploys functions that refuse to run. */
  placeholderCode: boolean;
  outdir?: string;
}

/** Placeholder handlers for a template-only synth: deploying them fails loudly at the first invocation, never silently. */
const PLACEHOLDER = `const fail = async () => { throw new Error('dynashift: placeholder code; deploy with your bundled handlers (dynashift deploy --code DIR, or the construct\\'s code prop)'); };
exports.streamHandler = fail; exports.prepare = fail; exports.backfillSegment = fail; exports.complete = fail; exports.replaySpool = fail;`;

/**
 * Builds a CDK App with one environment-agnostic stack holding the DynashiftMigration for `config`, and synthesizes it.
 * Needs no AWS credentials: no lookup runs at synth time (the stream ARN is read at deploy time).
 */
export function synthesizeMigration(opts: SynthOptions): SynthResult {
  const { config } = opts;
  // Refuses (TARGET_NOT_DEPLOYABLE) a target the functions could not reach, before anything is synthesized.
  const reach = lambdaTargets(config);
  const strategy = config.backfill.strategy;
  if (!strategyFor(strategy).awsRunner) {
    throw new DynashiftError('CONFIG_INVALID', `backfill strategy "${strategy}" is not available in the AWS runner`, {
      hint: `use backfill.strategy ${AWS_RUNNER_STRATEGIES.join(' or ')} for the state machine, or run this migration with \`dynashift run\``,
      exitCode: 2,
    });
  }
  const outdir = opts.outdir ?? mkdtempSync(join(tmpdir(), 'dynashift-synth-'));
  try {
    const app = new App({ outdir, analyticsReporting: false });
    const stackName = opts.stackName ?? `Dynashift-${config.name}`.replace(/[^A-Za-z0-9-]/g, '-').slice(0, 128);
    const stack = new Stack(app, stackName, { analyticsReporting: false, description: `dynashift migration ${config.name}` });
    const migration = new DynashiftMigration(stack, 'Migration', {
      migrationName: config.name,
      sources: Object.fromEntries(
        Object.entries(config.sources).map(([n, s]) => [
          n,
          {
            tableName: s.table,
            ...(s.region ? { region: s.region } : {}),
            ...(s.roleArn ? { roleArn: s.roleArn } : {}),
          },
        ]),
      ),
      targets: reach.targets,
      ...(Object.keys(reach.environment).length > 0 ? { environment: reach.environment } : {}),
      ...(config.lambda?.vpc ? { vpc: vpcProps(stack, config.lambda.vpc) } : {}),
      code: opts.codePath ? Code.fromAsset(opts.codePath) : Code.fromInline(PLACEHOLDER),
      ...(opts.configPath ? { configPath: opts.configPath } : {}),
      backfill: { strategy, concurrency: config.backfill.concurrency, ...exportLocation(config) },
      stream: { duringBackfill: config.stream.duringBackfill },
    });
    new CfnOutput(stack, 'StateMachineArn', { value: migration.stateMachine.stateMachineArn, description: 'start an execution to run the backfill' });
    new CfnOutput(stack, 'StateTableName', { value: migration.stateTable.tableName });
    new CfnOutput(stack, 'OnFailureQueueUrl', { value: migration.onFailureQueue.queueUrl });
    const assembly = app.synth();
    const template = assembly.getStackByName(stack.stackName).template as Record<string, unknown>;
    return { stackName: stack.stackName, template, placeholderCode: !opts.codePath, ...(opts.outdir ? { outdir } : {}) };
  } finally {
    if (!opts.outdir) rmSync(outdir, { recursive: true, force: true });
  }
}

/** The export's bucket and prefix for the construct's S3 grants (export strategy only). */
function exportLocation(config: SynthOptions['config']): { export?: { bucket: string; prefix?: string; start?: boolean } } {
  const e = config.backfill.export;
  if (strategyFor(config.backfill.strategy).awsRunner?.map !== 'files' || !e) return {};
  if (e.start) return { export: { bucket: e.start.s3Bucket, ...(e.start.s3Prefix ? { prefix: e.start.s3Prefix } : {}), start: true } };
  const uri = e.uri ? exportUri(e.uri) : '';
  if (!isS3Uri(uri)) {
    throw new DynashiftError('CONFIG_INVALID', `backfill.export.uri ${e.uri ?? '(none)'} is not in S3; the AWS runner's export Map reads S3`, {
      hint: 'point backfill.export.uri at s3://bucket/prefix, or set backfill.export.start',
      exitCode: 2,
    });
  }
  const { bucket, prefix } = parseS3Uri(uri);
  return { export: { bucket, ...(prefix ? { prefix } : {}) } };
}
