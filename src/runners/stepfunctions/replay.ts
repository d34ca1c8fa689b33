import { GetItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { ResolvedConfig } from '../../config/resolved-config.js';
import type { ChangeRecord } from '../../core/change.js';
import type { AttributeMap } from '../../core/item.js';
import { retryWrites, type MapFailure } from '../../core/protocol.js';
import { MappingError, type ItemMapper } from '../../core/transform.js';
import { isExpired } from '../../core/ttl.js';
import { compactWrites, type WriteOp } from '../../core/write-op.js';
import { FailurePolicy } from '../../engine/failure-policy.js';
import type { Logger } from '../../engine/logger.js';
import { enterPhase } from '../../engine/phase-machine.js';
import { strategyFor } from '../../engine/strategies/registry.js';
import { writeToTargets } from '../../engine/write-all.js';
import { DynashiftError } from '../../errors.js';
import type { Sink } from '../../sinks/sink.js';
import type { DynamoDbStateStore, HeldLock, RunnerRuntime } from '../../state/dynamodb-state-store.js';
import type { KeySpool, SpooledKey, SpoolMode } from '../../state/key-spool.js';
import { spoolsDuringBackfill } from '../lambda/runtime.js';
import type { ReplayOutput, SpoolCursor } from './types.js';

export interface ReplayContext {
  config: ResolvedConfig;
  store: DynamoDbStateStore;
  runtime: RunnerRuntime;
  mapper: ItemMapper;
  sinks: Record<string, Sink>;
  sourceClients: Record<string, DynamoDBClient>;
  log: Logger;
}

export interface ReplayTiming {
  /** Time this invocation may spend starting new pages of the spool. */
  timeBudgetMs: number;
  /** A pass that leaves at most this many keys hands off (the final pass then runs while the stream waits). */
  handoffBelow: number;
  /** Spool keys read per page (and re-read from the source at once). */
  pageSize?: number;
  /** The previous invocation's output (the state machine passes it back): where its pass stopped, and what it left. */
  previous?: ReplayOutput['sources'];
}

/**
 * The Replay task, after Complete, looped by the state machine until `done`: for each spooled source key, a
 * consistent read of the source item, then the protocol's retry writes (core/protocol.ts retryWrites): put
 * transform(current), delete every spooled target key it no longer produces — through the same sinks, with the same
 * TTL rule as apply. The spool item is then removed only if its version is unchanged (a newer record left it for the
 * next pass). A pass that leaves few keys (or no fewer than the one before) hands off: no spool write can land any
 * more, the stream handler redelivers its batches, and passes run until the spool is empty; then the spool goes live
 * and the handler applies the stream. Why this converges: docs/consistency.md, "The AWS runner's dirty-key spool".
 *
 * One replayer at a time (the migration lock): two replaying the same key could land an older read after a newer one.
 * The lock is a lease, so a replayer that stalls past it could find another one running: it confirms the lease after
 * reading a page and before writing it, and before moving the mode, and stops (STATE_LOCKED) if it was lost.
 */
export async function replaySpool(ctx: ReplayContext, timing: ReplayTiming, now = Date.now): Promise<ReplayOutput> {
  const { config, store } = ctx;
  const lock = await store.lock();
  try {
    const state = await store.peek();
    if (!state) {
      throw new DynashiftError('NOT_RUNNING', `migration ${config.name} has no state in ${store.location}`, {
        side: 'state',
        hint: 'start the state machine from the beginning: its Prepare step writes the state',
      });
    }
    const deadline = now() + timing.timeBudgetMs;
    const spool = store.spool();
    const out: ReplayOutput = { migration: config.name, done: true, sources: {}, replayed: 0, requeued: 0, deadLettered: 0 };
    const failures = new FailurePolicy(store, config.onError, ctx.log);
    for (const [source, src] of Object.entries(state.sources)) {
      if (!spoolsDuringBackfill(config, src.backfill.strategy)) continue;
      const control = await spool.control(source);
      if (!control) continue; // prepared before the spool existed: its mapping was enabled after the backfill
      if (!src.backfill.completedAt && control.mode !== 'live') {
        throw new DynashiftError('NOT_RUNNING', `the backfill of source ${source} is not complete: its spool can't be replayed yet`, {
          side: 'state',
          hint: 'the state machine runs Replay after Complete; start a new execution of it (Prepare resumes from the checkpoints)',
        });
      }
      let mode: SpoolMode = control.mode;
      // Carried across invocations, so a pass longer than one budget continues where it stopped, and a spool that stops
      // shrinking from pass to pass hands off even when no single invocation sees two passes.
      const carried = timing.previous?.[source];
      let remaining = carried?.remaining ?? -1;
      let previous = remaining >= 0 ? remaining : Infinity;
      let cursor: SpoolCursor | undefined = carried?.cursor ?? undefined;
      // Every invocation runs at least one page, however small its budget: a loop of invocations always progresses.
      for (let first = true; mode !== 'live' && (first || now() < deadline); first = false) {
        const pass = await replayPass(ctx, lock, spool, failures, source, deadline, timing.pageSize ?? 100, now, cursor);
        out.replayed += pass.replayed;
        out.requeued += pass.requeued;
        cursor = pass.next;
        if (cursor) break; // out of time: the state machine calls again and the next invocation continues from here
        remaining = await spool.count(source);
        if (mode === 'spooling' && (remaining <= timing.handoffBelow || remaining >= previous)) {
          await lock.confirm();
          if (await spool.setMode(source, 'spooling', 'handoff')) mode = 'handoff';
          ctx.log.info({ source, remaining }, 'spool handed off: the stream handler redelivers batches until the final pass empties the spool');
        } else if (mode === 'handoff' && remaining === 0) {
          await lock.confirm();
          if (await spool.setMode(source, 'handoff', 'live')) mode = 'live';
          ctx.log.info({ source }, 'spool replayed: the stream handler applies the stream from here');
        }
        previous = remaining;
      }
      out.sources[source] = { mode, remaining: mode === 'live' ? 0 : remaining, ...(cursor ? { cursor } : {}) };
      if (mode !== 'live') out.done = false;
    }
    out.deadLettered = failures.recorded;
    if (out.done) await startCatchUp(store, now);
    ctx.log.info({ ...out }, out.done ? 'replay done: catching up' : 'replay paused: time budget used, the state machine continues it');
    return out;
  } finally {
    await lock.release();
  }
}

/** The spool is live everywhere: the stream catch-up has begun (what Complete does when nothing spools). */
async function startCatchUp(store: DynamoDbStateStore, now: () => number): Promise<void> {
  const state = await store.load();
  if (!state || (state.phase !== 'new' && state.phase !== 'backfilling')) return;
  enterPhase(state, 'catching-up');
  state.updatedAt = new Date(now()).toISOString();
  await store.save(state);
}

/** One pass over the source's spool (or the rest of one), page by page, until it ends or the deadline passes (`next`). */
async function replayPass(
  ctx: ReplayContext,
  lock: HeldLock,
  spool: KeySpool,
  failures: FailurePolicy,
  source: string,
  deadline: number,
  pageSize: number,
  now: () => number,
  from: SpoolCursor | undefined,
): Promise<{ next?: SpoolCursor; replayed: number; requeued: number }> {
  let replayed = 0;
  let requeued = 0;
  let start: SpoolCursor | undefined = from;
  do {
    const page = await spool.page(source, start, pageSize);
    start = page.next;
    if (page.keys.length === 0) continue;
    const done = await replayPage(ctx, lock, failures, source, page.keys);
    const removed = await Promise.all(done.map((k) => spool.remove(source, k)));
    replayed += removed.filter(Boolean).length;
    requeued += removed.filter((r) => !r).length;
  } while (start && now() < deadline);
  return { ...(start ? { next: start } : {}), replayed, requeued };
}

/**
 * Re-reads the page's source items and writes what they now produce; returns the keys whose writes all landed (or
 * were dead-lettered, with onError 'dead-letter'). With 'halt' a failure throws after its dead letter is recorded: the
 * task fails, the spool keeps the key, and a rerun after the fix replays it.
 */
async function replayPage(ctx: ReplayContext, lock: HeldLock, failures: FailurePolicy, source: string, keys: SpooledKey[]): Promise<SpooledKey[]> {
  const ref = ctx.config.sources[source]!;
  const ttlAttribute = ctx.runtime.ttlAttributes[source];
  const client = ctx.sourceClients[source]!;
  // The touch strategy's marker may still be on an item (a touch whose removal has not run): never a target's.
  const prepare = strategyFor(ctx.config.backfill.strategy).prepareRecord?.(ctx.config);
  const currents = await Promise.all(
    keys.map(async (k) => {
      const res = await client.send(new GetItemCommand({ TableName: ref.table, Key: k.sourceKey, ConsistentRead: true }));
      const read = res.Item as AttributeMap | undefined;
      const item = read && prepare ? prepare({ newImage: read } as ChangeRecord).newImage : read;
      return item && ctx.config.backfill.skipExpired && ttlAttribute && isExpired(item, ttlAttribute, Date.now()) ? undefined : item;
    }),
  );
  const ops: WriteOp[] = [];
  const mapFailures: MapFailure[] = [];
  keys.forEach((k, i) => {
    const current = currents[i];
    try {
      ops.push(...retryWrites(ctx.mapper, source, k.sourceKey, current, [], k.targetKeys));
    } catch (err) {
      const error =
        err instanceof MappingError
          ? { code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) }
          : { code: 'TRANSFORM_FAILED', message: (err as Error).message };
      mapFailures.push({ stage: 'stream', source, sourceKey: k.sourceKey, ...(current ? { item: current } : {}), error });
      // The current version can't be transformed: what earlier versions produced is removed, the item is dead-lettered
      // (a later `dead-letters retry` puts it), exactly as when its backfill copy fails.
      ops.push(...retryWrites(ctx.mapper, source, k.sourceKey, undefined, [], k.targetKeys));
    }
  });
  if (mapFailures.length > 0 && ctx.config.onError === 'halt') await failures.handle(mapFailures, []); // throws ItemFailureHalt
  // Still the only replayer: the reads above may have stalled past the lease, and another replayer's newer writes of
  // these keys may have landed since. A lost lease throws here, before anything is written.
  await lock.confirm();

  // Deletes first, then puts: when two source items of the page share a target key, the one that still produces it wins.
  const deletes = compactWrites(ops.filter((o) => o.kind === 'delete'));
  const putIds = new Set(ops.filter((o) => o.kind === 'put').map((o) => `${o.target}\u0000${o.keyId}`));
  const { rejected: rejectedDeletes } = await writeToTargets(
    ctx.sinks,
    deletes.filter((o) => !putIds.has(`${o.target}\u0000${o.keyId}`)),
  );
  const { rejected: rejectedPuts } = await writeToTargets(ctx.sinks, compactWrites(ops.filter((o) => o.kind === 'put')));
  const rejected = [...rejectedDeletes, ...rejectedPuts];
  await failures.handle(mapFailures, rejected); // 'halt' throws here on a rejected write; 'dead-letter' records and goes on
  return keys;
}
