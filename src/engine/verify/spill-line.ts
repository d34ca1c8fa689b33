import type { DdbJsonMap } from '../../core/ddb-json.js';

/**
 * One spilled item is one line: `HEADER \t ITEM` or `HEADER \t ITEM \t META`. HEADER is
 * `JSON.stringify([target, keyId])` — it identifies the target item, picks the bucket, and serves as the comparison's
 * map key without parsing the payload. ITEM is the item's canonical DynamoDB JSON (itemText), so identical items
 * compare as equal strings without being parsed. META (expected side only) is `{"n":…,"s":…}`. JSON text never holds
 * a raw tab, so tabs separate the parts.
 */
export interface ExpectedPayload {
  /** Source name and the source item's key, to re-read it during re-checks and repair. */
  n: string;
  s: DdbJsonMap;
  /** The item transform(source) produces, in DynamoDB JSON. */
  i: DdbJsonMap;
}

export interface ActualPayload {
  i: DdbJsonMap;
}

export function lineHeader(target: string, keyId: string): string {
  return JSON.stringify([target, keyId]);
}

/** A spill line; `itemJson` is the item's canonical text (itemText), `meta` the expected side's source and key. */
export function formatLine(header: string, itemJson: string, meta?: Omit<ExpectedPayload, 'i'>): string {
  return meta ? `${header}\t${itemJson}\t${JSON.stringify(meta)}` : `${header}\t${itemJson}`;
}

/** A line's payload (what follows the header) as its item text and, on the expected side, its meta. */
export function splitPayload(payload: string): { item: string; meta?: string } {
  const tab = payload.indexOf('\t');
  return tab < 0 ? { item: payload } : { item: payload.slice(0, tab), meta: payload.slice(tab + 1) };
}

export function parseExpected(payload: string): ExpectedPayload {
  const { item, meta } = splitPayload(payload);
  if (meta === undefined) throw new Error(`corrupt spill line (no source): ${payload.slice(0, 120)}`);
  const m = JSON.parse(meta) as Omit<ExpectedPayload, 'i'>;
  return { n: m.n, s: m.s, i: JSON.parse(item) as DdbJsonMap };
}

export function parseActual(payload: string): ActualPayload {
  return { i: JSON.parse(splitPayload(payload).item) as DdbJsonMap };
}

export function splitLine(line: string): { header: string; payload: string } {
  const tab = line.indexOf('\t');
  if (tab < 0) throw new Error(`corrupt spill line: ${line.slice(0, 120)}`);
  return { header: line.slice(0, tab), payload: line.slice(tab + 1) };
}

export function parseHeader(header: string): { target: string; keyId: string } {
  const [target, keyId] = JSON.parse(header) as [string, string];
  return { target, keyId };
}

/** FNV-1a (32 bit) of the header; `salt` gives an independent hash for splitting an oversized bucket again. */
export function bucketOf(header: string, buckets: number, salt = 0): number {
  let h = (0x811c9dc5 ^ Math.imul(salt, 0x9e3779b1)) >>> 0;
  for (let i = 0; i < header.length; i++) {
    h ^= header.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // Final avalanche so that the low bits (taken by %) depend on every character.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return (h >>> 0) % buckets;
}
