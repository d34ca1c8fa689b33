import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { MigrationState, Phase, ProgressSnapshot } from '../../state/migration-state.js';
import { sourceProgress } from './segments.js';

const PHASES: Phase[] = ['new', 'backfilling', 'catching-up', 'in-sync', 'reads-cutover', 'writes-cutover', 'finished', 'exported'];

/**
 * The run's Prometheus metrics. Every value is read from what the run already publishes — the progress snapshot it
 * hands out each second and the state file — and set afresh on each scrape; totals that the state keeps across
 * restarts (items copied, dead letters) are exported as counters all the same (a counter may start above zero).
 */
export class MigrationMetrics {
  readonly registry = new Registry();
  private readonly counters: Counter[] = [];
  private readonly gauges: Gauge[] = [];

  private readonly info = this.gauge('dynashift_migration_info', 'Always 1; labels name the migration and the dynashift version', [
    'migration',
    'version',
  ]);
  private readonly phase = this.gauge('dynashift_phase', '1 for the phase the migration is in, 0 for the others', ['phase']);
  private readonly halted = this.gauge('dynashift_halted', '1 once the run has halted on an error (it then exits)');
  private readonly progressAt = this.gauge('dynashift_progress_timestamp_seconds', 'When the run last published progress (Unix time)');

  private readonly backfillItems = this.counter('dynashift_backfill_items_total', 'Source items the backfill has read and written to every target', [
    'source',
  ]);
  private readonly backfillEstimated = this.gauge(
    'dynashift_backfill_estimated_items',
    'Items the source reported when the backfill began (approximate)',
    ['source'],
  );
  private readonly backfillComplete = this.gauge('dynashift_backfill_complete', "1 once the source's backfill is complete", ['source']);
  private readonly segmentItems = this.counter(
    'dynashift_backfill_segment_items_total',
    'Items copied by one backfill segment (scan segment, export file or touch segment)',
    ['source', 'segment'],
  );
  private readonly segmentDone = this.gauge('dynashift_backfill_segment_done', '1 once the backfill segment is complete', ['source', 'segment']);
  private readonly backfillRate = this.gauge('dynashift_backfill_items_per_second', 'Items copied per second over the last 10 seconds');
  private readonly backfillEta = this.gauge('dynashift_backfill_eta_seconds', 'Estimated seconds until the backfill completes (absent when unknown)');

  private readonly streamRecords = this.counter('dynashift_stream_records_applied_total', 'Stream records applied since this run started', [
    'direction',
  ]);
  private readonly streamSkipped = this.counter(
    'dynashift_stream_records_skipped_total',
    'Stream records passed over (already in the snapshot) since this run started',
    ['direction'],
  );
  private readonly streamWrites = this.counter(
    'dynashift_stream_writes_total',
    'Target writes the applied stream records made since this run started',
    ['direction'],
  );
  private readonly streamRate = this.gauge('dynashift_stream_records_per_second', 'Stream records applied per second over the last 10 seconds');
  private readonly streamLag = this.gauge('dynashift_stream_lag_seconds', 'Age of the oldest change not yet applied, over every shard being read');
  private readonly shardLag = this.gauge('dynashift_stream_shard_lag_seconds', 'Per open shard: age of its oldest change not yet applied', [
    'source',
    'shard',
  ]);
  private readonly shards = this.gauge('dynashift_stream_shards', 'Shards by state (reading, at-tip, waiting-for-parent, finished)', [
    'source',
    'state',
  ]);
  private readonly caughtUp = this.gauge('dynashift_stream_caught_up', '1 when every change up to now is applied');

  // A gauge, not a counter: a dead letter whose item later lands (or is retried) is resolved, and the count goes down.
  private readonly deadLetters = this.gauge('dynashift_dead_letters', 'Source items with an unresolved failure in the dead-letter file');
  private readonly inFlight = this.gauge('dynashift_writes_in_flight', 'Write requests in flight to the target', ['target']);
  private readonly requests = this.counter('dynashift_requests_total', 'Requests sent to the table (every SDK attempt) since this run started', [
    'side',
    'name',
    'table',
  ]);
  private readonly throttles = this.counter(
    'dynashift_throttles_total',
    'Requests the table throttled (errors, or BatchWriteItem UnprocessedItems) since this run started',
    ['side', 'name', 'table'],
  );
  private readonly retries = this.counter(
    'dynashift_retries_total',
    'Requests sent again after a throttle or a transient failure since this run started',
    ['side', 'name', 'table'],
  );
  private readonly rateLimit = this.gauge(
    'dynashift_rate_limit_units_per_second',
    'Capacity units per second the budget allows now (+Inf: unlimited)',
    ['side', 'name', 'kind'],
  );
  private readonly rateCeiling = this.gauge('dynashift_rate_limit_ceiling_units_per_second', "The budget's configured ceiling (+Inf: none)", [
    'side',
    'name',
    'kind',
  ]);
  private readonly backedOff = this.gauge(
    'dynashift_rate_limit_backed_off',
    '1 while throttling holds the budget below its ceiling (budgets with a ceiling only)',
    ['side', 'name', 'kind'],
  );

