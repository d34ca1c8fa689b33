/**
 * The meeting point of a backfill and a stream applier that run at the same time (docs/consistency.md, "Applying the
 * stream during the backfill"). Pure: no timers, no I/O; time comes in through `now`.
 *
 * The danger it removes: a page the backfill read at time T lands on the targets after the stream applier wrote a
 * change made after T, and puts the older value back. Two rules, each one synchronous step, so nothing interleaves:
 *
 * - **admit** (backfill, once a page is read): an item whose key the stream applier has already marked with a change
 *   that may be newer than the page's read is dropped from the page (the stream carries that change, and every later
 *   one). Every other item's key is locked until the page's writes have landed. A page may be admitted slice by slice,
 *   each slice just before its writes are sent (`admitSlice`): the rule is the same, applied later and to fewer keys.
 * - **enter** (stream applier, before it writes a page of records): every record's key is marked with the record's
 *   creation time, then the applier waits for any lock held on those keys.
 *
 * So a change newer than a page's read either was marked before the page was admitted (its item is dropped), or is
 * written after the page's writes (it waits for the lock). Marks older than every page still being read, minus the
 * margin, can't drop anything any more and are forgotten.
 */
export interface SnapshotGateOptions {
  /**
   * How far a record's ApproximateCreationDateTime may lag behind the moment a read that missed it began: the
   * timestamp's rounding (a second on AWS, a minute on DynamoDB Local) plus clock skew (SNAPSHOT_MARGIN_MS).
   */
  marginMs: number;
  now: () => number;
  /**
   * The earliest time a page's items may have been read at. Unset for live reads (Scan): a page is read after it was
   * asked for. An export's items are all as of its exportTime, however late its files are loaded.
   */
  snapshotAt?: number;
}

/** A read in progress: taken before the read is asked for, so its start bounds the read from below. */
export interface ReadTicket {
  readonly startedAt: number;
}

export interface AdmittedPage<T> {
  admitted: T[];
  /** Items left to the stream, which carries a change at least as new as the page's read. */
  dropped: number;
  /** Unlocks the admitted keys. Call once the page's writes have landed or been dead-lettered, or the run stops. */
  release: () => void;
}

interface Hold {
  done: Promise<void>;
  resolve: () => void;
}

export class SnapshotGate {
  private readonly marks = new Map<string, number>();
  private readonly locks = new Map<string, Hold>();
  private readonly reads = new Set<ReadTicket>();
  private closed = false;
  private lastPruneAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly opts: SnapshotGateOptions) {}

  /** Called before a page is asked for. */
  beginRead(): ReadTicket {
    const ticket = { startedAt: this.opts.now() };
    this.reads.add(ticket);
    return ticket;
  }

  /** The read ended: without a page (end of partition, stop, error), or its last slice was admitted. */
  endRead(ticket: ReadTicket): void {
    this.reads.delete(ticket);
  }

  /**
   * Decides a page in one synchronous step: drops the items the stream has overtaken and locks the rest. Ends the read.
   * `keyOf` gives an item's source key id (`core/item.ts` keyId).
   */
  admit<T>(ticket: ReadTicket, items: readonly T[], keyOf: (item: T) => string): AdmittedPage<T> {
    this.reads.delete(ticket);
    return this.admitSlice(ticket, items, keyOf);
  }

  /**
   * Decides one slice of a page the way `admit` decides a page, against the same read time, but leaves the read open:
   * the page's other slices are admitted later under the same ticket. Call `endRead` once the last one is admitted
   * (until then the marks that could still drop its items are kept). The backfill admits each slice just before its
   * writes are sent, so a lock is held while one slice's writes are in flight, not while the whole page's queue drains,
   * and a change marked meanwhile drops its item instead of waiting for it.
   */
  admitSlice<T>(ticket: ReadTicket, items: readonly T[], keyOf: (item: T) => string): AdmittedPage<T> {
    if (this.closed) return { admitted: [...items], dropped: 0, release: () => {} };
    const readFrom = Math.min(ticket.startedAt, this.opts.snapshotAt ?? Number.POSITIVE_INFINITY);
    const newerFrom = readFrom - this.opts.marginMs;
    const admitted: T[] = [];
    const keys: string[] = [];
    let dropped = 0;
    for (const item of items) {
      const key = keyOf(item);
      const mark = this.marks.get(key);
      if (mark !== undefined && mark >= newerFrom) {
        dropped++;
        continue;
      }
      admitted.push(item);
      keys.push(key);
    }
    const hold = newHold();
    for (const key of keys) this.locks.set(key, hold);
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      for (const key of keys) if (this.locks.get(key) === hold) this.locks.delete(key);
      hold.resolve();
      this.prune();
    };
    return { admitted, dropped, release };
  }

  /**
   * Marks the keys of a page of change records and tells the applier what to wait for before writing them: undefined
   * when no key is locked (the common case, and no promise is made). `createdAt` is the record's
   * ApproximateCreationDateTime; without one the mark is now, which is never earlier than the record.
   */
  enter(records: readonly { key: string; createdAt?: number | undefined }[]): Promise<void> | undefined {
    if (this.closed) return undefined;
    const now = this.opts.now();
    let waits: Set<Promise<void>> | undefined;
    for (const { key, createdAt } of records) {
      const at = createdAt ?? now;
      const mark = this.marks.get(key);
      if (mark === undefined || at > mark) {
        // Re-inserted so the map stays roughly in mark order, which lets prune stop at the first live entry.
        this.marks.delete(key);
        this.marks.set(key, at);
      }
      const hold = this.locks.get(key);
      if (hold) (waits ??= new Set()).add(hold.done);
    }
    this.prune();
    if (!waits) return undefined;
    return Promise.all(waits).then(() => undefined);
  }

  /** The backfill is over: nothing more to decide, every mark can go, and the applier no longer marks. */
  close(): void {
    this.closed = true;
    this.marks.clear();
    for (const hold of this.locks.values()) hold.resolve();
    this.locks.clear();
  }

  /** Marks kept, for the progress report and tests. */
  get size(): number {
    return this.marks.size;
  }

  /** Forgets marks that no page still being read (or read from now on) could be dropped for. At most once a second. */
  private prune(): void {
    const now = this.opts.now();
    if (now - this.lastPruneAt < 1_000) return;
    this.lastPruneAt = now;
    let oldestRead = Math.min(now, this.opts.snapshotAt ?? Number.POSITIVE_INFINITY);
    for (const r of this.reads) oldestRead = Math.min(oldestRead, r.startedAt);
    const horizon = oldestRead - this.opts.marginMs;
    for (const [key, at] of this.marks) {
      if (at >= horizon) break;
      this.marks.delete(key);
    }
  }
}

function newHold(): Hold {
  let resolve!: () => void;
  const done = new Promise<void>((r) => (resolve = r));
  return { done, resolve };
}
