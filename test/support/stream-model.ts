import type {
  _Record,
  DescribeStreamCommandInput,
  GetRecordsCommandInput,
  GetShardIteratorCommandInput,
  Shard,
  StreamRecord,
  StreamViewType,
} from '@aws-sdk/client-dynamodb-streams';
import type { AttributeMap } from '../../src/core/item.js';
import type { StreamsApi } from '../../src/sources/stream/streams-api.js';

/**
 * An in-memory DynamoDB stream for tests. DynamoDB Local never splits or rolls over shards, so this model is where the
 * reader's lineage, trimming, expiry and throttling behaviour is exercised. It follows the service's rules where the
 * reader depends on them: a global increasing sequence counter, one lineage per item (an item's later records go to
 * a descendant of the shard that holds its earlier ones), TrimmedDataAccessException for trimmed positions, fully
 * trimmed shards vanishing from DescribeStream, and errors shaped like the SDK's (an Error whose `name` is the code).
 */

export type StreamOp = 'describeStream' | 'getShardIterator' | 'getRecords';

export interface ModelChange {
  /** Defaults from the images: both → MODIFY, new only → INSERT, otherwise REMOVE. */
  eventName?: string;
  keys: AttributeMap;
  newImage?: AttributeMap;
  oldImage?: AttributeMap;
  /** Epoch ms; defaults to the model clock. Stored rounded down to the second, as AWS does. */
  createdAt?: number;
  userIdentity?: { Type: string; PrincipalId: string };
  /** Write to this shard instead of routing by key (it must be open). */
  shardId?: string;
}

export interface StreamModelOptions {
  streamArn?: string;
  viewType?: StreamViewType;
  /** Root shards open at the start (default 1). */
  shards?: number;
  /** DescribeStream page size (default 100, the service maximum). */
  describePageSize?: number;
  /** Iterators older than this fail with ExpiredIteratorException (default 15 min). */
  iteratorMaxAgeMs?: number;
  /**
   * GetRecords returns at most this many records whatever Limit says (default 1000). Below 1,000 it stands for the
   * service's 1 MB bound, so each record then reports a SizeBytes of 1 MB / maxPageSize unless `recordBytes` is set.
   */
  maxPageSize?: number;
  /** SizeBytes of every record (default: the JSON length of the change, or as `maxPageSize` says). */
  recordBytes?: number;
  /** When true, the last records of a closed shard come with an iterator and a later empty page ends the shard. */
  separateClosingPage?: boolean;
  now?: () => number;
}

export interface WrittenRecord {
  shardId: string;
  sequenceNumber: string;
  record: _Record;
}

export interface CallLogEntry {
  op: StreamOp;
  input: DescribeStreamCommandInput | GetShardIteratorCommandInput | GetRecordsCommandInput;
  error?: string;
}

interface Entry {
  seq: bigint;
  createdAt: number;
  record: _Record;
}

interface ModelShard {
  id: string;
  parentId?: string;
  startSeq: bigint;
  endSeq?: bigint;
  closedAt?: number;
  entries: Entry[];
  /** Largest sequence number trimmed from this shard; a position before it has lost records. */
  maxTrimmedSeq: bigint;
  children: string[];
  removed: boolean;
}

interface ModelIterator {
  shardId: string;
  afterSeq: bigint;
  issuedAt: number;
  expired: boolean;
}

interface Injection {
  op: StreamOp | 'any';
  name: string;
  remaining: number;
}

export class StreamModelError extends Error {
  readonly $fault = 'client';
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

export function formatSeq(n: bigint): string {
  return n.toString().padStart(21, '0');
}

export class StreamModel implements StreamsApi {
  readonly streamArn: string;
  readonly viewType: StreamViewType;
  readonly calls: CallLogEntry[] = [];
  readonly written: WrittenRecord[] = [];

  private readonly shards = new Map<string, ModelShard>();
  private readonly iterators = new Map<string, ModelIterator>();
  private readonly keyShard = new Map<string, string>();
  private readonly injections: Injection[] = [];
  private readonly describePageSize: number;
  private readonly iteratorMaxAgeMs: number;
  private readonly maxPageSize: number;
  private readonly recordBytes: number | undefined;
  private readonly separateClosingPage: boolean;
  private readonly now: () => number;
  private seq = 0n;
  private shardCounter = 0;
  private iteratorCounter = 0;
  private emptyPages = 0;

