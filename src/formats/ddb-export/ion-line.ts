import { makeReader, IonTypes, type Reader } from 'ion-js';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { AttributeMap } from '../../core/item.js';
import { LineDecodeError } from './export-errors.js';
import { checkRecordShape } from './ddb-json-line.js';
import type { DecodeMode, ExportRecord } from './export-record.js';

/**
 * Decodes one ION export line: `$ion_1_0 {Item:{Authors:$dynamodb_SS::["A","B"],Id:103.,PageCount:6d2}}`.
 * Mapping (DynamoDB developer guide, Ion import/export): string → S, bool → BOOL, decimal → N, blob → B,
 * list annotated $dynamodb_SS / $dynamodb_NS / $dynamodb_BS → SS / NS / BS, other list → L, struct → M, null → NULL.
 *
 * Numbers are read as Ion decimals (coefficient × 10^exponent, a BigInt and an int) and written out as exact decimal
 * strings, so 38-digit values and 0.1000000000000000055511151231257827 survive. Ion ints (not written by AWS, but
 * valid Ion) are exact too. Ion floats, timestamps, clobs and s-expressions have no lossless DynamoDB equivalent and
 * are refused rather than approximated.
 */
export function decodeIonLine(line: string, mode: DecodeMode): ExportRecord {
  let reader: Reader;
  let type;
  try {
    reader = makeReader(line);
    type = reader.next();
  } catch (err) {
    throw new LineDecodeError(`not valid Ion (${(err as Error).message})`);
  }
  if (type !== IonTypes.STRUCT || reader.isNull()) throw new LineDecodeError('a line must hold one Ion struct');
  const record: ExportRecord = {};
  try {
    reader.stepIn();
    for (let t = reader.next(); t !== null; t = reader.next()) {
      const field = reader.fieldName() ?? '';
      switch (field) {
        case 'Item':
        case 'Keys':
        case 'NewImage':
        case 'OldImage':
          if (t !== IonTypes.STRUCT || reader.isNull()) throw new LineDecodeError(`${field} must be a struct`);
          record[field] = readStruct(reader, field);
          break;
        case 'Metadata':
          if (t === IonTypes.STRUCT && !reader.isNull()) {
            const micros = readStruct(reader, field)['WriteTimestampMicros']?.N;
            if (micros !== undefined) record.writeTimestampMicros = micros;
          }
          break;
        default:
          throw new LineDecodeError(`unexpected top-level field ${JSON.stringify(field)}`);
      }
    }
    reader.stepOut();
    if (reader.next() !== null) throw new LineDecodeError('more than one value on a line');
  } catch (err) {
    if (err instanceof LineDecodeError) throw err;
    throw new LineDecodeError(`not valid Ion (${(err as Error).message})`);
  }
  return checkRecordShape(record, mode);
}

function readStruct(reader: Reader, path: string): AttributeMap {
  const out: AttributeMap = {};
  reader.stepIn();
  for (let t = reader.next(); t !== null; t = reader.next()) {
    const name = reader.fieldName();
    if (name === null) throw new LineDecodeError(`${path}: a struct field has no name`);
    out[name] = readValue(reader, t, `${path}.${name}`);
  }
  reader.stepOut();
  return out;
}

function readValue(reader: Reader, type: NonNullable<ReturnType<Reader['next']>>, path: string): AttributeValue {
  const annotations = reader.annotations();
  if (reader.isNull()) return { NULL: true };
  switch (type) {
    case IonTypes.STRING:
    case IonTypes.SYMBOL:
      return { S: reader.stringValue() ?? '' };
    case IonTypes.BOOL:
      return { BOOL: reader.booleanValue() === true };
    case IonTypes.DECIMAL: {
      const d = reader.decimalValue()!;
      return { N: decimalText(d.getCoefficient(), d.getExponent()) };
    }
    case IonTypes.INT:
      return { N: reader.bigIntValue()!.toString() };
    case IonTypes.BLOB:
      return { B: new Uint8Array(reader.uInt8ArrayValue() ?? new Uint8Array()) };
    case IonTypes.STRUCT:
      return { M: readStruct(reader, path) };
    case IonTypes.LIST: {
      const set = annotations.find((a) => a.startsWith('$dynamodb_'));
      if (set !== undefined) return readSet(reader, set, path);
      const list: AttributeValue[] = [];
      reader.stepIn();
      for (let t = reader.next(), i = 0; t !== null; t = reader.next(), i++) list.push(readValue(reader, t, `${path}[${i}]`));
      reader.stepOut();
      return { L: list };
    }
    default:
      throw new LineDecodeError(`${path}: Ion ${type.name} has no exact DynamoDB type (exports use decimal, string, bool, blob, list, struct, null)`);
  }
}

function readSet(reader: Reader, annotation: string, path: string): AttributeValue {
  const members: AttributeValue[] = [];
  reader.stepIn();
  for (let t = reader.next(), i = 0; t !== null; t = reader.next(), i++) members.push(readValue(reader, t, `${path}[${i}]`));
  reader.stepOut();
  const all = (tag: 'S' | 'N' | 'B'): boolean => members.every((m) => (m as unknown as Record<string, unknown>)[tag] !== undefined);
  switch (annotation) {
    case '$dynamodb_SS':
      if (all('S')) return { SS: members.map((m) => m.S!) };
      break;
    case '$dynamodb_NS':
      if (all('N')) return { NS: members.map((m) => m.N!) };
      break;
    case '$dynamodb_BS':
      if (all('B')) return { BS: members.map((m) => m.B!) };
      break;
    default:
      throw new LineDecodeError(`${path}: unknown set annotation ${annotation}`);
  }
  throw new LineDecodeError(`${path}: ${annotation} holds a member of another type`);
}

/**
 * An Ion decimal (signed coefficient × 10^exponent) as exact DynamoDB number text: `103.` → "103", `6d2` → "600",
 * `1.50` → "1.50" (the spelling is kept), far exponents in E notation.
 */
export function decimalText(coefficient: bigint, exponent: number): string {
  if (coefficient === 0n) return '0';
  const negative = coefficient < 0n;
  const digits = (negative ? -coefficient : coefficient).toString();
  const sign = negative ? '-' : '';
  if (exponent >= 0 && exponent <= 40) return `${sign}${digits}${'0'.repeat(exponent)}`;
  const point = digits.length + exponent;
  if (exponent < 0 && point > 0) return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
  if (exponent < 0 && point > -40) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  // Far from 1: scientific notation with one leading digit, e.g. 1.5E-130.
  return `${sign}${digits[0]}${digits.length > 1 ? `.${digits.slice(1)}` : ''}E${point - 1}`;
}
