/**
 * The correctness tests' referee: reads and compares tables with code that shares nothing with the engine (only types
 * come from src/), so an engine bug in number handling or key identity can't make its own output look right.
 */
import { ScanCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { AttributeMap } from '../../src/core/item.js';

export async function scanAll(client: DynamoDBClient, table: string): Promise<Record<string, AttributeValue>[]> {
  const items: Record<string, AttributeValue>[] = [];
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    // Limit 1000: DynamoDB Local's unlimited 1 MB pages get slower as the table grows (semantics doc §8).
    const page = await client.send(new ScanCommand({ TableName: table, ConsistentRead: true, Limit: 1000, ExclusiveStartKey: startKey }));
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return items;
}

export interface Diff {
  /** Keys present in `expected` only. */
  missing: string[];
  /** Keys present in `actual` only. */
  extra: string[];
  /** Same key, different content; `paths` names where they differ (`nested.list[2]`). */
  differing: { key: string; expected: unknown; actual: unknown; paths: string[] }[];
}

export function isEmptyDiff(diff: Diff): boolean {
  return diff.missing.length === 0 && diff.extra.length === 0 && diff.differing.length === 0;
}

/** Matches items by primary key (numbers by value) and compares every attribute by DynamoDB's own equality. */
export function compareTables(expected: AttributeMap[], actual: AttributeMap[], keyNames: string[]): Diff {
  const wanted = indexByKey(expected, keyNames, 'expected');
  const got = indexByKey(actual, keyNames, 'actual');
  const diff: Diff = { missing: [], extra: [], differing: [] };
  for (const [key, item] of wanted) {
    const other = got.get(key);
    if (!other) {
      diff.missing.push(key);
      continue;
    }
    const paths: string[] = [];
    diffMaps('', item, other, paths);
    if (paths.length > 0) diff.differing.push({ key, expected: item, actual: other, paths });
  }
  for (const key of got.keys()) if (!wanted.has(key)) diff.extra.push(key);
  diff.missing.sort();
  diff.extra.sort();
  diff.differing.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return diff;
}

export function formatDiff(diff: Diff, max = 10): string {
  if (isEmptyDiff(diff)) return 'tables are identical';
  const lines = [`${diff.missing.length} missing, ${diff.extra.length} extra, ${diff.differing.length} differing`];
  const list = (label: string, keys: string[]): void => {
    if (keys.length === 0) return;
    lines.push(`${label}: ${keys.slice(0, max).join(' | ')}${keys.length > max ? ` … (+${keys.length - max})` : ''}`);
  };
  list('missing', diff.missing);
  list('extra', diff.extra);
  for (const d of diff.differing.slice(0, max)) {
    lines.push(`differing ${d.key} at ${d.paths.join(', ')}`);
    lines.push(`  expected: ${preview(d.expected)}`);
    lines.push(`  actual:   ${preview(d.actual)}`);
  }
  if (diff.differing.length > max) lines.push(`… (+${diff.differing.length - max} differing)`);
  return lines.join('\n');
}

function preview(value: unknown): string {
  const text = JSON.stringify(value, (_k, v: unknown) => (v instanceof Uint8Array ? `<bytes ${Buffer.from(v).toString('base64')}>` : v));
  return text.length > 400 ? `${text.slice(0, 400)}…` : text;
}

function indexByKey(items: AttributeMap[], keyNames: string[], side: string): Map<string, AttributeMap> {
  const byKey = new Map<string, AttributeMap>();
  for (const item of items) {
    const key = keyString(item, keyNames);
    // A scan never returns a key twice; if it happens the caller passed the wrong key names.
    if (byKey.has(key)) throw new Error(`${side} contains key ${key} twice; are the key names ${keyNames.join(', ')} right?`);
    byKey.set(key, item);
  }
  return byKey;
}

/** A readable identity such as `id=S:"item-000001"` or `pk=N:15E-1, sk=B:AAE=`. */
export function keyString(item: AttributeMap, keyNames: string[]): string {
  return keyNames
    .map((name) => {
      const v = item[name];
      if (v?.S !== undefined) return `${name}=S:${JSON.stringify(v.S)}`;
      if (v?.N !== undefined) return `${name}=N:${canonicalDecimal(v.N)}`;
      if (v?.B !== undefined) return `${name}=B:${Buffer.from(v.B).toString('base64')}`;
      throw new Error(`item lacks an S/N/B key attribute ${name}: ${preview(item)}`);
    })
    .join(', ');
}

function diffMaps(prefix: string, a: AttributeMap, b: AttributeMap, out: string[]): void {
  const names = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const name of [...names].sort()) {
    const path = prefix === '' ? name : `${prefix}.${name}`;
    const x = a[name];
    const y = b[name];
    if (x === undefined || y === undefined) out.push(path);
    else diffValues(path, x, y, out);
  }
}

