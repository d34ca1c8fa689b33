import type { StreamsApi } from './streams-api.js';
import { listAllShards } from './open-position.js';

/**
 * TEST ONLY: a stream whose records live `retentionMs` instead of 24 hours, over a real one (DynamoDB Local never trims).
 * It lets a test show what a backfill longer than the retention does to each mode in seconds rather than a day
 * (`DYNASHIFT_TEST_STREAM_RETENTION_SECONDS`, read by the CLI only).
 *
 * A record is "trimmed" once it was first seen more than `retentionMs` ago. An observer reads every shard from its
 * trim horizon in the background, so a record's first sighting is within a poll of its creation whoever reads it
 * later. As on AWS, an iterator at TRIM_HORIZON silently starts at the oldest record kept, and a positioned iterator
 * whose next record was trimmed fails with TrimmedDataAccessException.
 */
export class ShortRetentionStreams implements StreamsApi {
  private readonly firstSeen = new Map<string, number>();
  private readonly observed = new Map<string, string | null>();
  private timer: NodeJS.Timeout | undefined;
  private polling = false;

  constructor(
    private readonly api: StreamsApi,
    private readonly streamArn: string,
    readonly retentionMs: number,
    private readonly now: () => number = Date.now,
    private readonly pollMs = 200,
  ) {}

  start(): this {
    this.timer ??= setInterval(() => void this.observe(), this.pollMs);
    this.timer.unref();
    void this.observe();
    return this;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  describeStream: StreamsApi['describeStream'] = (input) => this.api.describeStream(input);

  getShardIterator: StreamsApi['getShardIterator'] = async (input) => {
    const out = await this.api.getShardIterator(input);
    if (!out.ShardIterator) return out;
    const kind = input.ShardIteratorType === 'TRIM_HORIZON' ? 'th' : 'pos';
    return { ...out, ShardIterator: `${kind}|${out.ShardIterator}` };
  };

  getRecords: StreamsApi['getRecords'] = async (input) => {
    const raw = input.ShardIterator ?? '';
    const bar = raw.indexOf('|');
    const kind = raw.slice(0, bar);
    const out = await this.api.getRecords({ ...input, ShardIterator: raw.slice(bar + 1) });
    const now = this.now();
    let records = out.Records ?? [];
    for (const r of records) this.seen(r.dynamodb?.SequenceNumber, now);
    const trimmed = (r: (typeof records)[number]) => (this.firstSeen.get(r.dynamodb?.SequenceNumber ?? '') ?? now) < now - this.retentionMs;
    if (records.some(trimmed)) {
      if (kind !== 'th') {
        throw Object.assign(new Error('Test retention: the requested records were trimmed'), { name: 'TrimmedDataAccessException' });
      }
      records = records.filter((r) => !trimmed(r));
    }
    return { ...out, Records: records, ...(out.NextShardIterator ? { NextShardIterator: `pos|${out.NextShardIterator}` } : {}) };
  };

  private seen(sequenceNumber: string | undefined, at: number): void {
    if (sequenceNumber !== undefined && !this.firstSeen.has(sequenceNumber)) this.firstSeen.set(sequenceNumber, at);
  }

  /** One pass of the observer: every shard read from where it left off (TRIM_HORIZON the first time). */
  private async observe(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      for (const shard of await listAllShards(this.api, this.streamArn)) {
        const id = shard.ShardId!;
        let iterator = this.observed.get(id);
        if (iterator === null) continue;
        iterator ??= (await this.api.getShardIterator({ StreamArn: this.streamArn, ShardId: id, ShardIteratorType: 'TRIM_HORIZON' })).ShardIterator;
        for (let pages = 0; iterator && pages < 20; pages++) {
          const out = await this.api.getRecords({ ShardIterator: iterator });
          const now = this.now();
          for (const r of out.Records ?? []) this.seen(r.dynamodb?.SequenceNumber, now);
          iterator = out.NextShardIterator;
          if ((out.Records ?? []).length === 0) break;
        }
        this.observed.set(id, iterator ?? null);
      }
    } catch {
      // An expired iterator or a busy emulator: start the shard over next time (sightings already made are kept).
      this.observed.clear();
    } finally {
      this.polling = false;
    }
  }
}
