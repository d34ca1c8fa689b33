/**
 * The Lambda tests' stand-in for the event source mapping (test/fixtures/lambda/event-source-mapping.ts) must only
 * produce delivery orders a real mapping can: each batch starts at or before the record after the last one delivered
 * (a rewind goes back, a redelivery repeats; nothing is ever skipped), and every record is delivered. A forward jump
 * after two rewinds in a row once made it skip part of a replay, and the spool tests blamed the handler for it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DescribeStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type DynamoDBStreamsClient,
  type _Record,
} from '@aws-sdk/client-dynamodb-streams';
import { LocalEventSourceMapping } from '../fixtures/lambda/event-source-mapping.js';
import type { DynamoDBStreamEvent } from '../../src/runners/lambda/types.js';
import { mulberry32 } from '../../src/core/random.js';

const seq = (n: number) => String(n).padStart(21, '0');

/** One shard of `count` records; GetRecords returns up to 37 at a time (pages smaller than a batch, as Local's can be). */
function fakeStreams(count: number): DynamoDBStreamsClient {
  const records: _Record[] = Array.from({ length: count }, (_, i) => ({
    eventName: 'MODIFY',
    dynamodb: { SequenceNumber: seq(i + 1), Keys: { id: { S: `k${i % 7}` } }, NewImage: { id: { S: `k${i % 7}` } }, StreamViewType: 'NEW_IMAGE' },
  }));
  return {
    send: async (command: unknown) => {
      if (command instanceof DescribeStreamCommand) return { StreamDescription: { Shards: [{ ShardId: 'shard-1' }] } };
      if (command instanceof GetShardIteratorCommand) {
        const after = command.input.SequenceNumber ? Number(command.input.SequenceNumber) : 0;
        return { ShardIterator: String(after) };
      }
      if (command instanceof GetRecordsCommand) {
        const from = Number(command.input.ShardIterator);
        const page = records.slice(from, from + 37);
        return { Records: page, NextShardIterator: String(from + page.length) };
      }
      throw new Error(`unexpected command ${String(command)}`);
    },
  } as unknown as DynamoDBStreamsClient;
}

for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
  test(`seed ${seed}: rewinds, duplicates and partial failures never make the mapping skip a record`, async () => {
    const rng = mulberry32(seed);
    const deliveries: number[][] = [];
    const esm = new LocalEventSourceMapping({
      streams: fakeStreams(1500),
      streamArn: 'arn:stream',
      batchSize: 25,
      rng,
      duplicateRate: 0.2,
      rewindRate: 0.4,
      forceFirstRewind: true,
      maxRetries: 1000,
      handler: async (event: DynamoDBStreamEvent) => {
        const seqs = (event.Records ?? []).map((r) => Number(r.dynamodb!.SequenceNumber));
        deliveries.push(seqs);
        // Now and then fail from a random record on: the mapping retries from there.
        if (rng() < 0.15) {
          const from = Math.floor(rng() * seqs.length);
          return { batchItemFailures: (event.Records ?? []).slice(from).map((r) => ({ itemIdentifier: r.dynamodb!.SequenceNumber! })) };
        }
        return { batchItemFailures: [] };
      },
    });
    await esm.drain();
    assert.ok(esm.stats.rewinds > 5 && esm.stats.duplicates > 5 && esm.stats.partialFailures > 5, JSON.stringify(esm.stats));
    // Each delivery starts at or before the record after the previous delivery's last (a retry from a failure, a
    // duplicate and a rewind all go back; nothing goes forward past a record not delivered since).
    let after = 1;
    let furthest = 0;
    for (const [i, d] of deliveries.entries()) {
      assert.ok(d[0]! <= after, `delivery ${i} starts at ${d[0]}, past ${after}: records ${after}–${d[0]! - 1} were skipped`);
      assert.deepEqual(
        d,
        Array.from({ length: d.length }, (_, j) => d[0]! + j),
        `delivery ${i} is contiguous`,
      );
      after = d.at(-1)! + 1;
      furthest = Math.max(furthest, d.at(-1)!);
    }
    assert.equal(furthest, 1500, 'every record was delivered');
  });
}