function diffValues(path: string, a: AttributeValue, b: AttributeValue, out: string[]): void {
  const type = typeOf(a);
  if (type !== typeOf(b)) {
    out.push(path);
    return;
  }
  let same: boolean;
  switch (type) {
    case 'S':
      same = a.S === b.S;
      break;
    case 'N':
      same = canonicalDecimal(a.N!) === canonicalDecimal(b.N!);
      break;
    case 'B':
      same = Buffer.from(a.B!).equals(Buffer.from(b.B!));
      break;
    case 'BOOL':
      same = a.BOOL === b.BOOL;
      break;
    case 'NULL':
      same = a.NULL === b.NULL;
      break;
    case 'SS':
      same = sameSet(a.SS!, b.SS!);
      break;
    case 'NS':
      same = sameSet(a.NS!.map(canonicalDecimal), b.NS!.map(canonicalDecimal));
      break;
    case 'BS':
      same = sameSet(
        a.BS!.map((x) => Buffer.from(x).toString('base64')),
        b.BS!.map((x) => Buffer.from(x).toString('base64')),
      );
      break;
    case 'L': {
      const [la, lb] = [a.L!, b.L!];
      if (la.length !== lb.length) {
        out.push(path);
        return;
      }
      la.forEach((x, i) => diffValues(`${path}[${i}]`, x, lb[i]!, out));
      return;
    }
    case 'M':
      diffMaps(path, a.M!, b.M!, out);
      return;
    default:
      throw new Error(`unsupported attribute value at ${path}: ${preview(a)}`);
  }
  if (!same) out.push(path);
}

/** The one type tag set on a value; the SDK leaves the others undefined. */
function typeOf(v: AttributeValue): string {
  const present = Object.entries(v).filter(([k, x]) => x !== undefined && k !== '$unknown');
  if (present.length !== 1) throw new Error(`attribute value must have exactly one type: ${preview(v)}`);
  return present[0]![0];
}

function sameSet(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  const sa = [...a].sort();
  const sb = [...b].sort();
  return sa.every((x, i) => x === sb[i]);
}

const DECIMAL_SYNTAX = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

/**
 * One spelling per decimal value, `[-]DIGITSe<exp>` with no leading or trailing zeros in DIGITS (zero is `0`).
 * Written independently of src/core/numbers.ts on purpose, and string-only: a JS float can't hold 38 digits.
 */
export function canonicalDecimal(text: string): string {
  const m = DECIMAL_SYNTAX.exec(text.trim());
  const whole = m?.[2] ?? '';
  const fraction = m?.[3] ?? '';
  if (!m || whole + fraction === '') throw new Error(`not a DynamoDB number: ${JSON.stringify(text)}`);
  let digits = (whole + fraction).replace(/^0+/, '');
  if (digits === '') return '0';
  // Number() of an integer string is exact while it is a safe integer; DynamoDB exponents are within ±130.
  let exponent = Number(m[4] ?? '0');
  if (!Number.isSafeInteger(exponent)) throw new Error(`exponent out of range: ${JSON.stringify(text)}`);
  exponent -= fraction.length;
  const significant = digits.replace(/0+$/, '');
  exponent += digits.length - significant.length;
  digits = significant;
  return `${m[1] === '-' ? '-' : ''}${digits}e${exponent}`;
}
