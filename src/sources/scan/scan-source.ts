import { ScanCommand, type DynamoDBClient, type ScanCommandOutput } from '@aws-sdk/client-dynamodb';
import type { RateLimiter, RateMeter } from '../../core/rate-limiter.js';
import { retryAws } from '../../aws/aws-retry.js';
import { itemSize, type AttributeMap } from '../../core/item.js';
import type { BackfillCursor, BackfillPage, BackfillSource } from '../source.js';

export interface ScanSourceOptions {
  name: string;
  client: DynamoDBClient;
  table: string;
  totalSegments: number;
  /** Scan Limit. DynamoDB caps pages at 1 MB anyway; DynamoDB Local slows badly without a Limit. */
  pageSize: number;
  consistentRead: boolean;
  /**
   * Shared by every segment: read units per second the backfill may spend on the source. In a backfill worker thread,
   * one that pays the main thread's limiter by message (engine/workers/).
   */
  limiter: Pick<RateLimiter, 'consume' | 'throttled'>;
  meter: RateMeter;
  /** Which side the table is, for errors (default source; verify also scans targets). */
  side?: string;
}

const CAPACITY_UNIT_BYTES = 4096;

/** A parallel Scan: one partition per segment, resumable from the segment's LastEvaluatedKey. */
export class ScanSource implements BackfillSource {
  readonly name: string;

  constructor(private readonly opts: ScanSourceOptions) {
    this.name = opts.name;
  }

  async partitions(): Promise<string[]> {
    return Array.from({ length: this.opts.totalSegments }, (_, i) => String(i));
  }

  async *read(partition: string, cursor: BackfillCursor | undefined, signal?: AbortSignal): AsyncIterable<BackfillPage> {
    let startKey = cursor?.lastEvaluatedKey as AttributeMap | undefined;
    do {
      if (signal?.aborted) return;
      const res = await this.scanPage(Number(partition), startKey, signal);
      if (!res) return;
      const units = res.ConsumedCapacity?.CapacityUnits ?? 0;
      this.opts.meter.add(units);
      startKey = res.LastEvaluatedKey;
      const items = (res.Items ?? []) as AttributeMap[];
      yield {
        items,
        bytes: this.pageBytes(items, units),
        cursor: startKey ? { lastEvaluatedKey: startKey } : undefined,
        consumedCapacity: units,
      };
      await this.opts.limiter.consume(units, signal);
    } while (startKey);
  }

  /**
   * The page's size for progress. DynamoDB charges a Scan by the bytes it read, in 4 KB units (half a unit when
   * eventually consistent), so the consumed capacity gives the size to within 4 KB a page without walking every
   * attribute of every item, which cost 4% of a backfill's CPU. Sources that report no capacity (Alternator) get the walk.
   */
  private pageBytes(items: AttributeMap[], units: number): number {
    if (units > 0) return Math.round(units * CAPACITY_UNIT_BYTES * (this.opts.consistentRead ? 1 : 2));
    return items.reduce((n, item) => n + itemSize(item), 0);
  }

  private scanPage(segment: number, startKey: AttributeMap | undefined, signal?: AbortSignal): Promise<ScanCommandOutput | undefined> {
    return retryAws(
      () =>
        this.opts.client.send(
          new ScanCommand({
            TableName: this.opts.table,
            Segment: segment,
            TotalSegments: this.opts.totalSegments,
            Limit: this.opts.pageSize,
            ConsistentRead: this.opts.consistentRead,
            ReturnConsumedCapacity: 'TOTAL',
            ...(startKey ? { ExclusiveStartKey: startKey } : {}),
          }),
          { abortSignal: signal },
        ),
      {
        side: this.opts.side ?? 'source',
        operation: 'Scan',
        table: this.opts.table,
        baseMs: 100,
        maxMs: 10_000,
        // Only throttling says the table can't take the rate; a 500 or a reset connection does not.
        onThrottle: () => this.opts.limiter.throttled(this.opts.meter.perSecond()),
        ...(signal ? { signal } : {}),
      },
    );
  }
}
