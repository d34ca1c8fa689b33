import { join } from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { clientsFor } from '../../aws/clients.js';
import { loadConfig } from '../../config/load-config.js';
import type { ResolvedConfig } from '../../config/resolved-config.js';
import { ItemMapper } from '../../core/transform.js';
import { DynashiftError } from '../../errors.js';
import { driverFor, sinkKindOf } from '../../sinks/drivers.js';
import type { Sink } from '../../sinks/sink.js';
import { loadConnectionSecrets, secretIdsOf } from '../../sinks/postgres/postgres-secrets.js';
import { DynamoDbStateStore, type RunnerRuntime } from '../../state/dynamodb-state-store.js';
import type { Write } from './observability.js';

import { fingerprint as runnerFingerprint } from '../../engine/snapshot.js';
import { strategyFor } from '../../engine/strategies/registry.js';
import type { BackfillStrategyName } from '../../engine/strategies/backfill-strategy.js';

// The CLI's fingerprint: a DynamoDB-stored state refuses a changed config just like a local one.
export { runnerFingerprint };

/** The backfill strategies the AWS runner implements (the registry says which); the others run with `dynashift run` only. */
export { AWS_RUNNER_STRATEGIES } from '../../engine/strategies/registry.js';

/** What every AWS runner entry point (stream handler, Step Functions tasks) is configured with. */
export interface RunnerOptions {
  /** The migration config, or how to load it. Default: `loadConfig($DYNASHIFT_CONFIG)` (the construct sets it). */
  config?: ResolvedConfig | (() => Promise<ResolvedConfig>);
  /** The DynamoDB state table. Default: $DYNASHIFT_STATE_TABLE. */
  stateTable?: string;
  /** Client for the state table. Default: the function's own Region and role ($DYNASHIFT_STATE_ENDPOINT overrides the endpoint). */
  stateClient?: DynamoDBClient;
  /** Where JSON logs and EMF metric lines go. Default: stdout. */
  write?: Write;
  /**
   * Client for the targets' Secrets Manager secrets (postgres.connectionStringSecret). Default: the function's own
   * Region and role ($DYNASHIFT_SECRETS_ENDPOINT overrides the endpoint, for a local stand-in).
   */
  secretsClient?: SecretsManagerClient;
  /** Wraps each sink once it is opened (tests inject faults with it). */
  wrapSink?: (sink: Sink, target: string) => Sink;
}

/** The config file bundled with the function: $DYNASHIFT_CONFIG, else dynashift.config.json in the task root. */
export async function configFromEnvironment(): Promise<ResolvedConfig> {
  const path = process.env.DYNASHIFT_CONFIG ?? join(process.env.LAMBDA_TASK_ROOT ?? process.cwd(), 'dynashift.config.json');
  return loadConfig(path);
}

/** Loads the config once per container and checks it is the migration this function was deployed for. */
export function configLoader(opts: RunnerOptions): () => Promise<ResolvedConfig> {
  let pending: Promise<ResolvedConfig> | undefined;
  return () => {
    pending ??= (async () => {
      const source = opts.config ?? configFromEnvironment;
      const config = typeof source === 'function' ? await source() : source;
      const expected = process.env.DYNASHIFT_MIGRATION;
      if (expected && expected !== config.name) {
        throw new DynashiftError(
          'STATE_CONFIG_MISMATCH',
          `this function was deployed for migration "${expected}" but its bundled config is for "${config.name}"`,
          {
            hint: "bundle the same config the construct was given (or give the construct this config's name)",
          },
        );
      }
      refuseWriteOnceTargets(config);
      await loadTargetSecrets(config, opts);
      return config;
    })().catch((err: unknown) => {
      pending = undefined; // a failed load is retried on the next invocation
      throw err;
    });
    return pending;
  };
}

/**
 * A write-once target (export files) takes one writer and no stream: the runner's parallel segment copies and its
 * stream handler can't write it. Refused here too, for a construct deployed without `dynashift deploy`'s check.
 */
function refuseWriteOnceTargets(config: ResolvedConfig): void {
  for (const [name, target] of Object.entries(config.targets)) {
    if (!sinkKindOf(target).capabilities.writeOnce) continue;
    throw new DynashiftError(
      'TARGET_NOT_DEPLOYABLE',
      `target ${name} (${target.kind}) is write-once export files, which the AWS runner does not write`,
      {
        side: 'target',
        hint: 'run this migration with `dynashift run`, or use a DynamoDB or PostgreSQL target with the AWS runner',
        exitCode: 2,
      },
    );
  }
}

/**
 * Reads the connection strings the targets keep in Secrets Manager, once per container: the sinks opened from them
 * (and their connection pools) are reused by every warm invocation. They stay in postgres-secrets.ts, never in the config.
 */
