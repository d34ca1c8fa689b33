import { sleep } from '../../core/backoff.js';
import type { StreamState } from '../../state/migration-state.js';
import { StreamReader, type StreamReaderLog } from './stream-reader.js';
import type { StreamsApi } from './streams-api.js';

/**
 * Moves a freshly opened stream position (every shard at TRIM_HORIZON) to the stream's tip as of `since`: every
 * record already in the stream before `since` is passed over, unapplied, and the checkpoints end right after the
 * last of them. Records written later stay ahead of the position.
 *
 * Reverse replication needs this. The target's stream holds the forward direction's own writes, including the
 * catch-up's replay of changes older than the backfilled version; replaying those into the source would roll items
 * back and delete them (docs/consistency.md, "Cutover and reverse replication").
 *
 * It reads with the same StreamReader the run uses (shard lineage, retries, trimmed-data checks), with a handler that
 * applies nothing, and stops once every shard answered a poll made after `since` with everything it held.
 */
export async function skipToTip(opts: {
  api: StreamsApi;
  state: StreamState;
  source: string;
  since: number;
  pollIntervalMs?: number;
  log?: StreamReaderLog;
}): Promise<{ skipped: number }> {
  let skipped = 0;
  const reader = new StreamReader({
    api: opts.api,
    source: opts.source,
    state: opts.state,
    onCheckpoint: () => {},
    pollIntervalMs: Math.min(opts.pollIntervalMs ?? 100, 100),
    discoveryIntervalMs: 500,
    ...(opts.log ? { log: opts.log } : {}),
  });
  const stop = new AbortController();
  let ended: { error?: unknown } | undefined;
  const running = reader
    .run(async (page) => {
      skipped += page.records.length;
    }, stop.signal)
    .then(
      () => {
        ended = {};
      },
      (error: unknown) => {
        ended = { error };
      },
    );
  while (!ended && !reader.caughtUpSince(opts.since)) await sleep(20);
  stop.abort();
  await running;
  if (ended?.error !== undefined) throw ended.error;
  // Nothing was applied: the counters start from the position, not from the records passed over.
  for (const shard of Object.values(opts.state.shards)) shard.applied = 0;
  return { skipped };
}
