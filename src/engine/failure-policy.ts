import { DynashiftError } from '../errors.js';
import type { AttributeMap } from '../core/item.js';
import type { MapFailure } from '../core/protocol.js';
import type { RejectedWrite } from '../sinks/sink.js';
import {
  deadLetterId,
  encodeMap,
  encodeRecord,
  failureKey,
  isUnresolved,
  type DeadLetterEntry,
  type DeadLetterResolution,
} from '../state/dead-letters.js';
import type { StateStore } from '../state/state-store.js';
import type { Logger } from './logger.js';

/** The run stopped because an item failed (onError 'halt'); runners that stop differently (Lambda) catch this. */
export class ItemFailureHalt extends DynashiftError {
  override readonly name = 'ItemFailureHalt';
}

/** What a page applied in full: the source items (backfill) or change records (stream) whose every write landed. */
export interface Landed {
  sourceKey: AttributeMap;
  sequenceNumber?: string;
}

/**
 * Every item the transform or a target refuses goes to the dead-letter store with its error — in both modes. Then
 * 'halt' stops the migration (the checkpoint stays before the item, so a fixed rerun retries it) and 'dead-letter'
 * lets it continue past.
 *
 * After `load()` the policy knows the open failures: one it meets again (a resumed run re-reading the same page or
 * record) is not recorded twice, and one whose very write later lands — the same source item copied again by the
 * backfill, the same stream record applied again — is marked resolved ('rerun'). `count` is then the number of source
 * items with an open failure. Runners that don't load (Lambda, a Step Functions child) rely on the store's idempotent
 * keys instead.
 */
export class FailurePolicy {
  /** Failures this policy recorded (for metrics). */
  recorded = 0;
  /** Open failure keys by dead-letter id, when loaded. */
  private open: Map<string, Set<string>> | undefined;

  constructor(
    private readonly store: StateStore,
    private readonly mode: 'halt' | 'dead-letter',
    private readonly log: Logger,
  ) {}

  async load(): Promise<void> {
    const open = new Map<string, Set<string>>();
    for (const letter of await this.store.deadLetters()) {
      if (!isUnresolved(letter)) continue;
      open.set(letter.id, new Set(letter.failures.filter((f) => !f.resolved).map((f) => f.failureKey)));
    }
    this.open = open;
  }

  /** Source items with an open failure (loaded), or the failures recorded by this policy (not loaded). */
  get count(): number {
    return this.open ? this.open.size : this.recorded;
  }

  async handle(mapFailures: MapFailure[], rejected: RejectedWrite[]): Promise<void> {
    if (mapFailures.length === 0 && rejected.length === 0) return;
    const at = new Date().toISOString();
    const entries: DeadLetterEntry[] = [
      ...mapFailures.map(
        (f): DeadLetterEntry => ({
          id: deadLetterId(f.source, encodeMap(f.sourceKey)),
          at,
          stage: f.stage === 'backfill' ? 'backfill' : 'stream',
          source: f.source,
          sourceKey: encodeMap(f.sourceKey),
          ...(f.record ? { record: encodeRecord(f.record), sequenceNumber: f.record.sequenceNumber } : { item: encodeMap(f.item) }),
          ...(f.shardId ? { shardId: f.shardId } : {}),
          error: f.error,
        }),
      ),
      ...rejected.map(
        (r): DeadLetterEntry => ({
          id: deadLetterId(r.op.origin.source, encodeMap(r.op.origin.sourceKey)),
          at,
          stage: r.op.origin.via === 'backfill' ? 'backfill' : 'stream',
          source: r.op.origin.source,
          sourceKey: encodeMap(r.op.origin.sourceKey),
          item: r.op.kind === 'put' ? encodeMap(r.op.item) : { deleteKey: encodeMap(r.op.key) },
          target: r.op.target,
          ...(r.op.origin.sequenceNumber ? { sequenceNumber: r.op.origin.sequenceNumber } : {}),
          error: r.error,
        }),
      ),
    ];
    const fresh = entries.filter((e) => this.markOpen(e));
    await this.store.appendDeadLetters(fresh);
    this.recorded += fresh.length;
    const first = entries[0]!;
    if (this.mode === 'halt') {
      const code = first.target ? 'ITEM_REJECTED' : first.error.code === 'STREAM_RECORD_INCOMPLETE' ? 'STREAM_RECORD_INCOMPLETE' : 'TRANSFORM_FAILED';
      const whatToDo = `see ${this.store.deadLetterLocation()} (\`dynashift dead-letters list\`); fix the transform or the item, then rerun the same command (after a fix of the transform, add --accept-transform, or --rebackfill if the fix also changes items already copied) — or rerun with --on-error=dead-letter to set such items aside and continue`;
      throw new ItemFailureHalt(
        code,
        `${entries.length} item(s) failed; first: source key ${JSON.stringify(first.sourceKey)}${first.target ? ` → target ${first.target}` : ''}: [${first.error.code}] ${first.error.message}`,
        {
          hint: first.error.hint ? `${first.error.hint}; ${whatToDo}` : whatToDo,
          details: { deadLetterFile: this.store.deadLetterLocation(), side: first.target ? 'target' : 'source' },
        },
      );
    }
    this.log.warn({ count: entries.length, new: fresh.length, file: this.store.deadLetterLocation(), first: first.error }, 'items dead-lettered');
  }

  /**
   * Resolves the open failures whose write has now landed: a backfill failure when the same source item is copied
   * again, a stream failure when the same record is applied again. Only these: a later, different change of the item
   * does not repair what a failed one left behind when the target key moved (docs/consistency.md, dead letters).
   */
  async landed(
    stage: 'backfill' | 'stream',
    source: string,
    landed: () => Landed[],
    mapFailures: MapFailure[],
    rejected: RejectedWrite[],
  ): Promise<void> {
    if (!this.open || this.open.size === 0) return;
    const failed = new Set([
      ...mapFailures.map((f) => `${deadLetterId(f.source, encodeMap(f.sourceKey))}|${f.record?.sequenceNumber ?? ''}`),
      ...rejected.map((r) => `${deadLetterId(r.op.origin.source, encodeMap(r.op.origin.sourceKey))}|${r.op.origin.sequenceNumber ?? ''}`),
    ]);
    const resolutions: DeadLetterResolution[] = [];
    const at = new Date().toISOString();
    for (const l of landed()) {
      const id = deadLetterId(source, encodeMap(l.sourceKey));
      const keys = this.open.get(id);
      if (!keys || failed.has(`${id}|${l.sequenceNumber ?? ''}`)) continue;
      for (const key of [...keys]) {
        const kStage = key.slice(0, key.indexOf('|'));
        const kSeq = key.slice(key.lastIndexOf('|') + 1);
        if (kStage !== stage || (stage === 'stream' && kSeq !== l.sequenceNumber)) continue;
        resolutions.push({ id, failure: key, at, by: 'rerun' });
        keys.delete(key);
      }
      if (keys.size === 0) this.open.delete(id);
    }
    if (resolutions.length === 0) return;
    await this.store.resolveDeadLetters(resolutions);
    this.log.info({ resolved: resolutions.length, open: this.open.size }, 'dead-lettered failures applied on this run: resolved');
  }

  /** Records the failure as open; false when it already was (met again on a resumed run). */
  private markOpen(e: DeadLetterEntry): boolean {
    if (!this.open) return true;
    const key = failureKey(e);
    const id = e.id!;
    let keys = this.open.get(id);
    if (!keys) this.open.set(id, (keys = new Set()));
    if (keys.has(key)) return false;
    keys.add(key);
    return true;
  }
}