  constructor(opts: StreamModelOptions = {}) {
    this.streamArn = opts.streamArn ?? 'arn:aws:dynamodb:us-east-1:123456789012:table/Model/stream/2026-01-01T00:00:00.000';
    this.viewType = opts.viewType ?? 'NEW_AND_OLD_IMAGES';
    this.describePageSize = opts.describePageSize ?? 100;
    this.iteratorMaxAgeMs = opts.iteratorMaxAgeMs ?? 15 * 60_000;
    this.maxPageSize = opts.maxPageSize ?? 1000;
    this.recordBytes = opts.recordBytes ?? (this.maxPageSize < 1000 ? Math.ceil(1_048_576 / this.maxPageSize) : undefined);
    this.separateClosingPage = opts.separateClosingPage ?? false;
    this.now = opts.now ?? Date.now;
    for (let i = 0; i < (opts.shards ?? 1); i++) this.createShard();
  }

  // ---- test controls ------------------------------------------------------------------------------------------------

  /** Appends a record to the key's shard (or `change.shardId`) and returns it. */
  write(change: ModelChange): WrittenRecord {
    const keyId = keyString(change.keys);
    const shard = this.liveShard(change.shardId ?? this.route(keyId));
    if (shard.endSeq !== undefined) throw new Error(`model: shard ${shard.id} is closed`);
    this.keyShard.set(keyId, shard.id);
    const seq = this.nextSeq();
    const createdAt = change.createdAt ?? this.now();
    const data: StreamRecord = {
      Keys: change.keys as unknown as StreamRecord['Keys'],
      SequenceNumber: formatSeq(seq),
      SizeBytes: this.recordBytes ?? JSON.stringify(change).length,
      StreamViewType: this.viewType,
      ApproximateCreationDateTime: new Date(Math.floor(createdAt / 1000) * 1000),
    };
    if (change.newImage && (this.viewType === 'NEW_IMAGE' || this.viewType === 'NEW_AND_OLD_IMAGES')) {
      data.NewImage = change.newImage as unknown as StreamRecord['NewImage'];
    }
    if (change.oldImage && (this.viewType === 'OLD_IMAGE' || this.viewType === 'NEW_AND_OLD_IMAGES')) {
      data.OldImage = change.oldImage as unknown as StreamRecord['OldImage'];
    }
    const eventName = change.eventName ?? (change.newImage ? (change.oldImage ? 'MODIFY' : 'INSERT') : 'REMOVE');
    const record: _Record = {
      eventID: formatSeq(seq),
      eventName: eventName as _Record['eventName'],
      eventVersion: '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: 'us-east-1',
      dynamodb: data,
    };
    if (change.userIdentity) record.userIdentity = change.userIdentity;
    shard.entries.push({ seq, createdAt, record });
    const written = { shardId: shard.id, sequenceNumber: formatSeq(seq), record };
    this.written.push(written);
    return written;
  }

  /** Opens a new shard; `parentShardId` may name a shard the model never had (to build a missing parent). */
  createShard(parentShardId?: string): string {
    const id = `shardId-${String(++this.shardCounter).padStart(8, '0')}-model`;
    const shard: ModelShard = { id, startSeq: this.nextSeq(), entries: [], maxTrimmedSeq: -1n, children: [], removed: false };
    if (parentShardId !== undefined) {
      shard.parentId = parentShardId;
      this.shards.get(parentShardId)?.children.push(id);
    }
    this.shards.set(id, shard);
    return id;
  }

  /** Closes the shard and opens `children` (1, as DynamoDB does on a split or rollover, or more) whose parent it is. */
  splitShard(shardId: string, children = 1): string[] {
    this.closeShard(shardId);
    return Array.from({ length: children }, () => this.createShard(shardId));
  }

  closeShard(shardId: string): void {
    const shard = this.liveShard(shardId);
    if (shard.endSeq !== undefined) throw new Error(`model: shard ${shardId} is already closed`);
    shard.endSeq = this.nextSeq();
    shard.closedAt = this.now();
  }

  /**
   * Drops records older than a sequence number or a creation time (epoch ms). A closed shard that ended before the
   * trim point and has no records left disappears from DescribeStream.
   */
  trimBefore(point: { sequenceNumber: string } | { time: number }): void {
    const trimmed = (e: Entry): boolean => ('sequenceNumber' in point ? e.seq < BigInt(point.sequenceNumber) : e.createdAt < point.time);
    for (const shard of this.shards.values()) {
      for (const e of shard.entries.filter(trimmed)) if (e.seq > shard.maxTrimmedSeq) shard.maxTrimmedSeq = e.seq;
      shard.entries = shard.entries.filter((e) => !trimmed(e));
      const endedBefore =
        shard.endSeq !== undefined &&
        ('sequenceNumber' in point ? shard.endSeq < BigInt(point.sequenceNumber) : (shard.closedAt ?? Infinity) < point.time);
      if (endedBefore && shard.entries.length === 0) shard.removed = true;
    }
  }

