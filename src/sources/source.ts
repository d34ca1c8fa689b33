import type { AttributeMap } from '../core/item.js';
import type { BackfillCursor } from '../state/migration-state.js';

/**
 * A snapshot of the source's items, split into independent partitions (scan segments, export files) that can be read in
 * parallel and resumed from a cursor.
 */
export interface BackfillSource {
  readonly name: string;
  /** Partitions to read. Stable for a given configuration, so checkpoints stay valid across restarts. */
  partitions(): Promise<string[]>;
  /**
   * Reads one partition from `cursor` (undefined: from its start). Each page's cursor resumes right after that page;
   * undefined cursor on a page means the partition is done. A page belongs to the caller once yielded: the backfill
   * empties its `items` once they are written, so a source must not reuse a page's array.
   */
  read(partition: string, cursor: BackfillCursor | undefined, signal?: AbortSignal): AsyncIterable<BackfillPage>;
}

/** Opaque, JSON-serializable position inside a partition; the state stores it (state/migration-state.ts). */
export type { BackfillCursor };

export interface BackfillPage {
  items: AttributeMap[];
  cursor: BackfillCursor | undefined;
  /** Read capacity the page consumed, for the rate limiter and the report. */
  consumedCapacity?: number;
  bytes?: number;
}