async function loadTargetSecrets(config: ResolvedConfig, opts: RunnerOptions): Promise<void> {
  if (secretIdsOf(config.targets).length === 0) return;
  const endpoint = process.env.DYNASHIFT_SECRETS_ENDPOINT;
  opts.secretsClient ??= new SecretsManagerClient({
    ...(endpoint ? { endpoint, region: process.env.AWS_REGION ?? 'us-east-1' } : {}),
  });
  await loadConnectionSecrets(config.targets, opts.secretsClient);
}

/** A store on the state table; `owner` names the leases it takes (an invocation id). */
export function stateStoreFor(opts: RunnerOptions, config: ResolvedConfig, owner?: string): DynamoDbStateStore {
  // The construct's environment names the table it created; the config's `state.table` (the same table, named for the
  // operating commands) is the fallback.
  const table = opts.stateTable ?? process.env.DYNASHIFT_STATE_TABLE ?? config.state?.table;
  if (!table) {
    throw new DynashiftError('CONFIG_INVALID', 'no state table: the AWS runners keep the migration state in a DynamoDB table', {
      hint: 'set DYNASHIFT_STATE_TABLE (the DynashiftMigration construct does), pass stateTable, or set state.table in the config',
      side: 'state',
    });
  }
  // $DYNASHIFT_STATE_ENDPOINT points the state table at DynamoDB Local (SAM local, smoke tests); unset on AWS.
  const endpoint = process.env.DYNASHIFT_STATE_ENDPOINT;
  opts.stateClient ??= clientsFor(
    { table, ...(endpoint ? { endpoint } : {}) },
    { side: 'state', setting: 'DYNASHIFT_STATE_TABLE', table, ...(endpoint ? { endpoint } : {}) },
  ).dynamodb;
  return new DynamoDbStateStore({ client: opts.stateClient, table, migration: config.name, ...(owner ? { owner } : {}) });
}

/** The runtime facts `prepare` stored; undefined until it has run. Refuses a config that changed since. */
export async function loadRuntime(store: DynamoDbStateStore, config: ResolvedConfig): Promise<RunnerRuntime | undefined> {
  const runtime = await store.loadRuntime();
  if (runtime && runtime.configFingerprint !== runnerFingerprint(config)) {
    throw new DynashiftError(
      'STATE_CONFIG_MISMATCH',
      `migration ${config.name} was prepared with other tables or backfill segments than this function's config`,
      {
        hint: 'deploy the config the migration started with, or give the migration another name to start over',
      },
    );
  }
  return runtime;
}

/**
 * Whether the stream handler spools a source's records while its backfill runs (the dirty-key spool, docs/aws.md):
 * stream.duringBackfill (the default) and a strategy that copies a snapshot. Otherwise it returns every batch for
 * redelivery until the backfill is complete, as before.
 */
export function spoolsDuringBackfill(config: ResolvedConfig, strategy: BackfillStrategyName): boolean {
  return config.stream.duringBackfill && strategyFor(strategy).copiesSnapshot;
}

export function mapperFor(config: ResolvedConfig, runtime: RunnerRuntime): ItemMapper {
  return new ItemMapper({ transform: config.transform, targets: runtime.targetKeys, singleTarget: config.singleTarget });
}

/** Opens every target through its driver, exactly as the CLI does (same sinks, same batching and retries). */
export async function openSinks(
  config: ResolvedConfig,
  runtime: RunnerRuntime,
  opts: RunnerOptions,
  limits: { maxWriteUnitsPerSecond?: number | null } = {},
): Promise<Record<string, Sink>> {
  const sinks: Record<string, Sink> = {};
  for (const [name, target] of Object.entries(config.targets)) {
    const keySchema = runtime.targetKeys[name];
    if (!keySchema) {
      throw new DynashiftError('STATE_CONFIG_MISMATCH', `target ${name} has no key schema in the prepared runtime state`, {
        hint: 'run the state machine again from the start: its prepare step records every target',
      });
    }
    const wu = limits.maxWriteUnitsPerSecond;
    const sink = (await driverFor(target)).open(name, target, {
      keySchema,
      concurrency: config.write.concurrency,
      ...(config.guard ? { guard: config.guard } : {}),
      ...(wu
        ? { maxWriteUnitsPerSecond: wu }
        : config.write.maxWriteUnitsPerSecond && wu === undefined
          ? { maxWriteUnitsPerSecond: config.write.maxWriteUnitsPerSecond }
          : {}),
    });
    sinks[name] = opts.wrapSink ? opts.wrapSink(sink, name) : sink;
  }
  return sinks;
}