  /** The next `count` calls of `op` (or of any operation) fail with an SDK-shaped error named `name`. */
  failNext(op: StreamOp | 'any', name: string, count = 1): void {
    this.injections.push({ op, name, remaining: count });
  }

  throttleNext(count: number, op: StreamOp | 'any' = 'any', name = 'LimitExceededException'): void {
    this.failNext(op, name, count);
  }

  /** Injected failures not yet thrown. */
  pendingFailures(): number {
    return this.injections.reduce((n, i) => n + i.remaining, 0);
  }

  /** The next `count` GetRecords calls return no records (and don't move) even when records lie ahead. */
  emptyNext(count: number): void {
    this.emptyPages += count;
  }

  /** Every iterator handed out so far fails with ExpiredIteratorException from now on. */
  expireIterators(): void {
    for (const it of this.iterators.values()) it.expired = true;
  }

  openShardIds(): string[] {
    return [...this.shards.values()].filter((s) => !s.removed && s.endSeq === undefined).map((s) => s.id);
  }

  shardIds(): string[] {
    return [...this.shards.values()].filter((s) => !s.removed).map((s) => s.id);
  }

  callsOf(op: StreamOp): CallLogEntry[] {
    return this.calls.filter((c) => c.op === op);
  }

  // ---- StreamsApi ---------------------------------------------------------------------------------------------------

  async describeStream(input: DescribeStreamCommandInput): ReturnType<StreamsApi['describeStream']> {
    await this.enter('describeStream', input);
    if (input.StreamArn !== this.streamArn) throw this.error('describeStream', input, 'ResourceNotFoundException', 'stream not found');
    const live = [...this.shards.values()].filter((s) => !s.removed).sort((a, b) => (a.id < b.id ? -1 : 1));
    const after = input.ExclusiveStartShardId;
    const rest = after === undefined ? live : live.filter((s) => s.id > after);
    const limit = Math.min(input.Limit ?? 100, this.describePageSize);
    const page = rest.slice(0, limit);
    const last = page[page.length - 1];
    return {
      StreamDescription: {
        StreamArn: this.streamArn,
        StreamStatus: 'ENABLED',
        StreamViewType: this.viewType,
        Shards: page.map(toSdkShard),
        LastEvaluatedShardId: rest.length > limit && last ? last.id : undefined,
      },
    };
  }

  async getShardIterator(input: GetShardIteratorCommandInput): ReturnType<StreamsApi['getShardIterator']> {
    await this.enter('getShardIterator', input);
    const shard = this.shards.get(input.ShardId ?? '');
    if (input.StreamArn !== this.streamArn || !shard || shard.removed) {
      throw this.error('getShardIterator', input, 'ResourceNotFoundException', `shard ${input.ShardId} not found`);
    }
    let afterSeq: bigint;
    switch (input.ShardIteratorType) {
      case 'TRIM_HORIZON':
        afterSeq = shard.maxTrimmedSeq;
        break;
      case 'LATEST':
        afterSeq = this.seq;
        break;
      case 'AT_SEQUENCE_NUMBER':
      case 'AFTER_SEQUENCE_NUMBER': {
        const seq = BigInt(input.SequenceNumber ?? '-1');
        if (seq < shard.startSeq || (shard.endSeq !== undefined && seq > shard.endSeq)) {
          throw this.error('getShardIterator', input, 'ValidationException', `sequence number ${input.SequenceNumber} is not in shard ${shard.id}`);
        }
        afterSeq = input.ShardIteratorType === 'AT_SEQUENCE_NUMBER' ? seq - 1n : seq;
        if (afterSeq < shard.maxTrimmedSeq) {
          throw this.error('getShardIterator', input, 'TrimmedDataAccessException', `position in ${shard.id} was trimmed`);
        }
        break;
      }
      default:
        throw this.error('getShardIterator', input, 'ValidationException', `bad iterator type ${input.ShardIteratorType}`);
    }
    return { ShardIterator: this.issue(shard.id, afterSeq) };
  }

