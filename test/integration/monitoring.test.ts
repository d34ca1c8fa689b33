/**
 * `dynashift run --metrics-port` during a live migration on DynamoDB Local (the application keeps writing, one item is
 * dead-lettered): /metrics parses with a Prometheus text-format parser and tells the migration's story, and the
 * dashboard shows a person the phase, the next step, segment progress, charts and the dead letter, in real Chromium.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import parsePrometheusTextFormat, { type PrometheusFamily } from 'parse-prometheus-text-format';
import { chromium } from 'playwright-core';
import { withDynamoDbLocal } from '../support/dynamodb-local.js';
import { POISON_ID, startMonitoredRun, type MonitoredRun } from '../support/live-monitored-run.js';

const local = withDynamoDbLocal();
const ITEMS = 1500;
const SEGMENTS = 4;
/** Debian's chromium package (.ci/run installs it); never a browser downloaded by playwright. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOTS = fileURLToPath(new URL('../../test-output/', import.meta.url));

let run: MonitoredRun;

async function scrape(): Promise<PrometheusFamily[]> {
  const res = await fetch(new URL('metrics', run.url));
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parsePrometheusTextFormat(await res.text());
}

function family(families: PrometheusFamily[], name: string): PrometheusFamily {
  const f = families.find((x) => x.name === name);
  assert.ok(
    f,
    `metric ${name} is exported (got ${families
      .map((x) => x.name)
      .filter((n) => n.startsWith('dynashift_'))
      .join(', ')})`,
  );
  return f;
}

function value(families: PrometheusFamily[], name: string, labels: Record<string, string> = {}): number {
  const sample = family(families, name).metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  assert.ok(sample, `${name}${JSON.stringify(labels)} has a sample`);
  return promNumber(sample.value!);
}

/** Prometheus text-format numbers, which include +Inf, -Inf and NaN. */
function promNumber(text: string): number {
  return text === '+Inf' ? Infinity : text === '-Inf' ? -Infinity : Number(text);
}

/**
 * The poison item is dead-lettered by the backfill, and again by the stream when it replays the records written just
 * before the snapshot (the safety margin): one line per refusal, each for that item; one source item in all.
 */
