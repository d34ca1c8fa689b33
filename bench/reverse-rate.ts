/**
 * Reverse replication's apply rate (after `cutover writes`), one chain of records at a time against `--concurrency`
 * chains at once. Not a section of `npm run bench`: it drives the reverse applier itself, not the CLI, to isolate
 * what chains by source item change (BENCHMARKS.md, "Reverse replication").
 *
 * A fresh DynamoDB Local holds a source table (`id`) and a target (`gk`, `id`) with the same N items. Each round hands
 * the applier N application updates of distinct target items in pages of 1,000 (GetRecords' largest page), as the
 * target's stream would; each record costs the source read of the ownership checks and a source write. With
 * `--latency-ms`, every request passes a proxy that holds it that long, as a network to DynamoDB would.
 *
 *   node --import tsx bench/reverse-rate.ts [--records 1000] [--rounds 2] [--latency-ms 0,5] [--concurrency 1,16]
 */
import { parseArgs } from 'node:util';
import { BatchWriteItemCommand, CreateTableCommand, waitUntilTableExists } from '@aws-sdk/client-dynamodb';
import type { ChangeRecord } from '../src/core/change.js';
import type { AttributeMap, KeySchema } from '../src/core/item.js';
import { startFaultProxy } from '../test/support/fault-proxy.js';
import { groupedReverse, sourceItemOf, SOURCE_KEY, TARGET_KEY } from '../test/support/reverse-fixture.js';
import { benchClient, freshLocal } from './lib/local.js';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '2' },
    'latency-ms': { type: 'string', default: '0,5' },
    concurrency: { type: 'string', default: '1,16' },
  },
});
const N = Number(values.records);
const ROUNDS = Number(values.rounds);
const list = (s: string) => s.split(',').map(Number);

const s = (v: string) => ({ S: v });
const targetItem = (n: number, v: number): AttributeMap => ({
  gk: s(`g${n % 50}`),
  id: s(`item-${n}`),
  grp: s(`g${n % 50}`),
  v: { N: String(v) },
  pad: s('x'.repeat(200)),
});

const local = await freshLocal();
try {
  for (const latency of list(values['latency-ms'])) {
    const proxy = latency
      ? await startFaultProxy({ upstream: local.endpoint, rng: Math.random, rate: 1, faults: ['latency'], latencyMs: [latency, latency] })
      : undefined;
    const endpoint = proxy?.endpoint ?? local.endpoint;
    const client = benchClient(endpoint);
    for (const [nth, concurrency] of list(values.concurrency).entries()) {
      const tag = `l${latency}c${concurrency}n${nth}`;
      await table(`src_${tag}`, SOURCE_KEY);
      await table(`dst_${tag}`, TARGET_KEY);
      const items = Array.from({ length: N }, (_, n) => targetItem(n, 1));
      await fill(`dst_${tag}`, items);
      await fill(`src_${tag}`, items.map(sourceItemOf));
      const { apply, close } = groupedReverse({ client, endpoint, source: `src_${tag}`, target: `dst_${tag}`, concurrency });
      let seq = 1;
      for (let round = 0; round < ROUNDS; round++) {
        const records: ChangeRecord[] = items.map((_, n) => ({
          sequenceNumber: String(seq++),
          eventName: 'MODIFY',
          keys: { gk: s(`g${n % 50}`), id: s(`item-${n}`) },
          oldImage: targetItem(n, round + 1),
          newImage: targetItem(n, round + 2),
        }));
        const t0 = performance.now();
        for (let i = 0; i < records.length; i += 1000) await apply({ source: 'target', shardId: 'shardId-1', records: records.slice(i, i + 1000) });
        const ms = performance.now() - t0;
        console.log(
          `latency ${latency} ms, ${concurrency} chain(s) at once, round ${round + 1}: ${N} records in ${ms.toFixed(0)} ms, ${((N / ms) * 1000).toFixed(0)} records/s`,
        );
      }
      await close();
    }
    client.destroy();
    await proxy?.close();
  }
} finally {
  await local.stop();
}

async function table(name: string, key: KeySchema): Promise<void> {
  const pk = key.partitionKey.name;
  const sk = key.sortKey?.name;
  await local.client.send(
    new CreateTableCommand({
      TableName: name,
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: pk, KeyType: 'HASH' }, ...(sk ? [{ AttributeName: sk, KeyType: 'RANGE' as const }] : [])],
      AttributeDefinitions: [{ AttributeName: pk, AttributeType: 'S' }, ...(sk ? [{ AttributeName: sk, AttributeType: 'S' as const }] : [])],
    }),
  );
  await waitUntilTableExists({ client: local.client, maxWaitTime: 30 }, { TableName: name });
}

async function fill(name: string, items: AttributeMap[]): Promise<void> {
  for (let i = 0; i < items.length; i += 25)
    await local.client.send(
      new BatchWriteItemCommand({ RequestItems: { [name]: items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })) } }),
    );
}
