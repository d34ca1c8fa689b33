/**
 * Evidence for a failed comparison on the AWS runner's spool path: what each differing key's stream records were, and
 * which handler deliveries carried them with what answer; and what the spool still holds. A spool that still holds a
 * key once the replay is live is itself a lost change (its records were acknowledged as spooled and are never
 * replayed), so the tests assert it is empty; the history is printed only when a comparison fails.
 */
import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { readStream } from '../fixtures/lambda/read-stream.js';
import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from '../../src/runners/lambda/types.js';
import assert from 'node:assert/strict';
import type { AttributeMap } from '../../src/core/item.js';
import type { Sink } from '../../src/sinks/sink.js';
import { expectedTargets, SOURCE_TABLE, TARGET_TABLES } from './crash-scenario.js';
import { latestStreamArn } from './dynamodb-local.js';
import { compareTables, formatDiff, isEmptyDiff, scanAll } from './independent-scan.js';
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
  const ids = idsIn(opts.diffText);
  const keyAttribute = opts.keyAttribute ?? 'id';
  const lines = [`stream history of ${[...ids].join(', ')}:`];
  for (const rec of await readStream(opts.streams, opts.streamArn)) {
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
  return lines.join('\n');
}

/** The fixture's item ids (item-NNNNNN) a comparison's text names. */
function idsIn(diffText: string): Set<string> {
  return new Set([...diffText.matchAll(/item-\d{6}/g)].map((m) => m[0]));
}

function image(item: Record<string, { S?: string; N?: string; SS?: string[] }> | undefined): string {
  if (!item) return '-';
  return `grp=${item.grp?.S} v=${item.v?.N} tags=${JSON.stringify(item.tags?.SS)} marker=${Object.keys(item).some((k) => k.startsWith('_dynashift'))}`;
}

/**
 * The end of a spooled run on the fixture's migration (test/fixtures/lambda/migration-fixture.ts): both targets must
 * equal transform(source) by the independent scanner, and the spool must be empty (a key left in it is a change
 * acknowledged as spooled and never replayed). When anything differs, the assertion messages (and stdout) carry the
 * evidence: the spool's leftovers, the handoff/live log lines and the stream history of every key named — so the
 * failure summary at the end of a CI log says what happened to those keys.
 * @returns the source's items and the expected targets, for the caller's own checks
 */
export async function assertSpooledRunConverged(opts: {
  client: DynamoDBClient;
  streams: DynamoDBStreamsClient;
  stateTable: string;
  migration: string;
  deliveries: Delivery[];
  logLines: Record<string, unknown>[];
  context: string;
  /** The watched sinks' write log: printed for the differing keys. */
  sinks?: { writesOf: (diffText: string) => string };
}): Promise<{ source: AttributeMap[]; expected: ReturnType<typeof expectedTargets> }> {
  const source = await scanAll(opts.client, SOURCE_TABLE);
  const expected = expectedTargets(source);
  const byGroup = compareTables(expected.byGroup, await scanAll(opts.client, TARGET_TABLES.byGroup), ['grp', 'id']);
  const flags = compareTables(expected.flags, await scanAll(opts.client, TARGET_TABLES.flags), ['id']);
  const left = await spoolLeft(opts.client, opts.stateTable, opts.migration, 'source');
  let evidence = '';
  if (left.keys.length > 0 || !isEmptyDiff(byGroup) || !isEmptyDiff(flags)) {
    const diffText = JSON.stringify([byGroup, flags, left.keys]);
    const history = await explainStreamHistory({
      streams: opts.streams,
      streamArn: await latestStreamArn(opts.client, SOURCE_TABLE),
      diffText,
      deliveries: opts.deliveries,
    });
    const timeline = opts.logLines.filter((l) => /handed off|spool replayed|replay done/.test(String(l.message))).map((l) => JSON.stringify(l));
    evidence = `\nspool left ${JSON.stringify(left)}\n${[...timeline, history, ...(opts.sinks ? [opts.sinks.writesOf(diffText)] : [])].join('\n')}`;
    console.log(evidence.replaceAll('\n', '\n# '));
  }
  assert.deepEqual(left.keys, [], `the spool is empty once live: a key left in it is a change never replayed (${opts.context})${evidence}`);
  assert.ok(isEmptyDiff(byGroup), `byGroup differs (${opts.context}):\n${formatDiff(byGroup)}${evidence}`);
  assert.ok(isEmptyDiff(flags), `flags differs (${opts.context}):\n${formatDiff(flags)}${evidence}`);
  return { source, expected };
}

