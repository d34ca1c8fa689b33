/**
 * ScanSource's page sizes come from the Scan's consumed capacity rather than from walking every item: check against
 * DynamoDB Local that they track the items' real size, for strongly and eventually consistent scans.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { systemClock } from '../../src/core/clock.js';
import { itemSize } from '../../src/core/item.js';
import { RateLimiter, RateMeter } from '../../src/core/rate-limiter.js';
import { ScanSource } from '../../src/sources/scan/scan-source.js';
import { createTable, withDynamoDbLocal } from '../support/dynamodb-local.js';
import { mulberry32, seedItems } from '../support/workload.js';

const local = withDynamoDbLocal();

for (const consistentRead of [true, false]) {
  test(`scan page bytes follow the items' size (${consistentRead ? 'strongly' : 'eventually'} consistent)`, async () => {
    const table = `scan-bytes-${consistentRead ? 'sc' : 'ec'}`;
    await createTable(local.client, { name: table, partitionKey: { name: 'id', type: 'S' } });
    await seedItems(local.client, table, 600, mulberry32(11));
    const source = new ScanSource({
      name: 'source',
      client: local.client,
      table,
      totalSegments: 2,
      pageSize: 100,
      consistentRead,
      limiter: new RateLimiter(Infinity, systemClock),
      meter: new RateMeter(systemClock),
    });
    let pages = 0;
    let reported = 0;
    let actual = 0;
    for (const p of await source.partitions()) {
      for await (const page of source.read(p, undefined)) {
        pages++;
        reported += page.bytes ?? 0;
        actual += page.items.reduce((n, item) => n + itemSize(item), 0);
      }
    }
    assert.ok(actual > 0);
    // Capacity rounds each page up to whole 4 KB units (2 units' worth when eventually consistent): never below the
    // items' size, and above it by less than that rounding (plus DynamoDB's per-item overhead, ~100 bytes an item).
    const slack = pages * (consistentRead ? 4096 : 8192) + 600 * 100;
    assert.ok(reported >= actual * 0.95, `reported ${reported} bytes for ${actual}`);
    assert.ok(reported <= actual + slack, `reported ${reported} bytes for ${actual} (slack ${slack})`);
  });
}
