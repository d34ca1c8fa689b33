/**
 * The metrics port is read-only, says what to do when the port is taken, and serves a page that loads nothing from
 * anywhere else — before the run has written any state, too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMonitor } from '../../src/cli/observe/monitor-server.js';
import { DynashiftError } from '../../src/errors.js';

const options = () => ({
  host: '127.0.0.1',
  port: 0,
  migration: 'm',
  version: '0.0.0',
  stateDir: join(mkdtempSync(join(tmpdir(), 'dynashift-mon-')), 'state'),
});

test('the monitor answers GET only, and its page allows no outside script, style or connection', async () => {
  const monitor = await startMonitor(options());
  try {
    const post = await fetch(new URL('metrics', monitor.url), { method: 'POST' });
    assert.equal(post.status, 405);
    assert.equal((await fetch(new URL('cutover', monitor.url))).status, 404);
    const page = await fetch(monitor.url);
    assert.equal(page.status, 200);
    const csp = page.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /connect-src 'self'/);
    const html = await page.text();
    assert.doesNotMatch(html, /(src|href)=["']https?:/, 'no outside resource is referenced');
    // Before any state exists the data endpoint still answers, with the first step to take.
    const status = (await (await fetch(new URL('api/status', monitor.url))).json()) as { phase: string; next: string; backfill: unknown[] };
    assert.equal(status.phase, 'not-started');
    assert.deepEqual(status.backfill, []);
    const metrics = await (await fetch(new URL('metrics', monitor.url))).text();
    assert.match(metrics, /^dynashift_migration_info\{migration="m",version="0.0.0"\} 1$/m);
  } finally {
    await monitor.close();
  }
});

test('a metrics port that is taken fails the run at start with METRICS_PORT_UNAVAILABLE and a fix', async () => {
  const first = await startMonitor(options());
  try {
    const port = Number(new URL(first.url).port);
    await assert.rejects(startMonitor({ ...options(), port }), (err: unknown) => {
      assert.ok(err instanceof DynashiftError);
      assert.equal(err.code, 'METRICS_PORT_UNAVAILABLE');
      assert.match(err.hint ?? '', /--metrics-port/);
      return true;
    });
  } finally {
    await first.close();
  }
});
