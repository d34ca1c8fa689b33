import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { AttributeMap } from '../../core/item.js';

/**
 * The lossless jsonb form of an item: DynamoDB JSON itself, the shape DynamoDB's own exports use.
 *
 *   { "id": {"S": "a"}, "price": {"N": "1.50"}, "raw": {"B": "AAE="}, "tags": {"SS": ["x"]},
 *     "m": {"M": {"deep": {"L": [{"NULL": true}, {"BOOL": false}, {"NS": ["1", "1E-130"]}]}}} }
 *
 * Why this shape and not "plain" JSON:
 * - Numbers stay the exact decimal strings DynamoDB sent. A jsonb number would survive inside PostgreSQL, but every
 *   JSON parser on the way back (node-postgres uses JSON.parse) turns it into a float: 38 digits would be lost.
 * - Sets, binary and NULL keep their type. Plain JSON can't tell a string set from a list, or bytes from a string.
 * - It is the form DynamoDB tooling already reads, and SQL can still reach values: `item->'price'->>'N'`.
 *
 * The one thing PostgreSQL can't store is U+0000 in text or jsonb: such items are rejected (see findUnstorable).
 */
export type DynamoJson = { [attribute: string]: TypedJson };
export type TypedJson =
  | { S: string }
  | { N: string }
  | { B: string }
  | { BOOL: boolean }
  | { NULL: true }
  | { SS: string[] }
  | { NS: string[] }
  | { BS: string[] }
  | { L: TypedJson[] }
  | { M: DynamoJson };

export function itemToJson(item: AttributeMap): DynamoJson {
  const out: DynamoJson = {};
  for (const [name, value] of Object.entries(item)) out[name] = valueToJson(value, name);
  return out;
}

export function valueToJson(v: AttributeValue, path = ''): TypedJson {
  if (v.S !== undefined) return { S: v.S };
  if (v.N !== undefined) return { N: v.N };
  if (v.B !== undefined) return { B: toBase64(v.B) };
  if (v.BOOL !== undefined) return { BOOL: v.BOOL };
  if (v.NULL !== undefined) return { NULL: true };
  if (v.SS !== undefined) return { SS: [...v.SS] };
  if (v.NS !== undefined) return { NS: [...v.NS] };
  if (v.BS !== undefined) return { BS: v.BS.map(toBase64) };
  if (v.L !== undefined) return { L: v.L.map((x, i) => valueToJson(x, `${path}[${i}]`)) };
  if (v.M !== undefined) {
    const m: DynamoJson = {};
    for (const [k, x] of Object.entries(v.M)) m[k] = valueToJson(x, `${path}.${k}`);
    return { M: m };
  }
  throw new Error(`attribute ${path || '(root)'} has no DynamoDB type: ${JSON.stringify(v)}`);
}

/** The inverse of itemToJson. Strict: anything that is not DynamoDB JSON is an error, never guessed at. */
export function jsonToItem(json: unknown): AttributeMap {
  if (!isObject(json)) throw new Error(`item jsonb is not an object: ${preview(json)}`);
  const out: AttributeMap = {};
  for (const [name, value] of Object.entries(json)) out[name] = jsonToValue(value, name);
  return out;
}

export function jsonToValue(json: unknown, path = ''): AttributeValue {
  if (!isObject(json)) throw bad(path, json);
  const entries = Object.entries(json);
  if (entries.length !== 1) throw bad(path, json);
  const [type, x] = entries[0]!;
  switch (type) {
    case 'S':
      if (typeof x === 'string') return { S: x };
      break;
    case 'N':
      if (typeof x === 'string') return { N: x };
      break;
    case 'B':
      if (typeof x === 'string') return { B: fromBase64(x, path) };
      break;
    case 'BOOL':
      if (typeof x === 'boolean') return { BOOL: x };
      break;
    case 'NULL':
      if (x === true) return { NULL: true };
      break;
    case 'SS':
      if (isStringArray(x)) return { SS: [...x] };
      break;
    case 'NS':
      if (isStringArray(x)) return { NS: [...x] };
      break;
    case 'BS':
      if (isStringArray(x)) return { BS: x.map((b) => fromBase64(b, path)) };
      break;
    case 'L':
      if (Array.isArray(x)) return { L: x.map((e, i) => jsonToValue(e, `${path}[${i}]`)) };
      break;
    case 'M':
      if (isObject(x)) {
        const m: AttributeMap = {};
        for (const [k, e] of Object.entries(x)) m[k] = jsonToValue(e, `${path}.${k}`);
        return { M: m };
      }
      break;
  }
  throw bad(path, json);
}

/**
 * PostgreSQL text and jsonb can't hold U+0000 (DynamoDB strings can). Returns where the first one is, so the item is
 * rejected with a precise message before a round trip — it is dead-lettered, never silently altered.
 */
export function findUnstorable(item: AttributeMap): string | undefined {
  for (const [name, value] of Object.entries(item)) {
    if (name.includes('\u0000')) return `attribute name ${JSON.stringify(name)}`;
    const at = unstorableIn(value, name);
    if (at) return at;
  }
  return undefined;
}

function unstorableIn(v: AttributeValue, path: string): string | undefined {
  if (v.S !== undefined) return v.S.includes('\u0000') ? path : undefined;
  if (v.SS !== undefined) return v.SS.some((s) => s.includes('\u0000')) ? path : undefined;
  if (v.L !== undefined) {
    for (const [i, x] of v.L.entries()) {
      const at = unstorableIn(x, `${path}[${i}]`);
      if (at) return at;
    }
  }
  if (v.M !== undefined) {
    for (const [k, x] of Object.entries(v.M)) {
      if (k.includes('\u0000')) return `${path} (map key ${JSON.stringify(k)})`;
      const at = unstorableIn(x, `${path}.${k}`);
      if (at) return at;
    }
  }
  return undefined;
}

export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Returns a plain Uint8Array (what the AWS SDK returns), not a Buffer, so items compare alike across sinks. */
export function fromBase64(text: string, path = ''): Uint8Array {
  if (text.length % 4 !== 0 || !BASE64.test(text)) throw new Error(`attribute ${path || '(root)'}: binary is not base64: ${preview(text)}`);
  return new Uint8Array(Buffer.from(text, 'base64'));
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function isStringArray(x: unknown): x is string[] {
  return Array.isArray(x) && x.every((e) => typeof e === 'string');
}

function bad(path: string, json: unknown): Error {
  return new Error(`item jsonb at ${path || '(root)'} is not DynamoDB JSON ({"S": …}, {"N": "…"}, …): ${preview(json)}`);
}

function preview(x: unknown): string {
  const text = JSON.stringify(x) ?? String(x);
  return text.length > 120 ? `${text.slice(0, 120)}…` : text;
}
