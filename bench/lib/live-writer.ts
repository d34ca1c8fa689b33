/**
 * A steady, open-loop writer for the lag measurement: `rate` PutItems per second of full dataset items (each with a
 * rising `seq`), whatever the latency. Every `sampleEvery`-th write made inside the measuring window is followed on
 * the target: a poller reads the pending keys (BatchGetItem, consistent) in a loop and records when `seq` shows up.
 *
 * Lag = time the target first shows the write − time the source acknowledged it. The poller's own cycle (one
 * BatchGetItem round trip, ~5–30 ms) adds up to one cycle of error.
 */
import { BatchGetItemCommand, PutItemCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KEY_NAME, itemId, makeItem, mulberry32 } from './dataset.js';
import { sleep } from './limit.js';
import { batchWrite } from './local.js';

export interface LiveWriterOptions {
  client: DynamoDBClient;
  source: string;
  target: string;
  seed: number;
  /** Writes per second. */
  rate: number;
  /** Ids 0…existing-1 exist (re-written); new ids are appended from `existing` on. */
  existing: number;
  /** Share of writes that create new items (the rest overwrite existing ones). */
  newShare?: number;
  sampleEvery: number;
  /** In-flight writes beyond which the writer counts itself as falling behind (and skips the tick). */
  maxInFlight?: number;
  /** put (default): one PutItem per write. batch: a tick's writes (distinct keys) go in BatchWriteItems of ≤ 25. */
  mode?: 'put' | 'batch';
  /**
   * Polls a pending key again only once `relativePollInterval` × its age has passed since its last poll (default 0:
   * every key every cycle). Many writes stay unseen for tens of seconds when the stream is applied only after a
   * backfill; polling them all in a tight loop would load the emulator that serves the backfill. The lag is then
   * overstated by at most this share (plus one poll cycle).
   */
  relativePollInterval?: number;
  /**
   * Times a write answered 500 is sent again (default 0), after 50 ms doubling up to 1 s. DynamoDB Local answers
   * "timed out waiting for a lock" under a busy backfill on a loaded machine, where AWS would succeed; the SDK's own
   * retries stop once its retry quota is spent. The write's ack is then its successful attempt's.
   */
  retries?: number;
}

interface PreparedWrite {
  n: number;
  seq: number;
  id: string;
  item: Record<string, AttributeValue>;
  sample: boolean;
}

export interface LagSample {
  id: string;
  seq: number;
  sentAt: number;
  ackAt: number;
  seenAt?: number;
  /** A later sampled write of the same key was made before this one was seen (its lag is left out). */
  superseded?: boolean;
}

export class LiveWriter {
  private readonly rng;
  private issued = 0;
  private acked = 0;
  private failed = 0;
  private inFlight = 0;
  private skippedTicks = 0;
  private nextNew: number;
  private startedAt = 0;
  private stopped = false;
  private sampling = false;
  private loop: Promise<void> | undefined;
  private poller: Promise<void> | undefined;
  readonly samples: LagSample[] = [];
  private readonly pending = new Map<string, LagSample>();
  private readonly polledAt = new Map<string, number>();
  private pollCycles = 0;
  private pollMs = 0;
  private writeLatencies: number[] = [];
  /** Writes sent again after a 500 (see `retries`). */
  retried = 0;
  /** The first failed source write's error, for the report. */
  firstError: string | undefined;
  /** Sampled writes overwritten by a later sampled write of the same key before they were seen (left out). */
  superseded = 0;

  constructor(private readonly o: LiveWriterOptions) {
    this.rng = mulberry32(o.seed ^ 0x5eed);
    this.nextNew = o.existing;
  }

  start(): void {
    this.startedAt = performance.now();
    this.loop = this.run();
    this.poller = this.poll();
  }

  /** Samples are taken only between startSampling() and stopSampling(). */
  startSampling(): void {
    this.sampling = true;
    this.window = { from: performance.now(), acked: this.acked };
  }

  stopSampling(): void {
    this.sampling = false;
    if (this.window) this.windowRate = ((this.acked - this.window.acked) * 1000) / (performance.now() - this.window.from);
  }

  private window: { from: number; acked: number } | undefined;
  /** Writes per second acknowledged inside the sampling window (the rate the lag was measured at). */
  windowRate = NaN;

  /** Stops writing; then waits (up to `drainMs`) for the sampled writes still in flight to reach the target. */
  async stop(drainMs = 30_000): Promise<void> {
    this.stopped = true;
    await this.loop;
    const deadline = Date.now() + drainMs;
    while (this.pending.size > 0 && Date.now() < deadline) await sleep(50);
    this.pollerStopped = true;
    await this.poller;
  }

  private pollerStopped = false;

