import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { AttributeMap } from '../../core/item.js';

/**
 * An item as canonical DynamoDB JSON text, written straight from the wire shape: attribute names sorted at every
 * level, set members sorted (sets are unordered), binary as base64. It is what verify spills for each side, and what
 * lets the comparison settle the common case, an identical item, by comparing two strings: equal canonical texts are
 * equal items. Unequal texts can still be equal items (1.50 and 1.5), so those are compared by value.
 *
 * Written directly rather than toDdbJson + JSON.stringify: that built a second copy of every item and was a tenth of
 * verify's CPU (BENCHMARKS.md).
 */
export function itemText(item: AttributeMap): string {
  const names = Object.keys(item).sort();
  let out = '{';
  for (let i = 0; i < names.length; i++) {
    if (i > 0) out += ',';
    out += JSON.stringify(names[i]) + ':' + valueText(item[names[i]!]!);
  }
  return out + '}';
}

function valueText(v: AttributeValue): string {
  if (v.S !== undefined) return `{"S":${JSON.stringify(v.S)}}`;
  if (v.N !== undefined) return `{"N":${JSON.stringify(v.N)}}`;
  if (v.M !== undefined) return `{"M":${itemText(v.M)}}`;
  if (v.L !== undefined) {
    let out = '{"L":[';
    for (let i = 0; i < v.L.length; i++) out += (i > 0 ? ',' : '') + valueText(v.L[i]!);
    return out + ']}';
  }
  if (v.BOOL !== undefined) return v.BOOL ? '{"BOOL":true}' : '{"BOOL":false}';
  if (v.NULL !== undefined) return '{"NULL":true}';
  if (v.B !== undefined) return `{"B":"${base64(v.B)}"}`;
  if (v.SS !== undefined) return `{"SS":${JSON.stringify([...v.SS].sort())}}`;
  if (v.NS !== undefined) return `{"NS":${JSON.stringify([...v.NS].sort())}}`;
  if (v.BS !== undefined) return `{"BS":${JSON.stringify(v.BS.map(base64).sort())}}`;
  throw new Error(`unsupported attribute value: ${Object.keys(v).join(', ') || 'empty'}`);
}

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}