/** One target write as a watched sink saw it: who asked, what, and how it ended. */
export interface WatchedWrite {
  /** 'handler', or 'replay' (the backfill tasks' sinks: backfill segments and the Replay task). */
  by: 'handler' | 'replay';
  /** The op's origin: 'backfill' (a segment's copy), 'retry' (a replay's re-read), or the stream's shard label. */
  via: string;
  op: 'put' | 'delete';
  target: string;
  id: string | undefined;
  v: string | undefined;
  grp: string | undefined;
  startedAt: number;
  endedAt?: number;
  /** 'ok', 'rejected: CODE', or the error the call threw (an injected crash writes a prefix of the call first). */
  outcome?: string;
}

/**
 * The sinks the stream handler and the replay open (via `wrapSink`), watched: their SDK attempts, and every write op
 * with its timing and outcome, for the failure context. A differing key's writes, in time order, say which writer
 * left the stale value and when; with the stream history and the deliveries they explained the stale spool runs
 * (docs/consistency.md, "The stale spool runs, explained").
 */
export function watchSinks(): {
  handler: (sink: Sink) => Sink;
  replay: (sink: Sink) => Sink;
  summary: () => string;
  writes: WatchedWrite[];
  /** The writes of the ids named in `diffText` (item-NNNNNN), oldest first, one line each. */
  writesOf: (diffText: string) => string;
} {
  const watched: Record<'handler' | 'replay', Sink[]> = { handler: [], replay: [] };
  const writes: WatchedWrite[] = [];
  const watch =
    (by: 'handler' | 'replay') =>
    (sink: Sink): Sink => {
      watched[by].push(sink);
      return {
        name: sink.name,
        capabilities: sink.capabilities,
        ...(sink.close ? { close: () => sink.close!() } : {}),
        ...(sink.activity ? { activity: () => sink.activity!() } : {}),
        ...(sink.writeBudget ? { writeBudget: sink.writeBudget } : {}),
        ...(sink.callStats ? { callStats: sink.callStats } : {}),
        async write(ops, signal) {
          const startedAt = Date.now();
          const logged = ops.map((o) => {
            const item = o.kind === 'put' ? o.item : undefined;
            const w: WatchedWrite = {
              by,
              via: o.origin.via,
              op: o.kind,
              target: o.target,
              id: o.origin.sourceKey.id?.S,
              v: item?.v?.N,
              grp: item?.grp?.S,
              startedAt,
            };
            writes.push(w);
            return w;
          });
          try {
            const res = await sink.write(ops, signal);
            const rejected = new Map(res.rejected.map((r) => [r.op, r.error.code]));
            ops.forEach((o, i) =>
              Object.assign(logged[i]!, { endedAt: Date.now(), outcome: rejected.has(o) ? `rejected: ${rejected.get(o)}` : 'ok' }),
            );
            return res;
          } catch (err) {
            for (const w of logged) Object.assign(w, { endedAt: Date.now(), outcome: `threw ${(err as Error).name}` });
            throw err;
          }
        },
      };
    };
  const total = (sinks: Sink[]) =>
    sinks.reduce(
      (n, s) => {
        const a = s.activity?.();
        return { requests: n.requests + (a?.requests ?? 0), retries: n.retries + (a?.retries ?? 0) };
      },
      { requests: 0, retries: 0 },
    );
  return {
    handler: watch('handler'),
    replay: watch('replay'),
    summary: () => `target SDK attempts: handler ${JSON.stringify(total(watched.handler))}, replay ${JSON.stringify(total(watched.replay))}`,
    writes,
    writesOf: (diffText) => {
      const ids = idsIn(diffText);
      const lines = [`target writes of ${[...ids].join(', ')} (a crashed call wrote a prefix of its ops):`];
      for (const w of writes.filter((x) => x.id !== undefined && ids.has(x.id)).sort((a, b) => a.startedAt - b.startedAt))
        lines.push(
          `${w.id} ${w.startedAt}-${w.endedAt ?? 'pending'} ${w.by}/${w.via} ${w.op} ${w.target} grp=${w.grp} v=${w.v} ${w.outcome ?? 'pending'}`,
        );
      return lines.join('\n');
    },
  };
}
