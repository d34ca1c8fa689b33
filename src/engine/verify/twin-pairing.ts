import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { itemSize, type AttributeMap } from '../../core/item.js';
import type { BucketFiles } from './bucket-files.js';
import { bucketOf } from './spill-line.js';

/** Bytes of items (by DynamoDB's size rules) held in memory while they wait for their twins. */
export const DEFAULT_PAIRING_BUDGET_BYTES = 16 * 1024 * 1024;

interface Waiting {
  side: 'expected' | 'actual';
  item: AttributeMap;
  size: number;
  /** The item's spill line, built only if it is spilled. */
  line: () => string;
}

/**
 * Settles identical pairs before they reach the disk. Both sides are scanned at once, by the same segments in the same
 * order (DynamoDB, and DynamoDB Local, return a segment's items in key-hash order, whatever order they were written
 * in), so when the target's keys are the source's (no transform, one source, one target) an item and its twin arrive
 * close together. Each item waits here under its header; when its twin from the other side arrives and the two are
 * the same item, written the same way (what equal canonical texts would say, checked on the items themselves, without
 * building the text), both are dropped: a match, as the bucket comparison would have settled it. Anything else goes to
 * the bucket files as before: a pair that is not written the same way (compared by value there, 1.50 = 1.5), a header
 * seen twice on one side, and whatever still waits when the budget is full (oldest first) or when the scans end. So the
 * comparison's outcome is the same; only identical pairs skip the text, the disk and the second pass.
 */
export class TwinPairing {
  private readonly waiting = new Map<string, Waiting>();
  private bytes = 0;
  /** Pairs settled in memory. */
  matched = 0;

  constructor(
    private readonly files: { expected: BucketFiles; actual: BucketFiles },
    private readonly budgetBytes = DEFAULT_PAIRING_BUDGET_BYTES,
  ) {}

  async offer(side: Waiting['side'], header: string, item: AttributeMap, line: () => string): Promise<void> {
    const twin = this.waiting.get(header);
    if (twin) {
      this.waiting.delete(header);
      this.bytes -= twin.size;
      if (twin.side !== side && sameItem(twin.item, item)) {
        this.matched++;
        return;
      }
      await this.spill(header, twin);
      await this.spill(header, { side, item, size: 0, line });
      return;
    }
    const size = itemSize(item);
    this.waiting.set(header, { side, item, size, line });
    this.bytes += size;
    while (this.bytes > this.budgetBytes) {
      const [oldest, entry] = this.waiting.entries().next().value as [string, Waiting];
      this.waiting.delete(oldest);
      this.bytes -= entry.size;
      await this.spill(oldest, entry);
    }
  }

  /** Spills everything still waiting; call once both scans are done. */
  async drain(): Promise<void> {
    for (const [header, entry] of this.waiting) await this.spill(header, entry);
    this.waiting.clear();
    this.bytes = 0;
  }

  private async spill(header: string, w: Waiting): Promise<void> {
    const files = this.files[w.side];
    await files.append(bucketOf(header, files.count), w.line());
  }
}

/**
 * Whether two items have equal canonical texts (item-text.ts): the same attribute names, and per attribute the same
 * type with the same text (numbers as written), bytes, or set members in any order. False for anything it does not
 * know, which only sends the pair to the bucket comparison.
 */
export function sameItem(a: AttributeMap, b: AttributeMap): boolean {
  let n = 0;
  for (const name in a) {
    const y = b[name];
    if (y === undefined || !sameValue(a[name]!, y)) return false;
    n++;
  }
  return n === Object.keys(b).length;
}

function sameValue(x: AttributeValue, y: AttributeValue): boolean {
  if (x.S !== undefined) return x.S === y.S;
  if (x.N !== undefined) return x.N === y.N;
  if (x.M !== undefined) return y.M !== undefined && sameItem(x.M, y.M);
  if (x.L !== undefined) {
    if (y.L === undefined || x.L.length !== y.L.length) return false;
    for (let i = 0; i < x.L.length; i++) if (!sameValue(x.L[i]!, y.L[i]!)) return false;
    return true;
  }
  if (x.BOOL !== undefined) return x.BOOL === y.BOOL;
  if (x.NULL !== undefined) return y.NULL !== undefined;
  if (x.B !== undefined) return y.B !== undefined && sameBytes(x.B, y.B);
  if (x.SS !== undefined) return y.SS !== undefined && sameMembers(x.SS, y.SS);
  if (x.NS !== undefined) return y.NS !== undefined && sameMembers(x.NS, y.NS);
  if (x.BS !== undefined) {
    if (y.BS === undefined) return false;
    return sameMembers(x.BS.map(base64), y.BS.map(base64));
  }
  return false;
}

function sameMembers(x: string[], y: string[]): boolean {
  if (x.length !== y.length) return false;
  const ys = new Set(y);
  return ys.size === y.length && new Set(x).size === x.length && x.every((m) => ys.has(m));
}

function sameBytes(x: Uint8Array, y: Uint8Array): boolean {
  return x.length === y.length && Buffer.compare(x, y) === 0;
}

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}
