import type { DdbJsonMap } from '../../core/ddb-json.js';

/**
 * One spilled item is one line: `HEADER \t PAYLOAD`. HEADER is `JSON.stringify([target, keyId])` — it identifies the
 * target item, picks the bucket, and serves as the comparison's map key without parsing the payload. JSON text never
 * holds a raw tab, so the first tab ends the header.
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

export function formatLine(header: string, payload: ExpectedPayload | ActualPayload): string {
  return `${header}\t${JSON.stringify(payload)}`;
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