function deadLetterKeys(): string[] {
  return readFileSync(run.deadLetterFile, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.stringify((JSON.parse(l) as { sourceKey: unknown }).sourceKey));
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = await probe().catch(() => undefined);
    if (got !== undefined) return got;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${run.stderr().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe('dynashift run --metrics-port', () => {
  before(
    async () => {
      run = await startMonitoredRun(local, { items: ITEMS, segments: SEGMENTS });
      // The application writes once the snapshot is copied, so the backfill counts are exact; the stream then moves.
      await until('backfill complete', 90_000, async () =>
        value(await scrape(), 'dynashift_backfill_complete', { source: 'source' }) === 1 ? true : undefined,
      );
      run.startWriter();
    },
    { timeout: 180_000 },
  );
  after(async () => {
    const result = await run?.stop();
    assert.equal(result?.code, 0, `the run should stop cleanly on SIGTERM:\n${result?.stderr}`);
  });

  test(
    '/metrics of a live migration parses as Prometheus text and reports phase, segments, stream, requests and dead letters',
    { timeout: 120_000 },
    async () => {
      const families = await until('phase in-sync with stream records applied', 90_000, async () => {
        const f = await scrape();
        return value(f, 'dynashift_phase', { phase: 'in-sync' }) === 1 && value(f, 'dynashift_stream_records_applied_total') > 0 ? f : undefined;
      });

      // Prometheus naming: one prefix, counters end in _total, units in the name.
      for (const f of families.filter((x) => x.name.startsWith('dynashift_'))) {
        assert.equal(f.type === 'COUNTER', f.name.endsWith('_total'), `${f.name} (${f.type}): counters and only counters end in _total`);
        assert.ok(f.help.length > 10, `${f.name} has a help text`);
      }
      assert.equal(family(families, 'dynashift_phase').metrics.filter((m) => m.value === '1').length, 1, 'exactly one phase is current');
      assert.equal(value(families, 'dynashift_halted'), 0);
      assert.equal(value(families, 'dynashift_migration_info', { migration: 'monitored' }), 1);

      // Backfill: every segment done, and together they copied exactly the seeded items and the poison one.
      const segments = family(families, 'dynashift_backfill_segment_items_total').metrics;
      assert.equal(segments.length, SEGMENTS);
      assert.deepEqual(
        family(families, 'dynashift_backfill_segment_done').metrics.map((m) => m.value),
        Array(SEGMENTS).fill('1'),
      );
      const perSegment = segments.reduce((n, m) => n + Number(m.value), 0);
      assert.equal(value(families, 'dynashift_backfill_items_total', { source: 'source' }), perSegment);
      assert.equal(perSegment, ITEMS + 1);
      assert.ok(
        segments.every((m) => Number(m.value) > 0),
        'every segment copied items',
      );
      assert.equal(value(families, 'dynashift_backfill_complete', { source: 'source' }), 1);

      // Stream: caught up, each open shard has a lag in seconds, records applied while the application writes.
      assert.equal(value(families, 'dynashift_stream_caught_up'), 1);
      assert.ok(family(families, 'dynashift_stream_shard_lag_seconds').metrics.length >= 1, 'per-shard lag is exported');
      // The overall lag is the worst open shard's (DynamoDB Local stamps records to the minute, so no bound on it here).
      const shardLags = family(families, 'dynashift_stream_shard_lag_seconds').metrics.map((m) => promNumber(m.value!));
      assert.equal(value(families, 'dynashift_stream_lag_seconds'), Math.max(...shardLags));

      // Requests per side, writes in flight and rate limits (an unlimited budget reads +Inf).
      for (const [side, table] of [
        ['source', 'orders'],
        ['target', 'orders_v2'],
      ] as const) {
        const requests = value(families, 'dynashift_requests_total', { side, table });
        assert.ok(requests > 0, `${side} requests are counted`);
        // Throttles and retries are counted per attempt (test/unit/call-stats.test.ts); each is a request.
        assert.ok(value(families, 'dynashift_throttles_total', { side, table }) <= requests);
        assert.ok(value(families, 'dynashift_retries_total', { side, table }) <= requests);
      }
      const inFlight = value(families, 'dynashift_writes_in_flight', { target: 'target' });
      assert.ok(inFlight >= 0 && inFlight <= 16, `at most write.concurrency (16) requests in flight: ${inFlight}`);
      assert.equal(value(families, 'dynashift_rate_limit_ceiling_units_per_second', { side: 'target', kind: 'write' }), Infinity);
      assert.equal(value(families, 'dynashift_rate_limit_ceiling_units_per_second', { side: 'source', kind: 'read' }), Infinity);

      // The poison item is in the dead-letter file; the gauge counts source items with an open failure (one here).
      const keys = deadLetterKeys();
      assert.ok(keys.length >= 1 && keys.every((k) => k.includes(POISON_ID)), keys.join('\n'));
      assert.equal(value(families, 'dynashift_dead_letters'), new Set(keys).size);
      // Standard process metrics come along (process_start_time_seconds serves a "restarted" alert).
      assert.ok(value(families, 'process_start_time_seconds') > 0);
    },
  );

  test(
    'the dashboard shows the phase, next step, segment progress, throughput and lag charts, and the dead letters',
    { timeout: 120_000 },
    async () => {
      // Let the charts gather a few seconds of history.
      await until('in sync', 90_000, async () => (value(await scrape(), 'dynashift_stream_caught_up') === 1 ? true : undefined));
      const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
      try {
        const page = await browser.newPage({ viewport: { width: 1280, height: 1500 } });
        const external: string[] = [];
        page.on('request', (req) => {
          if (!req.url().startsWith(run.url)) external.push(req.url());
        });
        await page.goto(run.url);
        await page.waitForSelector('body[data-loaded="true"]');

        await page.waitForFunction("document.getElementById('phase').textContent === 'in-sync'");
        assert.equal(await page.textContent('#migration'), 'monitored');
        // In sync, but the dead letter must be resolved before reads may move: the page says so.
        assert.equal(await page.textContent('#next'), 'resolve the reason above');
        const keys = deadLetterKeys();
        assert.match((await page.textContent('#reason')) ?? '', new RegExp(`^${new Set(keys).size} unresolved item\\(s\\) in the dead-letter file`));

        // One row per segment, each complete.
        const segmentRows = page.locator('#segments tbody tr');
        assert.equal(await segmentRows.count(), SEGMENTS);
        assert.deepEqual(await segmentRows.locator('td:nth-child(4)').allTextContents(), Array(SEGMENTS).fill('done'));
        assert.match((await page.textContent('#segments')) ?? '', new RegExp(`${SEGMENTS}/${SEGMENTS} segments done`));

        // Charts drawn from the run's history: lines with data points.
        await page.waitForFunction("(document.querySelector('#chart-lag polyline')?.getAttribute('points') ?? '').split(' ').length >= 3");
        for (const series of ['items', 'records']) {
          const points = (await page.getAttribute(`#chart-throughput polyline[data-series="${series}"]`, 'points')) ?? '';
          assert.ok(points.split(' ').length >= 3, `${series} line has data points: ${points}`);
        }

        // The dead letters: the item's key and the transform's error, one row per line of the file.
        const dead = page.locator('#dead-letters tbody tr');
        assert.equal(await dead.count(), keys.length);
        for (const row of await dead.allTextContents()) {
          assert.match(row, new RegExp(POISON_ID));
          assert.match(row, /refusing the poison order on purpose/);
        }
        // The figure counts source items with an open failure: the poison item once, however often it was refused.
        assert.equal(await page.textContent('#stat-dead'), String(new Set(keys).size));

        // Nothing came from anywhere but dynashift's own server.
        assert.deepEqual(external, []);
        mkdirSync(SCREENSHOTS, { recursive: true });
        await page.screenshot({ path: `${SCREENSHOTS}dashboard.png`, fullPage: true });
      } finally {
        await browser.close();
      }
    },
  );
});
