import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { AttributeMap } from '../../core/item.js';
import { LineDecodeError } from './export-errors.js';
import type { DecodeMode, ExportRecord } from './export-record.js';

/**
 * Decodes one DYNAMODB_JSON export line (`{"Item":{"Id":{"N":"103"},…}}`, or `{"Metadata":…,"Keys":…,"NewImage":…}`
 * for incremental exports) into the wire shape, strictly: every value must have exactly one known type tag with a
 * value of the right kind, numbers must be decimal strings (kept as written: 38 digits survive), binary must be
 * valid base64. Anything else is an error, never a silently different item.
 *
 * This is the hot path of an export backfill, so the parsed JSON is converted in place: only binary values are
 * replaced (base64 text → bytes); strings, numbers and containers are reused as JSON.parse built them.
 */
export function decodeDdbJsonLine(line: string, mode: DecodeMode): ExportRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch (err) {
    throw new LineDecodeError(`not valid JSON (${(err as Error).message})`);
  }
  if (!isObject(parsed)) throw new LineDecodeError('a line must be a JSON object');
  const record: ExportRecord = {};
  for (const [field, value] of Object.entries(parsed)) {
    switch (field) {
      case 'Item':
      case 'Keys':
      case 'NewImage':
      case 'OldImage':
        record[field] = convertMap(value, field);
        break;
      case 'Metadata': {
        const micros = isObject(value) ? (value['WriteTimestampMicros'] as { N?: unknown } | undefined)?.N : undefined;
        if (typeof micros === 'string' && DECIMAL.test(micros)) record.writeTimestampMicros = micros;
        break;
      }
      default:
        throw new LineDecodeError(`unexpected top-level field ${JSON.stringify(field)}`);
    }
  }
  return checkRecordShape(record, mode);
}

/**
 * Decodes a line the verify pass already accepted (`scanFile`: `isPlainItemLine` or `decodeDdbJsonLine`); `plain`
 * when every line of its file passed `isPlainItemLine` (ScanResult.plain). A full-export
 * line then needs only JSON.parse and base64 → bytes: checking every value again was a third of the decode's time.
 * Change lines (incremental exports) go through the strict decoder, which also reads their Metadata.
 */
export function decodeVerifiedLine(line: string, mode: DecodeMode, plain = false): ExportRecord {
  if (mode !== 'item') return decodeDdbJsonLine(line, mode);
  let parsed: { Item?: Record<string, unknown> };
  try {
    parsed = JSON.parse(line) as { Item?: Record<string, unknown> };
  } catch (err) {
    throw new LineDecodeError(`not valid JSON (${(err as Error).message})`);
  }
  const item = parsed.Item;
  // Only a file that changed since it was verified can fail these: the strict decoder says how.
  if (!isObject(item) || Object.keys(parsed).length !== 1) return decodeDdbJsonLine(line, mode);
  // In a plain line (see isPlainItemLine) every tag is written without escapes, so a line without the text "B" or
  // "BS" has no binary to convert. (The text can also be a name or a string: then the walk below finds nothing.)
  if (plain && !line.includes('"B"') && !line.includes('"BS"')) return { Item: item as AttributeMap };
  for (const name in item) item[name] = binaryToBytes(item[name] as Record<string, unknown>);
  return { Item: item as AttributeMap };
}

/** A verified attribute value with its base64 turned into bytes (in place, like convertValue); the rest as parsed. */
function binaryToBytes(value: Record<string, unknown>): AttributeValue {
  for (const tag in value) {
    const x = value[tag];
    switch (tag) {
      case 'B':
        return { B: bytesOf(x as string) };
      case 'BS':
        return { BS: (x as string[]).map(bytesOf) };
      case 'L': {
        const list = x as Record<string, unknown>[];
        for (let i = 0; i < list.length; i++) list[i] = binaryToBytes(list[i]!) as unknown as Record<string, unknown>;
        break;
      }
      case 'M': {
        const map = x as Record<string, unknown>;
        for (const name in map) map[name] = binaryToBytes(map[name] as Record<string, unknown>);
        break;
      }
    }
    break;
  }
  return value as unknown as AttributeValue;
}

/** Base64 → bytes with a buffer of their own (see fromBase64). */
function bytesOf(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'base64'));
}

/** The shape the mode requires: full exports carry Item; incremental exports carry Keys and no Item. */
export function checkRecordShape(record: ExportRecord, mode: DecodeMode): ExportRecord {
  if (mode === 'item' && !record.Item) {
    throw new LineDecodeError(
      record.Keys ? 'this line is an incremental-export change (Keys/NewImage), not a full-export Item' : 'the line has no Item',
    );
  }
  if (mode === 'change' && !record.Keys) {
    throw new LineDecodeError(record.Item ? 'this line is a full-export Item, not an incremental-export change' : 'the line has no Keys');
  }
  return record;
}

/** A DynamoDB number: decimal text, optional exponent. Exact value is kept as the string. */
export const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function convertMap(value: unknown, path: string): AttributeMap {
  if (!isObject(value)) throw new LineDecodeError(`${path} must be an object of attribute values`);
  for (const name of Object.keys(value)) value[name] = convertValue(value[name], `${path}.${name}`);
  return value as AttributeMap;
}

function convertValue(value: unknown, path: string): AttributeValue {
  if (!isObject(value)) throw new LineDecodeError(`${path}: expected an attribute value like {"S":"x"}`);
  let tag: string | undefined;
  for (const k in value) {
    if (tag !== undefined) throw new LineDecodeError(`${path}: an attribute value has exactly one type, got ${Object.keys(value).join(', ')}`);
    tag = k;
  }
  const x = value[tag ?? ''];
  switch (tag) {
    case 'S':
      if (typeof x === 'string') return value as unknown as AttributeValue;
      break;
    case 'N':
      if (typeof x === 'string' && DECIMAL.test(x)) return value as unknown as AttributeValue;
      break;
    case 'B':
      if (typeof x === 'string') return { B: fromBase64(x, path) };
      break;
    case 'BOOL':
      if (typeof x === 'boolean') return value as unknown as AttributeValue;
      break;
    case 'NULL':
      if (x === true) return value as unknown as AttributeValue;
      break;
    case 'SS':
      if (Array.isArray(x) && x.every((s) => typeof s === 'string')) return value as unknown as AttributeValue;
      break;
    case 'NS':
      if (Array.isArray(x) && x.every((s) => typeof s === 'string' && DECIMAL.test(s))) return value as unknown as AttributeValue;
      break;
    case 'BS':
      if (Array.isArray(x) && x.every((s) => typeof s === 'string')) return { BS: x.map((s: string, i) => fromBase64(s, `${path}[${i}]`)) };
      break;
    case 'L':
      if (Array.isArray(x)) {
        for (let i = 0; i < x.length; i++) x[i] = convertValue(x[i], `${path}[${i}]`);
        return value as unknown as AttributeValue;
      }
      break;
    case 'M':
      if (isObject(x)) {
        convertMap(x, path);
        return value as unknown as AttributeValue;
      }
      break;
    default:
      throw new LineDecodeError(`${path}: unknown attribute type ${JSON.stringify(tag ?? '(none)')}`);
  }
  throw new LineDecodeError(`${path}: invalid ${tag} value ${JSON.stringify(x)?.slice(0, 80)}`);
}

function fromBase64(text: string, path: string): Uint8Array {
  if (!BASE64.test(text)) throw new LineDecodeError(`${path}: binary value is not valid base64`);
  // A copy, not a view: small Buffers share one pooled 8 KB ArrayBuffer, which would travel whole between threads.
  return new Uint8Array(Buffer.from(text, 'base64'));
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
