import type { Shard } from '@aws-sdk/client-dynamodb-streams';
import type { StreamState } from '../../state/migration-state.js';
import { normalizeListing, reconcileListing } from './shard-lineage.js';
import type { StreamsApi } from './streams-api.js';

/** Every shard of a stream, following DescribeStream's pagination. */
export async function listAllShards(api: StreamsApi, streamArn: string): Promise<Shard[]> {
  const shards: Shard[] = [];
  let start: string | undefined;
  do {
    const res = await api.describeStream({ StreamArn: streamArn, ...(start ? { ExclusiveStartShardId: start } : {}) });
    shards.push(...(res.StreamDescription?.Shards ?? []));
    start = res.StreamDescription?.LastEvaluatedShardId;
  } while (start);
  return shards;
}

/**
 * Opens the stream position the catch-up will start from, *before* the backfill reads anything: every shard listed now
 * is tracked from its trim horizon, so no change made after this moment can be missed.
 */
export async function openStreamPosition(api: StreamsApi, streamArn: string, viewType: string, now: number): Promise<StreamState> {
  const state: StreamState = { streamArn, viewType, openedAt: new Date(now).toISOString(), shards: {} };
  const plan = reconcileListing(state.shards, normalizeListing(await listAllShards(api, streamArn)));
  for (const { shardId, state: s } of plan.added) state.shards[shardId] = s;
  return state;
}
