import type { ResolvedConfig } from '../config/resolved-config.js';
import { DynashiftError, StreamGapError } from '../errors.js';
import { openStreamPosition } from '../sources/stream/open-position.js';
import type { StreamsApi } from '../sources/stream/streams-api.js';
import type { BackfillState, MigrationState, StreamState } from '../state/migration-state.js';
import type { Logger } from './logger.js';
import type { Plan } from './plan.js';
import { resumeWithTransform } from './resume-check.js';
import { fingerprint, transformFingerprint } from './snapshot.js';
import { strategyFor } from './strategies/registry.js';
import type { ExportStartControl } from './strategies/backfill-strategy.js';

export interface ProtocolStartInput {
  config: ResolvedConfig;
  plan: Plan;
  /** Runs `use` with the Streams API of a source, on a client the runner owns (and destroys). */
  withStreams: <T>(source: string, use: (api: StreamsApi) => Promise<T>) => Promise<T>;
  /** The scan segments the runner copies (recorded in the backfill state of strategies that read the table). */
  segments: number;
  /** Re-copy every item under the current transform, keeping the stream position (engine/resume-check.ts). */
  rebackfill: boolean;
  /** Record the current transform, keeping the items already written as they are (engine/resume-check.ts). */
  acceptTransform?: boolean;
  /** Where the state lives, for messages (the state folder, or the state table). */
  stateWhere: string;
  /** How to drop the state, for the refusal of a changed config. */
  startOverHint: string;
  log: Logger;
  /** How an `export.start` export is taken (the Step Functions Prepare task bounds its wait). */
  exportStart?: ExportStartControl;
}

/**
 * The start of the protocol, the same for every runner (the CLI's `run`, the Step Functions Prepare task): a stored
 * state is resumed only if it was made for this config and its streams are still the ones it recorded, and only under
 * the transform it was copied with (or re-copied with `--rebackfill`); otherwise each source's stream position is
 * opened first, then the snapshot start recorded with what the strategy says the snapshot covers
 * (docs/consistency.md). A fresh state stays in phase `new`: the runner moves it (engine/phase-machine.ts).
 */
export async function startProtocol(
  existing: MigrationState | undefined,
  input: ProtocolStartInput,
): Promise<{ state: MigrationState; resumed: boolean }> {
  const state = existing ?? (await initState(input));
  checkResumable(input, state);
  resumeWithTransform(state, transformFingerprint(input.config), {
    rebackfill: input.rebackfill,
    acceptTransform: input.acceptTransform === true,
    now: Date.now(),
    stateDir: input.stateWhere,
    warn: (m) => input.log.warn({}, m),
  });
  return { state, resumed: existing !== undefined };
}

async function initState(input: ProtocolStartInput): Promise<MigrationState> {
  const { config, plan, log } = input;
  const now = new Date().toISOString();
  const state: MigrationState = {
    version: 1,
    migration: config.name,
    configFingerprint: fingerprint(config),
    createdAt: now,
    updatedAt: now,
    phase: 'new',
    sources: {},
    deadLetters: 0,
  };
  const strategy = strategyFor(config.backfill.strategy);
  for (const [name, ref] of Object.entries(config.sources)) {
    const info = plan.sources[name]!;
    const stream: StreamState = plan.writeOnceOnly
      ? { streamArn: '', viewType: '', openedAt: new Date().toISOString(), shards: {} } // files target: snapshot only
      : await input.withStreams(name, (api) => openStreamPosition(api, info.stream.arn!, info.stream.viewType!, Date.now()));
    const startedAt = Date.now();
    const backfill: BackfillState = {
      strategy: strategy.name,
      startedAt: new Date(startedAt).toISOString(),
      partitions: {},
      itemsWritten: 0,
      bytesRead: 0,
      estimatedItems: info.itemCount,
      ...(strategy.readsTable ? { segments: input.segments } : {}),
      ...(plan.ttlHorizons[name]?.horizon !== undefined ? { ttlHorizon: new Date(plan.ttlHorizons[name]!.horizon!).toISOString() } : {}),
    };
    await strategy.start({
      config,
      plan,
      source: name,
      startedAt,
      backfill,
      stream,
      log,
      ...(input.exportStart ? { exportStart: input.exportStart } : {}),
    });
    state.sources[name] = { table: ref.table, stream, backfill };
    log.info({ source: name, stream: info.stream.arn, shards: Object.keys(stream.shards).length }, 'stream position opened');
  }
  return state;
}

function checkResumable(input: ProtocolStartInput, state: MigrationState): void {
  if (state.configFingerprint !== fingerprint(input.config)) {
    throw new DynashiftError(
      'STATE_CONFIG_MISMATCH',
      `the state in ${input.stateWhere} belongs to a migration with other tables or backfill segments`,
      {
        hint: input.startOverHint,
      },
    );
  }
  for (const [name, src] of Object.entries(state.sources)) {
    const current = input.plan.sources[name]?.stream.arn;
    // A files target's migration opened no stream position (streamArn ''): nothing to lose.
    if (src.stream.streamArn !== '' && current !== src.stream.streamArn) {
      throw new StreamGapError(
        `The stream of source ${src.table} changed since the migration started (${src.stream.streamArn} → ${current ?? 'none'}): writes made while it was disabled were never captured.`,
      );
    }
  }
}
