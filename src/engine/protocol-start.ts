import type { ResolvedConfig } from '../config/resolved-config.js';
import { DynashiftError, StreamGapError } from '../errors.js';
import { openStreamPosition } from '../sources/stream/open-position.js';
import type { StreamsApi } from '../sources/stream/streams-api.js';
import type { BackfillState, MigrationState, StreamState } from '../state/migration-state.js';
import type { StateStore } from '../state/state-store.js';
import type { Logger } from './logger.js';
import type { Plan } from './plan.js';
import { fingerprint } from './fingerprint.js';
import { strategyFor } from './strategies/registry.js';

export interface ProtocolStartInput {
  config: ResolvedConfig;
  plan: Plan;
  /** The Streams API of a source, on the runner's client. */
  streams: (source: string) => StreamsApi;
  /** Where the state lives and how to drop it, for the refusal of a changed config. */
  stateWhere: string;
  startOverHint: string;
  log: Logger;
}

/**
 * The start of the protocol, the same for every runner: a stored state is resumed only if it was made for this
 * config and its streams are still the ones it recorded; otherwise each source's stream position is opened first, then
 * the snapshot start recorded with what the strategy says the snapshot covers (docs/consistency.md). The phase stays
 * `new`: the runner moves it (engine/phase-machine.ts) when it begins work.
 */
export async function startProtocol(store: Pick<StateStore, 'load'>, input: ProtocolStartInput): Promise<{ state: MigrationState; resumed: boolean }> {
  const existing = await store.load();
  if (existing) {
    checkResumable(input, existing);
    return { state: existing, resumed: true };
  }
  return { state: await initState(input), resumed: false };
}

async function initState(input: ProtocolStartInput): Promise<MigrationState> {
  const { config, plan, log } = input;
  const now = new Date().toISOString();
  const state: MigrationState = {
    version: 1, migration: config.name, configFingerprint: fingerprint(config), createdAt: now, updatedAt: now,
    phase: 'new', sources: {}, deadLetters: 0,
  };
  const strategy = strategyFor(config.backfill.strategy);
  for (const [name, ref] of Object.entries(config.sources)) {
    const info = plan.sources[name]!;
    const stream: StreamState = plan.writeOnceOnly
      ? { streamArn: '', viewType: '', openedAt: new Date().toISOString(), shards: {} } // files target: snapshot only
      : await openStreamPosition(input.streams(name), info.stream.arn!, info.stream.viewType!, Date.now());
    const startedAt = Date.now();
    const backfill: BackfillState = {
      strategy: strategy.name, startedAt: new Date(startedAt).toISOString(), partitions: {}, itemsWritten: 0, bytesRead: 0,
      estimatedItems: info.itemCount,
      ...(plan.ttlHorizons[name]?.horizon !== undefined ? { ttlHorizon: new Date(plan.ttlHorizons[name]!.horizon!).toISOString() } : {}),
    };
    await strategy.start({ config, plan, source: name, startedAt, backfill, stream, log });
    state.sources[name] = { table: ref.table, stream, backfill };
    log.info({ source: name, stream: info.stream.arn, shards: Object.keys(stream.shards).length }, 'stream position opened');
  }
  return state;
}

function checkResumable(input: ProtocolStartInput, state: MigrationState): void {
  if (state.configFingerprint !== fingerprint(input.config)) {
    throw new DynashiftError('STATE_CONFIG_MISMATCH', `the state ${input.stateWhere} belongs to a migration with other tables or backfill segments`, {
      hint: input.startOverHint,
    });
  }
  for (const [name, src] of Object.entries(state.sources)) {
    const current = input.plan.sources[name]?.stream.arn;
    // A files target's migration opened no stream position (streamArn ''): nothing to lose.
    if (src.stream.streamArn !== '' && current !== src.stream.streamArn) {
      throw new StreamGapError(`The stream of source ${src.table} changed since the migration started (${src.stream.streamArn} → ${current ?? 'none'}): writes made while it was disabled were never captured.`);
    }
  }
}
