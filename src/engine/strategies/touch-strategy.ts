import { systemClock } from '../../core/clock.js';
import { RateLimiter } from '../../core/rate-limiter.js';
import { estimateTouchCost, removeMarkers, stripTouchMarker, touchAll, type TouchState } from '../../sources/touch/index.js';
import { SNAPSHOT_MARGIN_MS } from '../../core/constants.js';
import type { BackfillStrategy } from './backfill-strategy.js';

/**
 * Touch: every item is updated (conditionally on existing, so a concurrent delete is never undone) so that it flows
 * through the stream; then the marker is removed again. The stream, applied afterwards, does the copying.
 */
export const touchStrategy: BackfillStrategy = {
  name: 'touch',
  copiesSnapshot: true,
  readsTable: true,
  readsExport: false,
  fillsWriteOnceTarget: false,
  awsRunner: { map: 'segments', segmentWork: 'touch' },
  loadsTargets: () => true,
  runGrants: () => ({ actions: ['dynamodb:Scan', 'dynamodb:UpdateItem'], notes: [] }),
  planNotes(info) {
    const cost = estimateTouchCost(info.itemCount, info.itemCount > 0 ? info.sizeBytes / info.itemCount : 1024);
    return [
      `touch: every item of ${info.table} is updated twice (marker set, then removed): about ${cost.writeUnits.toLocaleString('en-US')} source write units and ${cost.streamRecords.toLocaleString('en-US')} stream records — other consumers of the stream and Global Table replicas see them too`,
    ];
  },
  fingerprint: (config) => config.backfill.segments,
  async start({ startedAt, backfill, stream }) {
    stream.skipBefore = startedAt - SNAPSHOT_MARGIN_MS;
    backfill.touch = {};
  },
  restart(backfill) {
    backfill.touch = {}; // both passes again: marker set, then removed
  },
  async run(input, signal) {
    const { ctx, source: name } = input;
    const { config } = ctx;
    const backfill = input.state.backfill;
    const touchCfg = config.backfill.touch ?? {};
    const t = (backfill.touch ??= {});
    const common = {
      client: ctx.sourceClients[name]!.dynamodb,
      table: input.state.table,
      keySchema: ctx.sourceKeys[name]!,
      segments: backfill.segments ?? config.backfill.segments,
      concurrency: config.backfill.concurrency,
      signal,
      ...(touchCfg.marker ? { marker: touchCfg.marker } : {}),
      limiter: new RateLimiter(touchCfg.maxWriteUnitsPerSecond ?? Infinity, systemClock),
      readLimiter: ctx.readLimiters[name]!,
    };
    if (!t.touchedDone) {
      const r = await touchAll({ ...common, state: (t.touched ??= { segments: {} }) as TouchState, onCheckpoint: () => {} });
      backfill.itemsWritten = r.state.segments ? Object.values(r.state.segments).reduce((n, seg) => n + seg.written, 0) : backfill.itemsWritten;
      if (!r.complete) return false;
      t.touchedDone = true;
      await input.flush();
    }
    if (!t.removedDone) {
      const r = await removeMarkers({ ...common, state: (t.removal ??= { segments: {} }) as TouchState, onCheckpoint: () => {} });
      if (!r.complete) return false;
      t.removedDone = true;
    }
    return true;
  },
  prepareRecord: (config) => (record) => stripTouchMarker(record, config.backfill.touch?.marker),
};