  async getRecords(input: GetRecordsCommandInput): ReturnType<StreamsApi['getRecords']> {
    await this.enter('getRecords', input);
    const it = this.iterators.get(input.ShardIterator ?? '');
    if (!it) throw this.error('getRecords', input, 'ValidationException', 'unknown shard iterator');
    if (it.expired || this.now() - it.issuedAt > this.iteratorMaxAgeMs) {
      throw this.error('getRecords', input, 'ExpiredIteratorException', 'iterator expired');
    }
    const shard = this.shards.get(it.shardId);
    if (!shard) throw this.error('getRecords', input, 'ResourceNotFoundException', `shard ${it.shardId} not found`);
    if (it.afterSeq < shard.maxTrimmedSeq) {
      throw this.error('getRecords', input, 'TrimmedDataAccessException', `position in ${shard.id} was trimmed`);
    }
    if (this.emptyPages > 0) {
      this.emptyPages--;
      return { Records: [], NextShardIterator: this.issue(shard.id, it.afterSeq) };
    }
    const limit = Math.min(input.Limit ?? 1000, 1000, this.maxPageSize);
    const page = shard.entries.filter((e) => e.seq > it.afterSeq).slice(0, limit);
    const last = page[page.length - 1];
    const afterSeq = last ? last.seq : it.afterSeq;
    const moreAhead = shard.entries.some((e) => e.seq > afterSeq);
    const ended = shard.endSeq !== undefined && !moreAhead && !(this.separateClosingPage && page.length > 0);
    const out: Awaited<ReturnType<StreamsApi['getRecords']>> = { Records: page.map((e) => e.record) };
    if (!ended) out.NextShardIterator = this.issue(shard.id, afterSeq);
    return out;
  }

  // ---- internals ----------------------------------------------------------------------------------------------------

  private async enter(op: StreamOp, input: CallLogEntry['input']): Promise<void> {
    this.calls.push({ op, input });
    // A real call never completes synchronously; yielding lets concurrent shard loops interleave as they would.
    await new Promise((resolve) => setImmediate(resolve));
    const inj = this.injections.find((i) => i.remaining > 0 && (i.op === 'any' || i.op === op));
    if (inj) {
      inj.remaining--;
      throw this.error(op, input, inj.name, 'injected failure');
    }
  }

  private error(op: StreamOp, input: CallLogEntry['input'], name: string, message: string): StreamModelError {
    const entry = [...this.calls].reverse().find((c) => c.op === op && c.input === input);
    if (entry) entry.error = name;
    return new StreamModelError(name, message);
  }

  private issue(shardId: string, afterSeq: bigint): string {
    const token = `it-${++this.iteratorCounter}`;
    this.iterators.set(token, { shardId, afterSeq, issuedAt: this.now(), expired: false });
    return token;
  }

  private nextSeq(): bigint {
    this.seq += 1n;
    return this.seq;
  }

  private liveShard(shardId: string): ModelShard {
    const shard = this.shards.get(shardId);
    if (!shard || shard.removed) throw new Error(`model: no shard ${shardId}`);
    return shard;
  }

  /** The open shard an item's next record goes to: the one holding its last record, or one of that one's descendants. */
  private route(keyId: string): string {
    const h = fnv1a(keyId);
    let id = this.keyShard.get(keyId);
    if (id === undefined) {
      const open = this.openShardIds();
      id = open[h % open.length];
      if (id === undefined) throw new Error('model: no open shard to write to');
    }
    // Trimmed ancestors stay in the map, so the walk down the lineage works even after they left DescribeStream.
    for (let shard = this.shards.get(id); shard?.endSeq !== undefined; shard = this.shards.get(id)) {
      id = shard.children[h % Math.max(1, shard.children.length)];
      if (id === undefined) throw new Error(`model: shard ${shard.id} is closed and has no child for key ${keyId}`);
    }
    return id;
  }
}

function toSdkShard(s: ModelShard): Shard {
  const shard: Shard = {
    ShardId: s.id,
    SequenceNumberRange: {
      StartingSequenceNumber: formatSeq(s.startSeq),
      EndingSequenceNumber: s.endSeq === undefined ? undefined : formatSeq(s.endSeq),
    },
  };
  if (s.parentId !== undefined) shard.ParentShardId = s.parentId;
  return shard;
}

function keyString(keys: AttributeMap): string {
  return JSON.stringify(
    Object.keys(keys)
      .sort()
      .map((k) => [k, keys[k]]),
  );
}

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