  stats(): {
    issued: number;
    acked: number;
    failed: number;
    seconds: number;
    achievedRate: number;
    skippedTicks: number;
    unseen: number;
    pollCycleMs: number;
    writeLatencyP50: number;
    writeLatencyP99: number;
  } {
    const seconds = (performance.now() - this.startedAt) / 1000;
    const lat = [...this.writeLatencies].sort((a, b) => a - b);
    const q = (p: number): number => (lat.length ? lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))]! : NaN);
    return {
      issued: this.issued,
      acked: this.acked,
      failed: this.failed,
      seconds,
      achievedRate: this.acked / seconds,
      skippedTicks: this.skippedTicks,
      unseen: this.pending.size,
      pollCycleMs: this.pollCycles ? this.pollMs / this.pollCycles : NaN,
      writeLatencyP50: q(50),
      writeLatencyP99: q(99),
    };
  }

  private async run(): Promise<void> {
    const tickMs = 10;
    const maxInFlight = this.o.maxInFlight ?? 200;
    while (!this.stopped) {
      const due = Math.floor(((performance.now() - this.startedAt) * this.o.rate) / 1000) - this.issued;
      const tick: PreparedWrite[] = [];
      for (let i = 0; i < due; i++) {
        if (this.inFlight + tick.length >= maxInFlight) {
          this.skippedTicks++;
          this.issued += due - i; // the writer fell behind: those writes are dropped, not queued
          break;
        }
        tick.push(this.prepare(tick));
      }
      if (this.o.mode === 'batch') {
        for (let i = 0; i < tick.length; i += 25) this.send(tick.slice(i, i + 25));
      } else {
        for (const w of tick) this.send([w]);
      }
      await sleep(tickMs);
    }
    while (this.inFlight > 0) await sleep(10);
  }

  /** The next write: a new item or an overwrite, never a key already in this tick (a BatchWriteItem needs distinct keys). */
  private prepare(tick: readonly PreparedWrite[]): PreparedWrite {
    const seq = ++this.issued;
    let n = this.rng() < (this.o.newShare ?? 0.3) ? this.nextNew++ : Math.floor(this.rng() * this.o.existing);
    if (tick.some((w) => w.n === n)) n = this.nextNew++;
    return {
      n,
      seq,
      id: itemId(n),
      item: makeItem(this.o.seed, n, { seq: { N: String(seq) } }),
      sample: this.sampling && seq % this.o.sampleEvery === 0,
    };
  }

  private send(writes: PreparedWrite[]): void {
    const sentAt = Date.now();
    this.inFlight += writes.length;
    const request = this.attempt(writes);
    request
      .then(
        () => {
          const ackAt = Date.now();
          for (const w of writes) {
            this.acked++;
            if (this.writeLatencies.length < 200_000) this.writeLatencies.push(ackAt - sentAt);
            if (!w.sample) continue;
            const s: LagSample = { id: w.id, seq: w.seq, sentAt, ackAt };
            this.samples.push(s);
            // A later sampled write of the same key supersedes (and also proves) the earlier one.
            const earlier = this.pending.get(w.id);
            if (earlier) {
              earlier.superseded = true;
              this.superseded++;
            }
            this.pending.delete(w.id);
            this.pending.set(w.id, s);
          }
        },
        (err: unknown) => {
          this.failed += writes.length;
          this.firstError ??= err instanceof Error ? `${err.name}: ${err.message}` : String(err);
        },
      )
      .finally(() => {
        this.inFlight -= writes.length;
      });
  }

  private async attempt(writes: PreparedWrite[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        if (writes.length === 1 && this.o.mode !== 'batch') {
          await this.o.client.send(new PutItemCommand({ TableName: this.o.source, Item: writes[0]!.item }));
        } else {
          await batchWrite(
            this.o.client,
            this.o.source,
            writes.map((w) => ({ PutRequest: { Item: w.item } })),
          );
        }
        return;
      } catch (err) {
        if (attempt >= (this.o.retries ?? 0) || (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode !== 500) throw err;
        this.retried++;
        await sleep(Math.min(1000, 50 * 2 ** attempt));
      }
    }
  }

  private async poll(): Promise<void> {
    while (!this.pollerStopped) {
      if (this.pending.size === 0) {
        await sleep(5);
        continue;
      }
      const started = Date.now();
      const every = this.o.relativePollInterval ?? 0;
      const keys = [...this.pending]
        .filter(([id, s]) => every === 0 || started - (this.polledAt.get(id) ?? 0) >= (started - s.ackAt) * every)
        .map(([id]) => id);
      if (keys.length === 0) {
        await sleep(5);
        continue;
      }
      for (const id of keys) this.polledAt.set(id, started);
      const chunks: string[][] = [];
      for (let i = 0; i < keys.length; i += 100) chunks.push(keys.slice(i, i + 100));
      const found = new Map<string, number>();
      await Promise.all(
        chunks.map(async (chunk) => {
          let request: Record<string, AttributeValue>[] = chunk.map((id) => ({ [KEY_NAME]: { S: id } }));
          while (request.length > 0) {
            const res = await this.o.client.send(
              new BatchGetItemCommand({
                RequestItems: {
                  [this.o.target]: {
                    Keys: request,
                    ConsistentRead: true,
                    ProjectionExpression: '#k, #s',
                    ExpressionAttributeNames: { '#k': KEY_NAME, '#s': 'seq' },
                  },
                },
              }),
            );
            for (const item of res.Responses?.[this.o.target] ?? []) {
              const seq = item['seq']?.N;
              if (seq !== undefined) found.set(item[KEY_NAME]!.S!, Number(seq));
            }
            request = (res.UnprocessedKeys?.[this.o.target]?.Keys ?? []) as Record<string, AttributeValue>[];
          }
        }),
      );
      const seenAt = Date.now();
      for (const [id, seq] of found) {
        const s = this.pending.get(id);
        if (s && seq >= s.seq) {
          s.seenAt = seenAt;
          this.pending.delete(id);
          this.polledAt.delete(id);
        }
      }
      this.pollCycles++;
      this.pollMs += seenAt - started;
    }
  }
}
