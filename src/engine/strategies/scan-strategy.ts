import { systemClock } from '../../core/clock.js';
import { RateMeter } from '../../core/rate-limiter.js';
import { ScanSource } from '../../sources/scan/scan-source.js';
import { SNAPSHOT_MARGIN_MS } from '../../core/constants.js';
import type { BackfillStrategy } from './backfill-strategy.js';
import { copySnapshot } from './copy-snapshot.js';
import { scanInWorkers } from '../workers/scan-in-workers.js';

/** Parallel Scan segments of the live table; the stream is applied from the scan's start (minus the margin). */
export const scanStrategy: BackfillStrategy = {
  name: 'scan',
  copiesSnapshot: true,
  readsTable: true,
  readsExport: false,
  fillsWriteOnceTarget: true,
  awsRunner: { map: 'segments', segmentWork: 'copy' },
  loadsTargets: () => true,
  runGrants: () => ({ actions: ['dynamodb:Scan'], notes: [] }),
  fingerprint: (config) => config.backfill.segments,
  async start({ startedAt, stream }) {
    stream.skipBefore = startedAt - SNAPSHOT_MARGIN_MS;
  },
  run(input, signal) {
    const { ctx, source: name } = input;
    const { config } = ctx;
    const totalSegments = input.state.backfill.segments ?? config.backfill.segments;
    const inWorkers = scanInWorkers(input, totalSegments, signal);
    if (inWorkers) return inWorkers;
    const source = new ScanSource({
      name,
      client: ctx.sourceClients[name]!.dynamodb,
      table: input.state.table,
      totalSegments,
      pageSize: config.backfill.pageSize,
      consistentRead: config.backfill.consistentRead,
      limiter: ctx.readLimiters[name]!,
      meter: new RateMeter(systemClock),
    });
    return copySnapshot(input, source, signal);
  },
};
