/**
 * Evidence for a failed comparison on the AWS runner's spool path: what each differing key's stream records were, and
 * which handler deliveries carried them with what answer; and what the spool still holds. A spool that still holds a
 * key once the replay is live is itself a lost change (its records were acknowledged as spooled and are never
 * replayed), so the tests assert it is empty; the history is printed only when a comparison fails.
 */
import { DescribeStreamCommand, GetRecordsCommand, GetShardIteratorCommand, type DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from '../../src/runners/lambda/types.js';
import { KeySpool } from '../../src/state/key-spool.js';

export interface Delivery {
  startedAt: number;
  endedAt: number;
  sequenceNumbers: string[];
  /** Records returned for redelivery (batchItemFailures). */
  failed: number;
  /** The handler threw. */
  threw?: string;
}

/** Wraps a stream handler so every delivery (its records, timing and answer) is kept for explainStreamHistory. */
export function recordDeliveries(handler: (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse>): {
  handler: (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse>;
  deliveries: Delivery[];
} {
  const deliveries: Delivery[] = [];
  return {
    deliveries,
    handler: async (event) => {
      const startedAt = Date.now();
      const sequenceNumbers = (event.Records ?? []).map((r) => r.dynamodb?.SequenceNumber ?? '?');
      try {
        const res = await handler(event);
        deliveries.push({ startedAt, endedAt: Date.now(), sequenceNumbers, failed: res.batchItemFailures.length });
        return res;
      } catch (err) {
        deliveries.push({ startedAt, endedAt: Date.now(), sequenceNumbers, failed: sequenceNumbers.length, threw: String(err) });
        throw err;
      }
    },
  };
}

/** The spool's leftover keys and control item of one source (both should be empty/live once the replay is done). */
export async function spoolLeft(
  client: DynamoDBClient,
  table: string,
  migration: string,
  source: string,
): Promise<{ keys: string[]; control: unknown }> {
  const spool = new KeySpool({ client, table, migration });
  const keys: string[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await spool.page(source, start, 1000);
    keys.push(...page.keys.map((k) => `${JSON.stringify(k.sourceKey)} v${k.version}`));
    start = page.next;
  } while (start);
  return { keys, control: await spool.control(source) };
}

/**
 * Every stream record of the ids named in `diffText` (item-NNNNNN), oldest first, with its images' `grp`, `v` and
 * `tags` and the deliveries that carried it (`start-end/fN/iK`: N records returned, at index K of the batch).
 */
export async function explainStreamHistory(opts: {
  streams: DynamoDBStreamsClient;
  streamArn: string;
  diffText: string;
  deliveries: Delivery[];
  keyAttribute?: string;
}): Promise<string> {
  const ids = new Set([...opts.diffText.matchAll(/item-\d{6}/g)].map((m) => m[0]));
  const keyAttribute = opts.keyAttribute ?? 'id';
  const lines = [`stream history of ${[...ids].join(', ')}:`];
  const shards = (await opts.streams.send(new DescribeStreamCommand({ StreamArn: opts.streamArn }))).StreamDescription?.Shards ?? [];
  for (const shard of shards) {
    let iterator = (
      await opts.streams.send(new GetShardIteratorCommand({ StreamArn: opts.streamArn, ShardId: shard.ShardId!, ShardIteratorType: 'TRIM_HORIZON' }))
    ).ShardIterator;
    for (let empty = 0; iterator && empty < 2; ) {
      const res = await opts.streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }));
      iterator = res.NextShardIterator;
      if ((res.Records ?? []).length === 0) empty++;
      for (const rec of res.Records ?? []) {
        const id = rec.dynamodb?.Keys?.[keyAttribute]?.S;
        if (!id || !ids.has(id)) continue;
        const seq = rec.dynamodb!.SequenceNumber!;
        const carried = opts.deliveries
          .filter((d) => d.sequenceNumbers.includes(seq))
          .map((d) => `${d.startedAt}-${d.endedAt}/f${d.failed}/i${d.sequenceNumbers.indexOf(seq)}${d.threw ? '/threw' : ''}`);
        lines.push(
          `${id} ${seq} ${rec.eventName} at ${rec.dynamodb?.ApproximateCreationDateTime?.toISOString()} old[${image(rec.dynamodb?.OldImage)}] new[${image(rec.dynamodb?.NewImage)}] delivered ${carried.join(' ') || 'never'}`,
        );
      }
    }
  }
  return lines.join('\n');
}

function image(item: Record<string, { S?: string; N?: string; SS?: string[] }> | undefined): string {
  if (!item) return '-';
  return `grp=${item.grp?.S} v=${item.v?.N} tags=${JSON.stringify(item.tags?.SS)} marker=${Object.keys(item).some((k) => k.startsWith('_dynashift'))}`;
}
