import { SnapshotGate } from '../../core/snapshot-gate.js';
import type { SourceState } from '../../state/migration-state.js';
import { SNAPSHOT_MARGIN_MS } from '../../core/constants.js';

/**
 * The gates between each source's backfill and its stream applier while both run (stream.duringBackfill): the backfill
 * admits its pages through them, the forward applier marks and waits through them. Open only while the backfill runs.
 */
export class SnapshotGates {
  private gates: Record<string, SnapshotGate> = {};

  constructor(
    private readonly sources: Record<string, SourceState>,
    private readonly now: () => number = Date.now,
  ) {}

  /** One gate per source. An export's pages are all as of its export time, however late they are loaded. */
  open(): void {
    for (const [name, src] of Object.entries(this.sources)) {
      const snapshotAt = src.backfill.export?.exportTime;
      this.gates[name] = new SnapshotGate({ marginMs: SNAPSHOT_MARGIN_MS, now: this.now, ...(snapshotAt !== undefined ? { snapshotAt } : {}) });
    }
  }

  get(source: string): SnapshotGate | undefined {
    return this.gates[source];
  }

  /** The backfill is over (or stopped): nothing waits, nothing is kept. */
  close(): void {
    for (const gate of Object.values(this.gates)) gate.close();
    this.gates = {};
  }
}
