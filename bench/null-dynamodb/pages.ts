/**
 * The null DynamoDB's source table: the benchmark dataset (lib/dataset.ts) serialized once to DynamoDB JSON, served as
 * pre-built Scan pages. Segment s of T holds the items whose index is s modulo T, in index order, so a segment's
 * LastEvaluatedKey (the last item's id) gives the next page's start without a search.
 */
import { toDdbJson } from '../../src/core/ddb-json.js';
import { itemId, makeItem } from '../lib/dataset.js';

const CAPACITY_UNIT_BYTES = 4096;

export class ScanPages {
  private readonly itemJson: string[] = [];
  private readonly itemBytes: number[] = [];
  private readonly cache = new Map<string, Buffer>();

  constructor(
    readonly items: number,
    seed: number,
  ) {
    for (let n = 0; n < items; n++) {
      const json = JSON.stringify(toDdbJson(makeItem(seed, n)));
      this.itemJson.push(json);
      this.itemBytes.push(Buffer.byteLength(json));
    }
  }

  /** The page of `limit` items of segment `segment` of `total` after the item with id `after` (undefined: the first). */
  page(total: number, segment: number, limit: number, after: string | undefined): Buffer {
    const start = after === undefined ? segment : indexOf(after) + total;
    const key = `${total}/${segment}/${limit}/${start}`;
    let page = this.cache.get(key);
    if (!page) {
      page = this.build(total, start, limit);
      this.cache.set(key, page);
    }
    return page;
  }

  /** Builds every page of one (TotalSegments, Limit) pair ahead of a run, so the server's CPU during it is serving only. */
  prebuild(total: number, limit: number): void {
    for (let s = 0; s < total; s++) {
      let after: string | undefined;
      for (;;) {
        const body = this.page(total, s, limit, after);
        const m = /"LastEvaluatedKey":\{"id":\{"S":"([^"]+)"\}\}/.exec(body.subarray(Math.max(0, body.length - 200)).toString());
        if (!m) break;
        after = m[1];
      }
    }
  }

  private build(total: number, start: number, limit: number): Buffer {
    const parts: string[] = [];
    let bytes = 0;
    let last = -1;
    for (let i = start; i < this.items && parts.length < limit; i += total) {
      parts.push(this.itemJson[i]!);
      bytes += this.itemBytes[i]!;
      last = i;
    }
    // Like DynamoDB, a full page carries a LastEvaluatedKey even when nothing follows it (the next page is empty).
    const more = parts.length === limit && last >= 0;
    const units = Math.max(1, Math.ceil(bytes / CAPACITY_UNIT_BYTES));
    return Buffer.from(
      `{"Items":[${parts.join(',')}],"Count":${parts.length},"ScannedCount":${parts.length},` +
        `"ConsumedCapacity":{"CapacityUnits":${units}}` +
        (more ? `,"LastEvaluatedKey":{"id":{"S":"${itemId(last)}"}}` : '') +
        '}',
    );
  }
}

function indexOf(id: string): number {
  const n = Number(id.replace(/^item-/, ''));
  if (!Number.isInteger(n)) throw new Error(`not a dataset id: ${id}`);
  return n;
}
