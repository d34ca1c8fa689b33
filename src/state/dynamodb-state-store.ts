import { createHash, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import {
  BatchWriteItemCommand,
  CreateTableCommand,
  DeleteItemCommand,
  DescribeTableCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { sleep } from '../core/backoff.js';
import type { KeySchema } from '../core/item.js';
import { errorName } from '../aws/errors.js';
import { retryAws } from '../aws/aws-retry.js';
import { DynashiftError } from '../errors.js';
import {
  deadLetterId,
  failureKey,
  foldDeadLetters,
  isUnresolved,
  type DeadLetter,
  type DeadLetterEntry,
  type DeadLetterResolution,
} from './dead-letters.js';
import { KeySpool } from './key-spool.js';
import type { BackfillCursor, MigrationState, PartitionState } from './migration-state.js';
import { parseState } from './state-schema.js';
import type { StateLock, StateStore } from './state-store.js';

/**
 * The migration lock as the AWS runner holds it: `confirm()` extends the lease now and throws STATE_LOCKED if it was
 * lost, so a step that stalled past its lease stops before writing instead of racing the invocation that took over.
 */
export interface HeldLock extends StateLock {
  confirm(): Promise<void>;
}

/**
 * Migration state in a DynamoDB table, for runners where many processes share one migration (the Step Functions
 * backfill's children, the Lambda stream handler). Single-table design, one partition per migration:
 *
 * | sk                          | holds                                                                          |
 * | --------------------------- | ------------------------------------------------------------------------------ |
 * | `state`                     | MigrationState as JSON, without the per-segment cursors                         |
 * | `runtime`                   | what `prepare` learned that every later invocation needs (target keys, budget)  |
 * | `lock`                      | the migration-wide lease: owner + expiresAt (conditional writes)                |
 * | `segment#<source>#<n>`      | one scan segment: done, items, cursor, and its own lease (leaseOwner/ExpiresAt) |
 * | `stream#<source>`           | stream progress counters the stream handler adds to (progress only)            |
 * | `dlq#<hash>`                | one failure of one source item; the key is a hash of the item and the failure, so a |
 * |                             | retried failure lands once; `resolution` marks it resolved (rerun, retry, discard) |
 * | `spool#<source>`            | the dirty-key spool's control item (state/key-spool.ts; its keys have their own pk) |
 *
 * Why per-segment items: concurrent children checkpoint their own segment with a conditional update and never
 * overwrite each other's cursors, and a segment that is done never becomes undone.
 */
export interface DynamoDbStateStoreOptions {
  client: DynamoDBClient;
  table: string;
  /** The migration's name: the partition key. */
  migration: string;
  /** Who takes leases through this store (an invocation id); random by default. */
  owner?: string;
  /** How long the migration-wide lock lasts without renewal (default 60 s); it is renewed while held. */
  lockLeaseMs?: number;
  now?: () => number;
}

/** Facts `prepare` discovers once (they cost DescribeTable calls and samples) and every later invocation reuses. */
export interface RunnerRuntime {
  configFingerprint: string;
  sourceKeys: Record<string, KeySchema>;
  targetKeys: Record<string, KeySchema>;
  /** Source TTL attribute, by source name (for backfill.skipExpired). */
  ttlAttributes: Record<string, string>;
  /** Read units per second one backfill child may spend on a source: the total budget / concurrency (null: no cap). */
  segmentReadUnitsPerSecond: Record<string, number | null>;
  /** Write units per second one backfill child may spend per target (null: no cap). */
  segmentWriteUnitsPerSecond: number | null;
  segments: number;
  concurrency: number;
  preparedAt: string;
}

export interface SegmentCheckpoint {
  done: boolean;
  items: number;
  cursor?: BackfillCursor;
}

/**
 * What the stream handler recorded for one source's stream: counters for `status`, and the evidence `cutover` judges
 * "in sync" by. Lambda does not say which shard a batch came from, so the evidence is per source stream: the newest
 * batch's age, and when a batch was last applied, returned for redelivery, or found behind (older than
 * `state.maxLagSeconds`) — a lagging or halted shard keeps refreshing those while it is delivered.
 */
export interface StreamProgress {
  source: string;
  /** Records applied to the targets. */
  records: number;
  /** Records spooled while the backfill ran. */
  spooledRecords: number;
  skipped: number;
  writes: number;
  failedBatches: number;
  lastBatchAt?: string;
  /** ApproximateCreationDateTime (epoch ms) of the newest record handled. */
  lastRecordAt?: number;
  /** Sequence number of the last record handled (the applied position of the shard that delivered it). */
  lastSequenceNumber?: string;
  /** The last batch applied to the targets in full (epoch ms). */
  lastAppliedAt?: number;
  /** The last batch spooled in full (epoch ms). */
  lastSpooledAt?: number;
  /** The last batch that returned records for redelivery (a failure or a deferral; epoch ms). */
  lastFailedAt?: number;
  /** Age of the newest record of the last batch when it was handled (IteratorAge as the handler saw it). */
  lastAgeMs?: number;
  /** The last batch older than the lag threshold (epoch ms), and its age. */
  lastBehindAt?: number;
  lastBehindMs?: number;
}

/** One stream batch as the handler reports it (see StreamProgress). */
export interface StreamBatchReport {
  records: number;
  skipped: number;
  writes: number;
  failed: boolean;
  /** The batch was spooled (the backfill runs), not applied. */
  spooled?: boolean;
  lastRecordAt?: number;
  lastSequenceNumber?: string;
  ageMs?: number;
  /** The batch's age exceeds the lag threshold. */
  behind?: boolean;
}

/**
 * The migration lock is held by another invocation, or this one lost it (its lease ran out): the state machine retries
 * the step by this name, behind the holder (a dead holder's lease expires on its own).
 */
export class MigrationLockedError extends DynashiftError {
  override readonly name = 'MigrationLockedError';
  constructor(message: string, hint: string) {
    super('STATE_LOCKED', message, { side: 'state', hint });
  }
}

/** Another invocation holds this segment's lease; Step Functions retries the task after a pause. */
export class SegmentLeasedError extends DynashiftError {
  override readonly name = 'SegmentLeasedError';
  constructor(message: string, details?: Record<string, unknown>) {
    super('STATE_LOCKED', message, {
      hint: 'another invocation is copying this segment; it is retried once that invocation ends or its lease expires',
      ...(details ? { details } : {}),
    });
  }
}

/** The state item is close to DynamoDB's 400 KB item limit. */
const MAX_DOC_BYTES = 350_000;
/** A dead letter larger than this keeps its key and error but not the item (the item stays readable in the source). */
const MAX_DEAD_LETTER_BYTES = 300_000;
/** Attribute names as expression placeholders: several (items, records, owner…) are DynamoDB reserved words. */
const ATTRS: Record<string, string> = {
  '#done': 'done',
  '#items': 'items',
  '#cursor': 'cursorJson',
  '#bytes': 'bytesRead',
  '#at': 'updatedAt',
  '#leaseOwner': 'leaseOwner',
  '#leaseExp': 'leaseExpiresAt',
  '#owner': 'owner',
  '#exp': 'expiresAt',
  '#records': 'records',
  '#skipped': 'skipped',
  '#writes': 'writes',
  '#failed': 'failedBatches',
  '#lastBatchAt': 'lastBatchAt',
  '#lastRecordAt': 'lastRecordAt',
  '#lastSeq': 'lastSequenceNumber',
  '#spooledRecords': 'spooledRecords',
  '#lastAppliedAt': 'lastAppliedAt',
  '#lastSpooledAt': 'lastSpooledAt',
  '#lastFailedAt': 'lastFailedAt',
  '#lastAgeMs': 'lastAgeMs',
  '#lastBehindAt': 'lastBehindAt',
  '#lastBehindMs': 'lastBehindMs',
};

/** The ExpressionAttributeNames an expression uses (DynamoDB refuses unused ones). */
function names(...expressions: (string | undefined)[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of expressions) for (const m of e?.match(/#[A-Za-z]+/g) ?? []) if (ATTRS[m]) out[m] = ATTRS[m]!;
  return out;
}

const STATE = 'state';
const RUNTIME = 'runtime';
const LOCK = 'lock';
const SEGMENT = 'segment#';
const STREAM = 'stream#';
const DLQ = 'dlq#';

export class DynamoDbStateStore implements StateStore {
  readonly location: string;
  readonly owner: string;
  private readonly now: () => number;
  /** Last written or loaded form of each segment item, so `save()` writes only segments that changed. */
  private readonly segmentCache = new Map<string, string>();

  constructor(private readonly opts: DynamoDbStateStoreOptions) {
    this.location = `dynamodb://${opts.table}/${opts.migration}`;
    this.owner = opts.owner ?? `${hostname()}:${process.pid}:${randomUUID()}`;
    this.now = opts.now ?? Date.now;
  }

  get migration(): string {
    return this.opts.migration;
  }

  /** The dirty-key spool the stream handler fills while a backfill runs (state/key-spool.ts). */
  spool(): KeySpool {
    return new KeySpool({ client: this.opts.client, table: this.opts.table, migration: this.opts.migration });
  }

  // ---- StateStore ---------------------------------------------------------------------------------------------------

  async load(): Promise<MigrationState | undefined> {
    const [item, segments, deadLetters] = await Promise.all([this.get(STATE), this.query(SEGMENT), this.deadLetters()]);
    if (!item) return undefined;
    const state = this.parseStateItem(item);
    for (const seg of segments) {
      const { source, partition } = parseSegmentKey(seg.sk!.S!);
      const src = state.sources[source];
      if (!src) continue;
      const ps = segmentFromItem(seg);
      src.backfill.partitions[partition] = ps;
      this.segmentCache.set(seg.sk!.S!, JSON.stringify(ps));
    }
    for (const src of Object.values(state.sources)) {
      // Children count items into their own segment item; the state item's total is only as fresh as the last save.
      const fromSegments = Object.values(src.backfill.partitions).reduce((n, p) => n + p.items, 0);
      src.backfill.itemsWritten = Math.max(src.backfill.itemsWritten, fromSegments);
    }
    // Derived from what is unresolved, never a counter that only grows.
    state.deadLetters = deadLetters.filter(isUnresolved).length;
    return state;
  }

  /**
   * Writes the state item (atomic on its own) and every segment that changed since it was last loaded or saved. Each
   * segment item is self-contained, so a crash between them leaves every segment at an old or new cursor — both valid
   * positions (an old one re-copies pages, which the protocol allows). A segment marked done is never written back to
   * not-done.
   */
  async save(state: MigrationState): Promise<void> {
    const doc = structuredClone(state);
    const segmentWrites: Promise<void>[] = [];
    for (const [source, src] of Object.entries(doc.sources)) {
      for (const [partition, ps] of Object.entries(src.backfill.partitions)) {
        const sk = segmentKey(source, partition);
        const text = JSON.stringify(ps);
        if (this.segmentCache.get(sk) !== text) {
          segmentWrites.push(
            this.writeSegment(sk, ps).then(() => {
              this.segmentCache.set(sk, text);
            }),
          );
        }
      }
      src.backfill.partitions = {};
    }
    await Promise.all(segmentWrites);
    await this.put(STATE, { doc: { S: checkedDoc(doc, this.location) }, updatedAt: { S: new Date(this.now()).toISOString() } });
  }

  /**
   * Idempotent: an entry's key is a hash of the source item and the failure, so a retried batch that fails again adds
   * no second entry (and a resolved failure that happens again is open again: the put replaces its resolution).
   */
  async appendDeadLetters(entries: DeadLetterEntry[]): Promise<void> {
    const items = new Map<string, Record<string, AttributeValue>>();
    for (const e of entries) {
      const entry = { ...e, id: e.id ?? deadLetterId(e.source, e.sourceKey) };
      const sk = `${DLQ}${failureHash(entry.id, failureKey(entry))}`;
      items.set(sk, {
        pk: { S: this.opts.migration },
        sk: { S: sk },
        doc: { S: deadLetterDoc(entry) },
        at: { S: entry.at },
        itemId: { S: entry.id },
        stage: { S: entry.stage },
        source: { S: entry.source },
        errorCode: { S: entry.error.code },
        ...(entry.target ? { target: { S: entry.target } } : {}),
        ...(entry.sequenceNumber ? { sequenceNumber: { S: entry.sequenceNumber } } : {}),
      });
    }
    const requests: WriteRequest[] = [...items.values()].map((Item) => ({ PutRequest: { Item } }));
    for (let i = 0; i < requests.length; i += 25) await this.batchWrite(requests.slice(i, i + 25));
  }

  /** Marks the matching failure items resolved (one UpdateItem each). */
  async resolveDeadLetters(resolutions: DeadLetterResolution[]): Promise<void> {
    if (resolutions.length === 0) return;
    const letters = new Map((await this.deadLetters()).map((l) => [l.id, l]));
    for (const r of resolutions) {
      for (const f of letters.get(r.id)?.failures ?? []) {
        if (f.resolved || !f.ref || (r.failure !== undefined && r.failure !== f.failureKey)) continue;
        await this.opts.client
          .send(
            new UpdateItemCommand({
              TableName: this.opts.table,
              Key: this.key(f.ref),
              UpdateExpression: 'SET #resolution = :r',
              ConditionExpression: 'attribute_exists(pk)',
              ExpressionAttributeNames: { '#resolution': 'resolution' },
              ExpressionAttributeValues: {
                ':r': { S: JSON.stringify({ at: r.at, by: r.by, ...(r.reason !== undefined ? { reason: r.reason } : {}) }) },
              },
            }),
          )
          .catch((err: unknown) => {
            if (errorName(err) !== 'ConditionalCheckFailedException') throw err;
          });
      }
    }
  }

  deadLetterLocation(): string {
    return `DynamoDB table ${this.opts.table}, pk "${this.opts.migration}", sk beginning with "${DLQ}"`;
  }

  /**
   * The migration-wide lease: a conditional put that succeeds when nobody holds the lock, the holder's lease expired,
   * or we already hold it. Renewed every third of the lease while held, so only a dead holder loses it.
   */
  async lock(): Promise<HeldLock> {
    const leaseMs = this.opts.lockLeaseMs ?? 60_000;
    const now = this.now();
    try {
      await this.opts.client.send(
        new PutItemCommand({
          TableName: this.opts.table,
          Item: {
            pk: { S: this.opts.migration },
            sk: { S: LOCK },
            owner: { S: this.owner },
            host: { S: hostname() },
            acquiredAt: { S: new Date(now).toISOString() },
            expiresAt: { N: String(now + leaseMs) },
          },
          ConditionExpression: 'attribute_not_exists(pk) OR #exp < :now OR #owner = :me',
          ExpressionAttributeNames: names('#exp #owner'),
          ExpressionAttributeValues: { ':now': { N: String(now) }, ':me': { S: this.owner } },
        }),
      );
    } catch (err) {
      if (errorName(err) !== 'ConditionalCheckFailedException') throw err;
      throw await this.lockedError();
    }
    // Set once a renewal finds another owner: from then on confirm() refuses without asking.
    let lost = false;
    const renew = async (): Promise<void> => {
      if (!(await this.renewLock(leaseMs))) lost = true;
    };
    const timer = setInterval(
      () => {
        void renew().catch(() => {});
      },
      Math.max(1000, Math.floor(leaseMs / 3)),
    );
    timer.unref();
    return {
      confirm: async () => {
        if (!lost) await renew();
        if (lost) {
          clearInterval(timer);
          throw await this.lockedError('lost');
        }
      },
      release: async () => {
        clearInterval(timer);
        await this.deleteIfOwner(LOCK);
      },
    };
  }

  private async lockedError(lost?: 'lost'): Promise<MigrationLockedError> {
    const holder = await this.get(LOCK);
    const who = `${holder?.owner?.S ?? 'another runner'} until ${holder?.expiresAt?.N ? new Date(Number(holder.expiresAt.N)).toISOString() : '?'}`;
    return lost
      ? new MigrationLockedError(
          `migration ${this.opts.migration}: this invocation lost its lock (its lease ran out); it is held by ${who}`,
          'this invocation stalled longer than the lock lease and stopped before writing; the step is retried by whoever holds the lock now',
        )
      : new MigrationLockedError(
          `migration ${this.opts.migration} is locked by ${who}`,
          "another prepare/complete step or runner holds this migration; wait for it to finish (a dead holder's lease expires on its own)",
        );
  }

  // ---- Runner extensions: runtime facts, per-segment leases and checkpoints, stream progress ---------------------------

  /**
   * The state item alone (no segment cursors, no dead-letter count): one GetItem, for callers that only need the phase,
   * the stream positions and whether the backfill is complete.
   */
  async peek(): Promise<MigrationState | undefined> {
    const item = await this.get(STATE);
    return item ? this.parseStateItem(item) : undefined;
  }

  private parseStateItem(item: Record<string, AttributeValue>): MigrationState {
    return parseState(
      item.doc?.S ?? '',
      `the state item (pk "${this.opts.migration}", sk "state") of DynamoDB table ${this.opts.table}`,
      "restore the item from the table's point-in-time backup, or delete the migration's items to start over",
    );
  }

  async saveRuntime(runtime: RunnerRuntime): Promise<void> {
    await this.put(RUNTIME, { doc: { S: JSON.stringify(runtime) } });
  }

  async loadRuntime(): Promise<RunnerRuntime | undefined> {
    const item = await this.get(RUNTIME);
    return item ? parseDoc<RunnerRuntime>(item, this.location) : undefined;
  }

  /**
   * Takes one segment's lease and returns its checkpoint. The lease must outlive the invocation holding it (pass the
   * invocation's remaining time plus a margin): a copier whose lease expired while it still ran could otherwise write
   * an old version after the stream catch-up began.
   */
  async acquireSegment(source: string, partition: string, leaseMs: number): Promise<SegmentCheckpoint> {
    const sk = segmentKey(source, partition);
    const now = this.now();
    try {
      const res = await this.opts.client.send(
        new UpdateItemCommand({
          TableName: this.opts.table,
          Key: this.key(sk),
          UpdateExpression: 'SET #leaseOwner = :me, #leaseExp = :exp',
          ConditionExpression: 'attribute_not_exists(#leaseOwner) OR #leaseExp < :now OR #leaseOwner = :me',
          ExpressionAttributeNames: names('#leaseOwner #leaseExp'),
          ExpressionAttributeValues: { ':me': { S: this.owner }, ':exp': { N: String(now + leaseMs) }, ':now': { N: String(now) } },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return segmentFromItem(res.Attributes ?? {});
    } catch (err) {
      if (errorName(err) !== 'ConditionalCheckFailedException') throw err;
      const item = await this.get(sk);
      throw new SegmentLeasedError(
        `segment ${partition} of source ${source} is leased by ${item?.leaseOwner?.S ?? '?'} until ${item?.leaseExpiresAt?.N ? new Date(Number(item.leaseExpiresAt.N)).toISOString() : '?'}`,
        { source, segment: partition },
      );
    }
  }

  /** Moves a segment's checkpoint; only the lease holder may, and never from done back to not done. */
  async checkpointSegment(source: string, partition: string, cp: SegmentCheckpoint, bytesRead = 0): Promise<void> {
    const sk = segmentKey(source, partition);
    const values: Record<string, AttributeValue> = {
      ':me': { S: this.owner },
      ':false': { BOOL: false },
      ':done': { BOOL: cp.done },
      ':items': { N: String(cp.items) },
      ':at': { S: new Date(this.now()).toISOString() },
      ':bytes': { N: String(bytesRead) },
    };
    let update = 'SET #done = :done, #items = :items, #at = :at';
    if (cp.cursor && !cp.done) {
      values[':cursor'] = { S: JSON.stringify(cp.cursor) };
      update += ', #cursor = :cursor ADD #bytes :bytes';
    } else {
      update += ' ADD #bytes :bytes REMOVE #cursor';
    }
    const condition = '#leaseOwner = :me AND (attribute_not_exists(#done) OR #done = :false)';
    try {
      await this.opts.client.send(
        new UpdateItemCommand({
          TableName: this.opts.table,
          Key: this.key(sk),
          UpdateExpression: update,
          ConditionExpression: condition,
          ExpressionAttributeNames: names(update, condition),
          ExpressionAttributeValues: values,
        }),
      );
      this.segmentCache.set(sk, JSON.stringify({ done: cp.done, items: cp.items, ...(cp.cursor && !cp.done ? { cursor: cp.cursor } : {}) }));
    } catch (err) {
      if (errorName(err) !== 'ConditionalCheckFailedException') throw err;
      throw new SegmentLeasedError(`lost the lease on segment ${partition} of source ${source} (or it was finished by another invocation)`, {
        source,
        segment: partition,
      });
    }
  }

  async releaseSegment(source: string, partition: string): Promise<void> {
    try {
      await this.opts.client.send(
        new UpdateItemCommand({
          TableName: this.opts.table,
          Key: this.key(segmentKey(source, partition)),
          UpdateExpression: 'REMOVE #leaseOwner, #leaseExp',
          ConditionExpression: '#leaseOwner = :me',
          ExpressionAttributeNames: names('#leaseOwner #leaseExp'),
          ExpressionAttributeValues: { ':me': { S: this.owner } },
        }),
      );
    } catch (err) {
      if (errorName(err) !== 'ConditionalCheckFailedException') throw err; // not ours any more: nothing to release
    }
  }

  /** Adds one stream batch to the per-source counters and evidence (for `status` and `cutover`'s in-sync check). */
  async recordStreamBatch(source: string, batch: StreamBatchReport): Promise<void> {
    const now = this.now();
    const values: Record<string, AttributeValue> = {
      ':r': { N: String(batch.spooled ? 0 : batch.records) },
      ':sp': { N: String(batch.spooled ? batch.records : 0) },
      ':s': { N: String(batch.skipped) },
      ':w': { N: String(batch.writes) },
      ':f': { N: batch.failed ? '1' : '0' },
      ':at': { S: new Date(now).toISOString() },
      ':now': { N: String(now) },
    };
    const sets = ['#lastBatchAt = :at'];
    if (batch.failed) sets.push('#lastFailedAt = :now');
    else sets.push(batch.spooled ? '#lastSpooledAt = :now' : '#lastAppliedAt = :now');
    if (batch.lastRecordAt !== undefined) {
      sets.push('#lastRecordAt = :t');
      values[':t'] = { N: String(batch.lastRecordAt) };
    }
    if (batch.lastSequenceNumber) {
      sets.push('#lastSeq = :seq');
      values[':seq'] = { S: batch.lastSequenceNumber };
    }
    if (batch.ageMs !== undefined) {
      sets.push('#lastAgeMs = :age');
      values[':age'] = { N: String(batch.ageMs) };
      if (batch.behind) sets.push('#lastBehindAt = :now', '#lastBehindMs = :age');
    }
    const update = `SET ${sets.join(', ')} ADD #records :r, #spooledRecords :sp, #skipped :s, #writes :w, #failed :f`;
    await this.opts.client.send(
      new UpdateItemCommand({
        TableName: this.opts.table,
        Key: this.key(`${STREAM}${encodeURIComponent(source)}`),
        UpdateExpression: update,
        ExpressionAttributeNames: names(update),
        ExpressionAttributeValues: values,
      }),
    );
  }

  async streamProgress(): Promise<StreamProgress[]> {
    const num = (v: AttributeValue | undefined) => (v?.N !== undefined ? Number(v.N) : undefined);
    return (await this.query(STREAM)).map((i) => {
      const optional: Partial<StreamProgress> = {
        lastRecordAt: num(i.lastRecordAt),
        lastAppliedAt: num(i.lastAppliedAt),
        lastSpooledAt: num(i.lastSpooledAt),
        lastFailedAt: num(i.lastFailedAt),
        lastAgeMs: num(i.lastAgeMs),
        lastBehindAt: num(i.lastBehindAt),
        lastBehindMs: num(i.lastBehindMs),
      };
      return {
        source: decodeURIComponent(i.sk!.S!.slice(STREAM.length)),
        records: Number(i.records?.N ?? 0),
        spooledRecords: Number(i.spooledRecords?.N ?? 0),
        skipped: Number(i.skipped?.N ?? 0),
        writes: Number(i.writes?.N ?? 0),
        failedBatches: Number(i.failedBatches?.N ?? 0),
        ...(i.lastBatchAt?.S ? { lastBatchAt: i.lastBatchAt.S } : {}),
        ...(i.lastSequenceNumber?.S ? { lastSequenceNumber: i.lastSequenceNumber.S } : {}),
        ...Object.fromEntries(Object.entries(optional).filter(([, v]) => v !== undefined)),
      };
    });
  }

  /** One dead letter per source item, oldest failure first (entries written before the lifecycle load too). */
  async deadLetters(): Promise<DeadLetter[]> {
    const items = await this.query(DLQ);
    const events = items
      .map((i) => ({
        failure: JSON.parse(i.doc!.S!) as DeadLetterEntry,
        ref: i.sk!.S!,
        ...(i.resolution?.S ? { resolved: JSON.parse(i.resolution.S) as DeadLetter['resolved'] } : {}),
      }))
      .sort((a, b) => (a.failure.at < b.failure.at ? -1 : a.failure.at > b.failure.at ? 1 : 0));
    return foldDeadLetters(events);
  }

  // ---- plumbing ---------------------------------------------------------------------------------------------------------

  private key(sk: string): Record<string, AttributeValue> {
    return { pk: { S: this.opts.migration }, sk: { S: sk } };
  }

  private async get(sk: string): Promise<Record<string, AttributeValue> | undefined> {
    const res = await this.opts.client.send(new GetItemCommand({ TableName: this.opts.table, Key: this.key(sk), ConsistentRead: true }));
    return res.Item;
  }

  private async put(sk: string, attrs: Record<string, AttributeValue>): Promise<void> {
    await this.opts.client.send(new PutItemCommand({ TableName: this.opts.table, Item: { ...this.key(sk), ...attrs } }));
  }

  private async query(prefix: string): Promise<Record<string, AttributeValue>[]> {
    const items: Record<string, AttributeValue>[] = [];
    await this.pages(prefix, false, (res) => {
      items.push(...(res.Items ?? []));
    });
    return items;
  }

  private async pages(
    prefix: string,
    countOnly: boolean,
    onPage: (res: { Items?: Record<string, AttributeValue>[]; Count?: number }) => void,
  ): Promise<void> {
    let start: Record<string, AttributeValue> | undefined;
    do {
      const res = await this.opts.client.send(
        new QueryCommand({
          TableName: this.opts.table,
          ConsistentRead: true,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ExpressionAttributeValues: { ':pk': { S: this.opts.migration }, ':prefix': { S: prefix } },
          ...(countOnly ? { Select: 'COUNT' as const } : {}),
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      onPage(res);
      start = res.LastEvaluatedKey;
    } while (start);
  }

  private async writeSegment(sk: string, ps: PartitionState): Promise<void> {
    const values: Record<string, AttributeValue> = {
      ':done': { BOOL: ps.done },
      ':items': { N: String(ps.items) },
      ':at': { S: new Date(this.now()).toISOString() },
    };
    let update = 'SET #done = :done, #items = :items, #at = :at';
    if (ps.cursor && !ps.done) {
      values[':cursor'] = { S: JSON.stringify(ps.cursor) };
      update += ', #cursor = :cursor';
    } else {
      update += ' REMOVE #cursor';
    }
    const guard = !ps.done; // writing done=true is always right; writing not-done must not undo a finished segment
    if (guard) values[':false'] = { BOOL: false };
    const condition = guard ? 'attribute_not_exists(#done) OR #done = :false' : undefined;
    try {
      await this.opts.client.send(
        new UpdateItemCommand({
          TableName: this.opts.table,
          Key: this.key(sk),
          UpdateExpression: update,
          ExpressionAttributeValues: values,
          ExpressionAttributeNames: names(update, condition),
          ...(condition ? { ConditionExpression: condition } : {}),
        }),
      );
    } catch (err) {
      if (errorName(err) !== 'ConditionalCheckFailedException') throw err; // finished meanwhile: the item is ahead of us
    }
  }

  /** Extends the lease; false when the lock is no longer ours (a lease that ran out and was taken, or released). */
  private async renewLock(leaseMs: number): Promise<boolean> {
    try {
      await this.opts.client.send(
        new UpdateItemCommand({
          TableName: this.opts.table,
          Key: this.key(LOCK),
          UpdateExpression: 'SET #exp = :exp',
          ConditionExpression: '#owner = :me',
          ExpressionAttributeNames: names('#exp #owner'),
          ExpressionAttributeValues: { ':exp': { N: String(this.now() + leaseMs) }, ':me': { S: this.owner } },
        }),
      );
      return true;
    } catch (err) {
      if (errorName(err) !== 'ConditionalCheckFailedException') throw err;
      return false;
    }
  }

  private async deleteIfOwner(sk: string): Promise<void> {
    try {
      await this.opts.client.send(
        new DeleteItemCommand({
          TableName: this.opts.table,
          Key: this.key(sk),
          ConditionExpression: '#owner = :me',
          ExpressionAttributeNames: names('#owner'),
          ExpressionAttributeValues: { ':me': { S: this.owner } },
        }),
      );
    } catch (err) {
      if (errorName(err) !== 'ConditionalCheckFailedException') throw err;
    }
  }

  private async batchWrite(requests: WriteRequest[]): Promise<void> {
    let pending = requests;
    await retryAws(
      async () => {
        const res = await this.opts.client.send(new BatchWriteItemCommand({ RequestItems: { [this.opts.table]: pending } }));
        pending = res.UnprocessedItems?.[this.opts.table] ?? [];
        return pending.length;
      },
      {
        side: 'state',
        operation: 'BatchWriteItem',
        table: this.opts.table,
        again: (left) => left > 0,
        maxAttempts: 30,
        exhausted: ({ attempts }) =>
          new DynashiftError('AWS_ERROR', `could not write ${pending.length} dead letter(s) to ${this.opts.table} after ${attempts} attempts`, {
            hint: 'the state table is throttled or unavailable; the batch is reported failed and retried, nothing is lost',
          }),
      },
    );
  }
}

/** Creates the state table (pk S, sk S, on-demand) when missing, for tests and local runs; CDK creates it on AWS. */
export async function createStateTable(client: DynamoDBClient, table: string): Promise<void> {
  try {
    await client.send(
      new CreateTableCommand({
        TableName: table,
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
        ],
      }),
    );
  } catch (err) {
    if (errorName(err) !== 'ResourceInUseException') throw err;
  }
  for (let i = 0; i < 300; i++) {
    const res = await client.send(new DescribeTableCommand({ TableName: table }));
    if (res.Table?.TableStatus === 'ACTIVE') return;
    await sleep(100);
  }
  throw new DynashiftError('AWS_ERROR', `state table ${table} did not become ACTIVE`, { hint: 'check the table in the console' });
}

function segmentKey(source: string, partition: string): string {
  return `${SEGMENT}${encodeURIComponent(source)}#${partition}`;
}

function parseSegmentKey(sk: string): { source: string; partition: string } {
  const rest = sk.slice(SEGMENT.length);
  const at = rest.lastIndexOf('#');
  return { source: decodeURIComponent(rest.slice(0, at)), partition: rest.slice(at + 1) };
}

function segmentFromItem(item: Record<string, AttributeValue>): PartitionState {
  const cursor = item.cursorJson?.S ? (JSON.parse(item.cursorJson.S) as BackfillCursor) : undefined;
  return { done: item.done?.BOOL === true, items: Number(item.items?.N ?? 0), ...(cursor ? { cursor } : {}) };
}

function parseDoc<T>(item: Record<string, AttributeValue>, location: string): T {
  try {
    return JSON.parse(item.doc?.S ?? '') as T;
  } catch (err) {
    throw new DynashiftError('STATE_CORRUPT', `the ${item.sk?.S ?? 'state'} item in ${location} is not valid JSON`, {
      hint: "restore the item from the table's point-in-time backup, or delete the migration's items to start over",
      cause: err,
    });
  }
}

function checkedDoc(state: MigrationState, location: string): string {
  const text = JSON.stringify(state);
  if (Buffer.byteLength(text) > MAX_DOC_BYTES) {
    throw new DynashiftError('AWS_ERROR', `the migration state (${Buffer.byteLength(text)} bytes) is too large for one item in ${location}`, {
      hint: 'DynamoDB items hold at most 400 KB; the state grows with the number of stream shards tracked — use the file state store for this migration',
    });
  }
  return text;
}

/** The sort key of one failure: the source item's dead-letter id and the failure (stage, target, record). */
function failureHash(id: string, key: string): string {
  return createHash('sha256').update(`${id}|${key}`).digest('hex').slice(0, 40);
}

/** A dead letter too large for an item keeps everything but the item body, and says so: it is never dropped. */
function deadLetterDoc(entry: DeadLetterEntry): string {
  const text = JSON.stringify(entry);
  if (Buffer.byteLength(text) <= MAX_DEAD_LETTER_BYTES) return text;
  const { item: _omitted, ...rest } = entry;
  return JSON.stringify({
    ...rest,
    itemOmitted: `the item (${Buffer.byteLength(text)} bytes with metadata) exceeds what a state item can hold; re-read it from the source by sourceKey`,
  });
}
