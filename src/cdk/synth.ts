import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, CfnOutput, Stack } from 'aws-cdk-lib';
import { Code } from 'aws-cdk-lib/aws-lambda';
import type { ResolvedConfig } from '../config/resolved-config.js';
import { AWS_RUNNER_STRATEGIES, strategyFor } from '../engine/strategies/registry.js';
import { DynashiftError } from '../errors.js';
import { DynashiftMigration } from './dynashift-migration.js';

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
  for (const [name, target] of Object.entries(config.targets)) {
    if ((target.kind ?? 'dynamodb') !== 'dynamodb' || target.endpoint) {
      throw new DynashiftError(
        'CONFIG_INVALID',
        `target ${name} (${target.kind ?? 'dynamodb'}${target.endpoint ? ` at ${target.endpoint}` : ''}) can't be deployed by the AWS runner`,
        {
          hint: 'the AWS runner writes to DynamoDB tables in AWS only; use `dynashift run` for PostgreSQL, files or custom endpoints',
          exitCode: 2,
        },
      );
    }
  }
  const strategy = config.backfill.strategy as 'scan' | 'none';
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
      targets: Object.fromEntries(
        Object.entries(config.targets).map(([n, t]) => [
          n,
          {
            tableName: t.table,
            ...(t.region ? { region: t.region } : {}),
            ...(t.roleArn ? { roleArn: t.roleArn } : {}),
            create: !('create' in t && t.create === false),
          },
        ]),
      ),
      code: opts.codePath ? Code.fromAsset(opts.codePath) : Code.fromInline(PLACEHOLDER),
      ...(opts.configPath ? { configPath: opts.configPath } : {}),
      backfill: { strategy, concurrency: config.backfill.concurrency },
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
