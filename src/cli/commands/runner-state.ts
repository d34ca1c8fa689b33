import type { ResolvedConfig } from '../../config/resolved-config.js';
import { clientsFor } from '../../aws/clients.js';
import { DynashiftError } from '../../errors.js';
import type { RunnerSourceView } from '../../engine/runner-sync.js';
import { spoolsDuringBackfill } from '../../runners/lambda/runtime.js';
import { DynamoDbStateStore } from '../../state/dynamodb-state-store.js';
import type { MigrationState } from '../../state/migration-state.js';

/** The AWS runner's state table named by the config's `state` (the stack's StateTableName output). */
export function openRunnerStore(config: ResolvedConfig): DynamoDbStateStore {
  const ref = config.state!;
  const clients = clientsFor(ref, {
    side: 'state',
    setting: 'state',
    table: ref.table,
    ...(ref.endpoint ? { endpoint: ref.endpoint } : {}),
    ...(ref.profile ? { profile: ref.profile } : {}),
    ...(ref.roleArn ? { roleArn: ref.roleArn } : {}),
  });
  return new DynamoDbStateStore({ client: clients.dynamodb, table: ref.table, migration: config.name });
}

/** The stored state; refuses when the runner has not prepared the migration (nothing to operate yet). */
export async function loadRunnerState(store: DynamoDbStateStore, config: ResolvedConfig): Promise<MigrationState> {
  const state = await store.load();
  if (!state) {
    throw new DynashiftError('NOT_RUNNING', `the AWS runner has not prepared migration ${config.name} in ${store.location}`, {
      hint: "start an execution of the state machine (its Prepare step writes the state); check that state.table is the stack's StateTableName output and `name` the construct's migrationName",
      side: 'state',
    });
  }
  return state;
}

/** Per source: the stream handler's progress and evidence, and the spool's mode and size. */
export async function runnerViews(store: DynamoDbStateStore, state: MigrationState, config: ResolvedConfig): Promise<RunnerSourceView[]> {
  const progress = await store.streamProgress();
  const spool = store.spool();
  return Promise.all(
    Object.entries(state.sources).map(async ([source, src]) => {
      const p = progress.find((x) => x.source === source);
      const control = spoolsDuringBackfill(config, src.backfill.strategy) ? await spool.control(source) : undefined;
      return {
        source,
        ...(p ? { progress: p } : {}),
        ...(control ? { spool: control, spoolKeys: await spool.count(source) } : {}),
      };
    }),
  );
}