  constructor(private readonly labels: { migration: string; version: string }) {
    collectDefaultMetrics({ register: this.registry });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Sets every series from the latest snapshot and state; series that no longer apply (finished shards) go away. */
  update(snapshot: ProgressSnapshot | undefined, state: MigrationState | undefined): void {
    for (const m of [...this.counters, ...this.gauges]) m.reset();
    this.info.set(this.labels, 1);
    const phase = snapshot?.phase ?? state?.phase;
    if (phase) for (const p of PHASES) this.phase.set({ phase: p }, p === phase ? 1 : 0);
    this.halted.set(state?.runner?.halt ? 1 : 0);
    if (state) this.updateBackfill(state);
    this.deadLetters.set(snapshot?.deadLetters ?? state?.deadLetters ?? 0);
    if (snapshot) this.updateLive(snapshot);
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }

  private updateBackfill(state: MigrationState): void {
    for (const s of sourceProgress(state)) {
      this.backfillItems.inc({ source: s.source }, s.items);
      this.backfillEstimated.set({ source: s.source }, s.estimatedItems);
      this.backfillComplete.set({ source: s.source }, s.complete ? 1 : 0);
      for (const seg of s.segments) {
        this.segmentItems.inc({ source: s.source, segment: seg.segment }, seg.items);
        this.segmentDone.set({ source: s.source, segment: seg.segment }, seg.done ? 1 : 0);
      }
    }
  }

  private updateLive(p: ProgressSnapshot): void {
    this.progressAt.set(Date.parse(p.at) / 1000);
    this.backfillRate.set(p.backfill.itemsPerSecond);
    if (p.backfill.etaSeconds !== undefined) this.backfillEta.set(p.backfill.etaSeconds);
    const direction = p.stream.direction ?? 'forward';
    this.streamRecords.inc({ direction }, p.stream.records);
    this.streamSkipped.inc({ direction }, p.stream.skipped);
    this.streamWrites.inc({ direction }, p.stream.writes);
    this.streamRate.set(p.stream.recordsPerSecond);
    this.streamLag.set(p.stream.lagMs / 1000);
    this.caughtUp.set(p.stream.caughtUp ? 1 : 0);
    const byState = new Map<string, number>();
    for (const sh of p.stream.shards) {
      byState.set(`${sh.source}\u0000${sh.state}`, (byState.get(`${sh.source}\u0000${sh.state}`) ?? 0) + 1);
      if (sh.lagMs !== undefined) this.shardLag.set({ source: sh.source, shard: sh.shardId }, sh.lagMs / 1000);
    }
    for (const [k, n] of byState) {
      const [source, state] = k.split('\u0000') as [string, string];
      this.shards.set({ source, state }, n);
    }
    for (const t of p.io ?? []) {
      const labels = { side: t.side, name: t.name, table: t.table };
      this.requests.inc(labels, t.requests);
      this.throttles.inc(labels, t.throttles);
      this.retries.inc(labels, t.retries);
      if (t.writesInFlight !== undefined) this.inFlight.set({ target: t.name }, t.writesInFlight);
      for (const r of t.rateLimits) {
        const l = { side: t.side, name: t.name, kind: r.kind };
        const rate = r.unitsPerSecond ?? Infinity;
        const ceiling = r.ceiling ?? Infinity;
        this.rateLimit.set(l, rate);
        this.rateCeiling.set(l, ceiling);
        // An unlimited budget, once throttled, regrows by 5% a second without ever getting back to "unlimited".
        if (Number.isFinite(ceiling)) this.backedOff.set(l, rate < ceiling ? 1 : 0);
      }
    }
  }

  private gauge<L extends string>(name: string, help: string, labelNames: L[] = []): Gauge<L> {
    const g = new Gauge<L>({ name, help, labelNames, registers: [this.registry] });
    this.gauges.push(g as Gauge);
    return g;
  }

  private counter<L extends string>(name: string, help: string, labelNames: L[] = []): Counter<L> {
    const c = new Counter<L>({ name, help, labelNames, registers: [this.registry] });
    this.counters.push(c as Counter);
    return c;
  }
}
