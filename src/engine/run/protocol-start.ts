import { DynashiftError, StreamGapError } from '../../errors.js';
import { openStreamPosition } from '../../sources/stream/open-position.js';
import { sdkStreamsApi } from '../../sources/stream/streams-api.js';
import type { BackfillState, MigrationState } from '../../state/migration-state.js';
import { locateBackfillExport } from '../export-backfill.js';
import type { Logger } from '../logger.js';
import { SNAPSHOT_MARGIN_MS, fingerprint } from '../snapshot.js';
import type { RunContext } from './run-context.js';

/** A fresh migration: the stream position is opened before the snapshot starts, and both are recorded. */
export async function initState(ctx: RunContext, log: Logger): Promise<MigrationState> {
  const now = new Date().toISOString();
  const state: MigrationState = {
    version: 1, migration: ctx.config.name, configFingerprint: fingerprint(ctx.config), createdAt: now, updatedAt: now,
    phase: 'new', sources: {}, deadLetters: 0,
  };
  const strategy = ctx.config.backfill.strategy;
  for (const [name, ref] of Object.entries(ctx.config.sources)) {
    const info = ctx.plan.sources[name]!;
    const stream = ctx.plan.writeOnceOnly
      ? { streamArn: '', viewType: '', openedAt: new Date().toISOString(), shards: {} } // files target: snapshot only
      : await openStreamPosition(sdkStreamsApi(ctx.sourceClients[name]!.streams), info.stream.arn!, info.stream.viewType!, Date.now());
    const startedAt = Date.now();
    const backfill: BackfillState = {
      strategy, startedAt: new Date(startedAt).toISOString(), partitions: {}, itemsWritten: 0, bytesRead: 0,
      estimatedItems: info.itemCount,
      ...(ctx.plan.ttlHorizons[name]?.horizon !== undefined ? { ttlHorizon: new Date(ctx.plan.ttlHorizons[name]!.horizon!).toISOString() } : {}),
    };
    // What the snapshot already holds: nothing older than its start (scan, touch) or the export's time needs applying.
    if (strategy === 'scan' || strategy === 'touch') stream.skipBefore = startedAt - SNAPSHOT_MARGIN_MS;
    if (strategy === 'none') backfill.completedAt = backfill.startedAt;
    if (strategy === 'export') {
      const exp = ctx.plan.exports[name] && ctx.config.backfill.export?.uri
        ? { uri: ctx.config.backfill.export.uri, exportTime: ctx.plan.exports[name]!.exportTime }
        : await locateBackfillExport(ctx, name, log);
      backfill.export = exp;
      backfill.estimatedItems = ctx.plan.exports[name]?.itemCount ?? info.itemCount;
      stream.skipBefore = exp.exportTime - SNAPSHOT_MARGIN_MS;
      if (ctx.config.backfill.export?.imported) backfill.completedAt = backfill.startedAt; // loaded by ImportTable
    }
    if (strategy === 'touch') backfill.touch = {};
    state.sources[name] = { table: ref.table, stream, backfill };
    log.info({ source: name, stream: info.stream.arn, shards: Object.keys(stream.shards).length }, 'stream position opened');
  }
  return state;
}

export function checkResumable(ctx: RunContext, state: MigrationState): void {
  if (state.configFingerprint !== fingerprint(ctx.config)) {
    throw new DynashiftError('STATE_CONFIG_MISMATCH',
      `the state in ${ctx.config.stateDir} belongs to a migration with other tables or backfill segments`, {
        hint: 'restore the original config, or give this migration another "name" (or remove its state folder) to start over',
      });
  }
  for (const [name, src] of Object.entries(state.sources)) {
    const current = ctx.plan.sources[name]?.stream.arn;
    if (src.stream.streamArn !== '' && current !== src.stream.streamArn) {
      throw new StreamGapError(`The stream of source ${src.table} changed since the migration started (${src.stream.streamArn} → ${current ?? 'none'}): writes made while it was disabled were never captured.`);
    }
  }
}
