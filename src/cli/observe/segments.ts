import type { MigrationState, SourceState } from '../../state/migration-state.js';

export interface SegmentRow {
  segment: string;
  items: number;
  done: boolean;
}

/** One source's backfill, segment by segment (scan segments, export data files, or touch segments). */
export interface SourceProgress {
  source: string;
  table: string;
  strategy: string;
  items: number;
  estimatedItems: number;
  complete: boolean;
  segments: SegmentRow[];
}

export function sourceProgress(state: MigrationState): SourceProgress[] {
  return Object.entries(state.sources).map(([source, s]) => ({
    source,
    table: s.table,
    strategy: s.backfill.strategy,
    items: s.backfill.itemsWritten,
    estimatedItems: Math.max(s.backfill.estimatedItems ?? 0, s.backfill.itemsWritten),
    complete: s.backfill.completedAt !== undefined,
    segments: segmentsOf(s),
  }));
}

/** Touch keeps its own per-segment state (only the touch strategy records `backfill.touch`); the others, partitions. */
function segmentsOf(s: SourceState): SegmentRow[] {
  if (s.backfill.touch) {
    const touched = (s.backfill.touch?.touched as { segments?: Record<string, { written: number; done: boolean }> } | undefined)?.segments ?? {};
    return Object.entries(touched).map(([segment, t]) => ({ segment, items: t.written, done: t.done }));
  }
  return Object.entries(s.backfill.partitions).map(([segment, p]) => ({ segment, items: p.items, done: p.done }));
}
