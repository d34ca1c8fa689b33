import { DynashiftError } from '../errors.js';
import type { MapFailure } from '../core/protocol.js';
import type { RejectedWrite } from '../sinks/sink.js';
import type { DeadLetterEntry, StateStore } from '../state/state-store.js';
import type { Logger } from './logger.js';

/**
 * Every item the transform or a target refuses goes to the dead-letter file with its error — in both modes. Then
 * 'halt' stops the migration (the checkpoint stays before the item, so a fixed rerun retries it) and 'dead-letter'
 * lets it continue past.
 */
export class FailurePolicy {
  count = 0;

  constructor(private readonly store: StateStore, private readonly mode: 'halt' | 'dead-letter', private readonly log: Logger) {}

  async handle(mapFailures: MapFailure[], rejected: RejectedWrite[]): Promise<void> {
    if (mapFailures.length === 0 && rejected.length === 0) return;
    const at = new Date().toISOString();
    const entries: DeadLetterEntry[] = [
      ...mapFailures.map((f): DeadLetterEntry => ({
        at, stage: f.stage === 'backfill' ? 'backfill' : 'stream', source: f.source, sourceKey: f.sourceKey,
        item: f.item ?? f.record, ...(f.record ? { sequenceNumber: f.record.sequenceNumber } : {}), error: f.error,
      })),
      ...rejected.map((r): DeadLetterEntry => ({
        at, stage: r.op.origin.via === 'backfill' ? 'backfill' : 'stream', source: r.op.origin.source, sourceKey: r.op.origin.sourceKey,
        item: r.op.kind === 'put' ? r.op.item : { deleteKey: r.op.key }, target: r.op.target,
        ...(r.op.origin.sequenceNumber ? { sequenceNumber: r.op.origin.sequenceNumber } : {}), error: r.error,
      })),
    ];
    await this.store.appendDeadLetters(entries);
    this.count += entries.length;
    const first = entries[0]!;
    if (this.mode === 'halt') {
      throw new DynashiftError(first.target ? 'ITEM_REJECTED' : 'TRANSFORM_FAILED',
        `${entries.length} item(s) failed; first: source key ${JSON.stringify(first.sourceKey)}${first.target ? ` → target ${first.target}` : ''}: [${first.error.code}] ${first.error.message}`, {
          hint: `see ${this.store.deadLetterLocation()}; fix the transform or the item, then rerun the same command — or rerun with --on-error=dead-letter to set such items aside and continue`,
          details: { deadLetterFile: this.store.deadLetterLocation() },
        });
    }
    this.log.warn({ count: entries.length, file: this.store.deadLetterLocation(), first: first.error }, 'items dead-lettered');
  }
}
