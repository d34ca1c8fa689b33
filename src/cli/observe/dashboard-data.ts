import { statusReport } from '../commands/status.js';
import type { FileStateStore } from '../../state/file-state-store.js';
import type { MigrationState, ProgressSnapshot, TableActivity } from '../../state/migration-state.js';
import { readDeadLetterTail, type DeadLetterRow } from './dead-letter-tail.js';
import type { History, HistoryPoint } from './history.js';
import { sourceProgress, type SourceProgress } from './segments.js';

/** What the dashboard page draws, as `GET /api/status` returns it. Every list in it is bounded. */
export interface DashboardData {
  migration: string;
  phase: string;
  running: boolean;
  halt?: { code: string; message: string };
  next: string;
  reason: string;
  safeToCutOver: boolean;
  direction?: string;
  at: string;
  backfill: (Omit<SourceProgress, 'segments'> & { segments: SourceProgress['segments']; segmentCount: number; segmentsDone: number })[];
  stream: {
    records: number;
    recordsPerSecond: number;
    lagMs: number;
    caughtUp: boolean;
    shards: { source: string; shardId: string; state: string; lagMs?: number; applied: number }[];
  };
  itemsPerSecond: number;
  etaSeconds?: number;
  deadLetters: { count: number; file: string; recent: DeadLetterRow[] };
  history: HistoryPoint[];
  io: TableActivity[];
}

const MAX_SEGMENT_ROWS = 256;
const MAX_SHARD_ROWS = 100;
const MAX_CHART_POINTS = 600;

export function dashboardData(input: {
  migration: string;
  state: MigrationState | undefined;
  snapshot: ProgressSnapshot | undefined;
  store: FileStateStore;
  history: History;
}): DashboardData {
  const { state, snapshot, store } = input;
  const report = statusReport(state, store);
  const backfill = state
    ? sourceProgress(state).map((s) => ({
        ...s,
        segmentCount: s.segments.length,
        segmentsDone: s.segments.filter((seg) => seg.done).length,
        // Unfinished segments first: with thousands of export files, the ones still moving are the interesting ones.
        segments: [...s.segments.filter((seg) => !seg.done), ...s.segments.filter((seg) => seg.done)].slice(0, MAX_SEGMENT_ROWS),
      }))
    : [];
  const shards = (snapshot?.stream.shards ?? [])
    .filter((sh) => sh.state !== 'finished')
    .slice(0, MAX_SHARD_ROWS)
    .map((sh) => ({
      source: sh.source,
      shardId: sh.shardId,
      state: sh.state,
      applied: sh.applied,
      ...(sh.lagMs !== undefined ? { lagMs: sh.lagMs } : {}),
    }));
  return {
    migration: state?.migration ?? input.migration,
    phase: snapshot?.phase ?? report.phase,
    running: report.running,
    ...(report.runner?.halt ? { halt: report.runner.halt } : {}),
    next: report.next,
    reason: report.reason,
    safeToCutOver: report.safeToCutOver,
    ...(report.direction ? { direction: report.direction } : {}),
    at: new Date().toISOString(),
    backfill,
    stream: {
      records: snapshot?.stream.records ?? 0,
      recordsPerSecond: snapshot?.stream.recordsPerSecond ?? 0,
      lagMs: snapshot?.stream.lagMs ?? 0,
      caughtUp: snapshot?.stream.caughtUp ?? false,
      shards,
    },
    itemsPerSecond: snapshot?.backfill.itemsPerSecond ?? 0,
    ...(snapshot?.backfill.etaSeconds !== undefined ? { etaSeconds: snapshot.backfill.etaSeconds } : {}),
    deadLetters: {
      count: snapshot?.deadLetters ?? state?.deadLetters ?? 0,
      file: store.deadLetterLocation(),
      recent: readDeadLetterTail(store.deadLetterLocation()),
    },
    history: downsample(input.history.list(), MAX_CHART_POINTS),
    io: snapshot?.io ?? [],
  };
}

/** At most `max` points, one per bucket of consecutive seconds: rates averaged, lag at its worst (a peak stays seen). */
function downsample(points: HistoryPoint[], max: number): HistoryPoint[] {
  if (points.length <= max) return points;
  const size = Math.ceil(points.length / max);
  const out: HistoryPoint[] = [];
  for (let i = 0; i < points.length; i += size) {
    const bucket = points.slice(i, i + size);
    out.push({
      at: bucket[bucket.length - 1]!.at,
      itemsPerSecond: bucket.reduce((n, p) => n + p.itemsPerSecond, 0) / bucket.length,
      recordsPerSecond: bucket.reduce((n, p) => n + p.recordsPerSecond, 0) / bucket.length,
      lagMs: Math.max(...bucket.map((p) => p.lagMs)),
    });
  }
  return out;
}
