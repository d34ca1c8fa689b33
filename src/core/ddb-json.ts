import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { AttributeMap } from './item.js';

/**
 * DynamoDB JSON as exports and the CLI write it: the wire shape (`{"S":"x"}`, `{"N":"1.50"}`), JSON-safe, with binary
 * as base64 strings. Lossless both ways: numbers stay strings (38 digits survive), sets stay lists in their order.
 * Used for verify's spill files and reports.
 */
export type DdbJsonValue =
  | { S: string }
  | { N: string }
  | { B: string }
  | { BOOL: boolean }
  | { NULL: true }
  | { SS: string[] }
  | { NS: string[] }
  | { BS: string[] }
  | { L: DdbJsonValue[] }
  | { M: DdbJsonMap };

export type DdbJsonMap = { [name: string]: DdbJsonValue };

export function toDdbJson(item: AttributeMap): DdbJsonMap {
  const out: DdbJsonMap = {};
  for (const [name, value] of Object.entries(item)) out[name] = toDdbJsonValue(value);
  return out;
}

export function toDdbJsonValue(v: AttributeValue): DdbJsonValue {
  if (v.S !== undefined) return { S: v.S };
  if (v.N !== undefined) return { N: v.N };
  if (v.B !== undefined) return { B: base64(v.B) };
  if (v.BOOL !== undefined) return { BOOL: v.BOOL };
  if (v.NULL !== undefined) return { NULL: true };
  if (v.SS !== undefined) return { SS: [...v.SS] };
  if (v.NS !== undefined) return { NS: [...v.NS] };
  if (v.BS !== undefined) return { BS: v.BS.map(base64) };
  if (v.L !== undefined) return { L: v.L.map(toDdbJsonValue) };
  if (v.M !== undefined) return { M: toDdbJson(v.M) };
  throw new Error(`unsupported attribute value: ${Object.keys(v).join(', ') || 'empty'}`);
}

export function fromDdbJson(json: DdbJsonMap): AttributeMap {
  const out: AttributeMap = {};
  for (const [name, value] of Object.entries(json)) out[name] = fromDdbJsonValue(value);
  return out;
}

export function fromDdbJsonValue(v: DdbJsonValue): AttributeValue {
  const o = v as Record<string, unknown>;
  if (typeof o['S'] === 'string') return { S: o['S'] };
  if (typeof o['N'] === 'string') return { N: o['N'] };
  if (typeof o['B'] === 'string') return { B: fromBase64(o['B']) };
  if (typeof o['BOOL'] === 'boolean') return { BOOL: o['BOOL'] };
  if (o['NULL'] !== undefined) return { NULL: true };
  if (Array.isArray(o['SS'])) return { SS: [...(o['SS'] as string[])] };
  if (Array.isArray(o['NS'])) return { NS: [...(o['NS'] as string[])] };
  if (Array.isArray(o['BS'])) return { BS: (o['BS'] as string[]).map(fromBase64) };
  if (Array.isArray(o['L'])) return { L: (o['L'] as DdbJsonValue[]).map(fromDdbJsonValue) };
  if (o['M'] !== null && typeof o['M'] === 'object') return { M: fromDdbJson(o['M'] as DdbJsonMap) };
  throw new Error(`not a DynamoDB JSON value: ${JSON.stringify(v).slice(0, 200)}`);
}

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

function fromBase64(text: string): Uint8Array {
  // A copy, not a view: small Buffers share one pooled ArrayBuffer.
  return new Uint8Array(Buffer.from(text, 'base64'));
}
