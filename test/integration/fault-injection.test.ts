/**
 * The crash scenario (test/support/crash-scenario.ts: live writes, deletes, key moves, SIGKILLs and resumes) with
 * dynashift talking to DynamoDB Local — tables and streams — through a fault-injecting proxy (test/support/
 * fault-proxy.ts): throttling 400s, 500s, 503s, connections reset before a request is forwarded and after it was
 * applied, and added latency, on at least 5% of requests. Every target must still equal transform(source), item by
 * item, by the independent scanner; every kind of fault must have happened; the retried failures must have been
 * reported as warnings naming the side and the operation.
 *
 * FAULT_SEEDS=N runs N seeds (default 1, the subset `npm test` runs); FAULT_SEED_BASE shifts them; FAULT_RATE sets the
 * share of requests that get a fault (default 0.08); FAULT_ITEMS the table size (default 1000); FAULT_STRATEGY scan or
 * touch (default scan).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mulberry32 } from '../../src/core/random.js';
import { localDynamoDbSink, runCrashScenario } from '../support/crash-scenario.js';
import { FAULTS, startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';

const SEEDS = Number(process.env.FAULT_SEEDS ?? 1);
const SEED_BASE = Number(process.env.FAULT_SEED_BASE ?? 1);
const RATE = Number(process.env.FAULT_RATE ?? 0.08);
const ITEMS = Number(process.env.FAULT_ITEMS ?? 1000);
const STRATEGY = (process.env.FAULT_STRATEGY ?? 'scan') as 'scan' | 'touch';
const KILLS = 2;

for (let i = 0; i < SEEDS; i++) {
  const seed = SEED_BASE + i;
  test(
    `${STRATEGY} backfill, seed ${seed}: target equals transform(source) with ${Math.round(RATE * 100)}% of requests faulted (throttles, 5xx, resets before and after applying, latency) and ${KILLS} SIGKILLs`,
    { timeout: 300_000 },
    async (t) => {
      let proxy: FaultProxy | undefined;
      try {
        const result = await runCrashScenario(localDynamoDbSink, {
          seed,
          strategy: STRATEGY,
          items: ITEMS,
          kills: KILLS,
          dynashiftEndpoint: async (upstream) => {
            proxy = await startFaultProxy({ upstream, rng: mulberry32(seed * 104_729), rate: RATE });
            return proxy.endpoint;
          },
        });
        assert.ok(proxy, 'the scenario went through the proxy');
        const { requests, ...byFault } = proxy.stats;
        const faulted = Object.values(byFault).reduce((a, b) => a + b, 0);
        const context = `seed ${seed}: ${requests} requests, faults ${JSON.stringify(byFault)}`;
        assert.ok(requests > 200, `too few requests went through the proxy (${context})`);
        assert.ok(faulted / requests >= 0.05, `at least 5% of requests faulted (${context})`);
        for (const f of FAULTS) assert.ok(byFault[f] > 0, `fault ${f} happened at least once (${context})`);
        const log = result.stderr.join('\n');
        // Reported, not asserted: whether DynamoDB Local wrote its duplicate REMOVE depends on timing.
        const duplicateRemoves = log.match(/DynamoDB Local's duplicate REMOVE/g)?.length ?? 0;
        t.diagnostic(`${context}, duplicate REMOVEs passed over ${duplicateRemoves}`);
        assert.match(
          log,
          /(source|target|state)( \([\w.]+\))?: \w+ failed with (InternalServerError|ServiceUnavailable)/,
          'a 5xx the SDK retried is reported with side and operation',
        );
        assert.match(
          log,
          /(source|target|state)( \([\w.]+\))?: \w+ failed with (ECONNRESET|EPIPE|socket hang up)/,
          'a reset connection is reported with side and operation',
        );
      } finally {
        await proxy?.close();
      }
    },
  );
}
