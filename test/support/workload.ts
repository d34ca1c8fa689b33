/**
 * A seeded, randomized live workload for the correctness tests. Items deliberately carry the values a migrator gets
 * wrong: 38-digit and long-decimal numbers, binary, sets, empty strings, nesting, NULL, absent attributes. Writes use
 * the raw AttributeValue client so numbers never pass through a JS float.
 *
 * Determinism: operations are planned synchronously from the seeded generator, one at a time, as workers pick them
 * up, so the same seed always yields the same sequence of operations; only their timing and overlap vary. Retry
 * jitter uses Math.random on purpose so it doesn't consume the seeded sequence.
 */
import {
  BatchWriteItemCommand,
  DeleteItemCommand,
  PutItemCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
  type TransactWriteItem,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import type { AttributeMap } from '../../src/core/item.js';

export { mulberry32, type Rng } from '../../src/core/random.js';
import type { Rng } from '../../src/core/random.js';

export const GROUPS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel'] as const;

/** Attributes an UpdateItem may REMOVE; `id`, `grp` and `v` always stay so a target key can be computed. */
export const REMOVABLE_ATTRIBUTES = ['big', 'bin', 'tags', 'nums', 'empty', 'nested', 'flag', 'nothing'] as const;

export function itemId(n: number): string {
  return `item-${String(n).padStart(6, '0')}`;
}

const int = (rng: Rng, n: number): number => Math.floor(rng() * n);
const pick = <T>(rng: Rng, values: readonly T[]): T => values[int(rng, values.length)]!;
const digits = (rng: Rng, n: number): string => Array.from({ length: n }, () => String(int(rng, 10))).join('');
const nonZeroDigit = (rng: Rng): string => String(1 + int(rng, 9));

const WORDS = ['red', 'green', 'blue', 'Ünïcødé', 'emoji-🚀', 'with space', 'x', 'a'.repeat(40)] as const;

/** Numbers a float would silently change. */
function bigNumber(rng: Rng): string {
  const sign = rng() < 0.2 ? '-' : '';
  switch (int(rng, 4)) {
    case 0:
      return `${sign}${nonZeroDigit(rng)}${digits(rng, 37)}`;
    case 1:
      return `${sign}0.${nonZeroDigit(rng)}${digits(rng, 37)}`;
    case 2:
      return `${sign}${nonZeroDigit(rng)}.${digits(rng, 37)}E${int(rng, 200) - 100}`;
    default:
      return '0.1000000000000000055511151231257827';
  }
}

/** Distinct by value (a set may not hold 1.5 and 1.50), sometimes spelled with a trailing zero. */
function decimalSet(rng: Rng): string[] {
  const cents = new Set<number>();
  const size = 1 + int(rng, 3);
  while (cents.size < size) cents.add(int(rng, 200_001) - 100_000);
  return [...cents].map((c) => centsToDecimal(c, rng() < 0.3));
}

function centsToDecimal(cents: number, keepTrailingZero: boolean): string {
  const abs = Math.abs(cents);
  const fraction = String(abs % 100).padStart(2, '0');
  const text = `${cents < 0 ? '-' : ''}${Math.floor(abs / 100)}.${fraction}`;
  return keepTrailingZero ? text : text.replace(/\.?0+$/, '') || '0';
}

function bytes(rng: Rng, n: number): Uint8Array {
  return Uint8Array.from({ length: n }, () => int(rng, 256));
}

function tagSet(rng: Rng): string[] {
  const tags = new Set<string>();
  const size = 1 + int(rng, 4);
  while (tags.size < size) tags.add(pick(rng, WORDS));
  return [...tags];
}

/** A full item for `id`; the seeded generator decides every value and which optional attributes exist. */
export function makeItem(id: string, rng: Rng): AttributeMap {
  const item: AttributeMap = {
    id: { S: id },
    grp: { S: pick(rng, GROUPS) },
    v: { N: String(int(rng, 1000)) },
    big: { N: bigNumber(rng) },
    empty: { S: '' },
  };
  if (rng() < 0.9) item['bin'] = { B: bytes(rng, int(rng, 25)) };
  if (rng() < 0.9) item['tags'] = { SS: tagSet(rng) };
  if (rng() < 0.9) item['nums'] = { NS: decimalSet(rng) };
  if (rng() < 0.85) {
    item['nested'] = {
      M: {
        note: { S: pick(rng, WORDS) },
        list: {
          L: [
            { N: centsToDecimal(int(rng, 10_000), rng() < 0.5) },
            { S: pick(rng, WORDS) },
            { BOOL: rng() < 0.5 },
            { M: { deeper: { L: [{ NULL: true }, { N: bigNumber(rng) }] } } },
          ],
        },
      },
    };
  }
  if (rng() < 0.5) item['flag'] = { BOOL: rng() < 0.5 };
  if (rng() < 0.3) item['nothing'] = { NULL: true };
  return item;
}

/** The items `seedItems` writes, ids `item-000000` … in order; exposed so tests can predict the seeded table. */
export function generateSeedItems(count: number, rng: Rng): AttributeMap[] {
  return Array.from({ length: count }, (_, n) => makeItem(itemId(n), rng));
}

const SEED_BATCH_CONCURRENCY = 8;

export async function seedItems(client: DynamoDBClient, table: string, count: number, rng: Rng): Promise<void> {
  const items = generateSeedItems(count, rng);
  const batches: WriteRequest[][] = [];
  for (let i = 0; i < items.length; i += 25) {
    batches.push(items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })));
  }
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < batches.length) await writeBatch(client, table, batches[next++]!);
  };
  await Promise.all(Array.from({ length: SEED_BATCH_CONCURRENCY }, worker));
}

async function writeBatch(client: DynamoDBClient, table: string, requests: WriteRequest[]): Promise<void> {
  let pending = requests;
  for (let attempt = 0; pending.length > 0; attempt++) {
    if (attempt >= 20) throw new Error(`BatchWriteItem left ${pending.length} items unprocessed after ${attempt} tries`);
    if (attempt > 0) await delay(backoff(attempt));
    const out = await withRetry(() => client.send(new BatchWriteItemCommand({ RequestItems: { [table]: pending } })));
    pending = out.UnprocessedItems?.[table] ?? [];
  }
}

export type OpKind = 'put' | 'increment' | 'moveGroup' | 'removeAttribute' | 'addToSet' | 'delete' | 'deleteRecreate' | 'transact';

export type TransactAction = { kind: 'put'; item: AttributeMap } | { kind: 'increment'; id: string } | { kind: 'delete'; id: string };

export type WorkloadOp =
  | { kind: 'put'; item: AttributeMap }
  | { kind: 'increment'; id: string }
  | { kind: 'moveGroup'; id: string; grp: string }
  | { kind: 'removeAttribute'; id: string; attribute: string }
  | { kind: 'addToSet'; id: string; attribute: 'tags' | 'nums'; value: AttributeValue }
  | { kind: 'delete'; id: string }
  | { kind: 'deleteRecreate'; id: string; item: AttributeMap }
  | { kind: 'transact'; actions: TransactAction[] };

const WEIGHTS: [OpKind, number][] = [
  ['put', 20],
  ['increment', 20],
  ['moveGroup', 12],
  ['removeAttribute', 8],
  ['addToSet', 10],
  ['delete', 10],
  ['deleteRecreate', 8],
  ['transact', 12],
];
const TOTAL_WEIGHT = WEIGHTS.reduce((n, [, w]) => n + w, 0);

/** Plans one operation; ids are drawn from `idSpace`, so some exist and some are new. */
export function nextOperation(rng: Rng, idSpace: number): WorkloadOp {
  const randomId = (): string => itemId(int(rng, idSpace));
  let roll = rng() * TOTAL_WEIGHT;
  const kind = WEIGHTS.find(([, w]) => (roll -= w) < 0)?.[0] ?? 'put';
  switch (kind) {
    case 'put':
      return { kind, item: makeItem(randomId(), rng) };
    case 'increment':
    case 'delete':
      return { kind, id: randomId() };
    case 'moveGroup':
      return { kind, id: randomId(), grp: pick(rng, GROUPS) };
    case 'removeAttribute':
      return { kind, id: randomId(), attribute: pick(rng, REMOVABLE_ATTRIBUTES) };
    case 'addToSet':
      return rng() < 0.5
        ? { kind, id: randomId(), attribute: 'tags', value: { SS: [pick(rng, WORDS)] } }
        : { kind, id: randomId(), attribute: 'nums', value: { NS: [centsToDecimal(int(rng, 20_001) - 10_000, rng() < 0.3)] } };
    case 'deleteRecreate': {
      const id = randomId();
      return { kind, id, item: makeItem(id, rng) };
    }
    case 'transact': {
      // Distinct ids: DynamoDB rejects a transaction that touches one item twice.
      const ids = new Set<string>();
      const size = 2 + int(rng, 2);
      while (ids.size < size) ids.add(randomId());
      return {
        kind,
        actions: [...ids].map((id): TransactAction => {
          const r = rng();
          if (r < 0.4) return { kind: 'put', item: makeItem(id, rng) };
          if (r < 0.8) return { kind: 'increment', id };
          return { kind: 'delete', id };
        }),
      };
    }
  }
}

export interface WorkloadOptions {
  rng: Rng;
  /** Number of distinct ids; larger than the seeded count so new ids get inserted. */
  idSpace: number;
  durationMs?: number;
  maxOps?: number;
  /** Operations in flight at once; default 4. */
  concurrency?: number;
  signal?: AbortSignal;
  /** Each worker waits this long after an operation: caps the write rate below what the applier under test sustains. */
  pauseMs?: number;
}

export type WorkloadCounts = Record<OpKind, number> & {
  total: number;
  /** Updates (alone or in a transaction) that found their item deleted; they change nothing. */
  conditionFailed: number;
  /** Throttles and transaction conflicts that were retried. */
  retried: number;
};

/** Runs random operations until the signal aborts, `durationMs` passes or `maxOps` were started. */
export async function runWorkload(client: DynamoDBClient, table: string, opts: WorkloadOptions): Promise<WorkloadCounts> {
  if (opts.durationMs === undefined && opts.maxOps === undefined && opts.signal === undefined) {
    throw new Error('runWorkload needs durationMs, maxOps or signal, or it would never stop');
  }
  const counts: WorkloadCounts = {
    put: 0,
    increment: 0,
    moveGroup: 0,
    removeAttribute: 0,
    addToSet: 0,
    delete: 0,
    deleteRecreate: 0,
    transact: 0,
    total: 0,
    conditionFailed: 0,
    retried: 0,
  };
  const deadline = opts.durationMs === undefined ? Infinity : Date.now() + opts.durationMs;
  let failure: { error: unknown } | undefined;
  const shouldStop = (): boolean =>
    failure !== undefined || opts.signal?.aborted === true || Date.now() >= deadline || (opts.maxOps !== undefined && counts.total >= opts.maxOps);

  const worker = async (): Promise<void> => {
    while (!shouldStop()) {
      const op = nextOperation(opts.rng, opts.idSpace);
      counts.total++;
      counts[op.kind]++;
      try {
        if (!(await execute(client, table, op, counts))) counts.conditionFailed++;
      } catch (error) {
        failure ??= { error };
      }
      if (opts.pauseMs) await new Promise((r) => setTimeout(r, opts.pauseMs));
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency ?? 4 }, worker));
  if (failure) throw failure.error;
  return counts;
}

const names = (...attrs: string[]): Record<string, string> => Object.fromEntries(attrs.map((a) => [`#${a}`, a]));
const keyOf = (id: string): AttributeMap => ({ id: { S: id } });

/** Update only items that exist: an update of a deleted id would create a stub without `grp`. */
const EXISTS = 'attribute_exists(#id)';

function incrementUpdate(table: string, id: string) {
  return {
    TableName: table,
    Key: keyOf(id),
    UpdateExpression: 'SET #v = if_not_exists(#v, :zero) + :one',
    ConditionExpression: EXISTS,
    ExpressionAttributeNames: names('id', 'v'),
    ExpressionAttributeValues: { ':zero': { N: '0' }, ':one': { N: '1' } },
  };
}

/** Returns false when the operation's condition failed (nothing was written). */
async function execute(client: DynamoDBClient, table: string, op: WorkloadOp, counts: WorkloadCounts): Promise<boolean> {
  const send = <T>(fn: () => Promise<T>): Promise<T> => withRetry(fn, () => counts.retried++);
  switch (op.kind) {
    case 'put':
      await send(() => client.send(new PutItemCommand({ TableName: table, Item: op.item })));
      return true;
    case 'delete':
      await send(() => client.send(new DeleteItemCommand({ TableName: table, Key: keyOf(op.id) })));
      return true;
    case 'deleteRecreate':
      await send(() => client.send(new DeleteItemCommand({ TableName: table, Key: keyOf(op.id) })));
      await send(() => client.send(new PutItemCommand({ TableName: table, Item: op.item })));
      return true;
    case 'increment':
      return conditional(send(() => client.send(new UpdateItemCommand(incrementUpdate(table, op.id)))));
    case 'moveGroup':
      return conditional(
        send(() =>
          client.send(
            new UpdateItemCommand({
              TableName: table,
              Key: keyOf(op.id),
              UpdateExpression: 'SET #grp = :grp',
              ConditionExpression: EXISTS,
              ExpressionAttributeNames: names('id', 'grp'),
              ExpressionAttributeValues: { ':grp': { S: op.grp } },
            }),
          ),
        ),
      );
    case 'removeAttribute':
      return conditional(
        send(() =>
          client.send(
            new UpdateItemCommand({
              TableName: table,
              Key: keyOf(op.id),
              UpdateExpression: `REMOVE #${op.attribute}`,
              ConditionExpression: EXISTS,
              ExpressionAttributeNames: names('id', op.attribute),
            }),
          ),
        ),
      );
    case 'addToSet':
      return conditional(
        send(() =>
          client.send(
            new UpdateItemCommand({
              TableName: table,
              Key: keyOf(op.id),
              UpdateExpression: `ADD #${op.attribute} :value`,
              ConditionExpression: EXISTS,
              ExpressionAttributeNames: names('id', op.attribute),
              ExpressionAttributeValues: { ':value': op.value },
            }),
          ),
        ),
      );
    case 'transact':
      return conditional(send(() => client.send(new TransactWriteItemsCommand({ TransactItems: op.actions.map((a) => transactItem(table, a)) }))));
  }
}

function transactItem(table: string, action: TransactAction): TransactWriteItem {
  switch (action.kind) {
    case 'put':
      return { Put: { TableName: table, Item: action.item } };
    case 'increment':
      return { Update: incrementUpdate(table, action.id) };
    case 'delete':
      return { Delete: { TableName: table, Key: keyOf(action.id) } };
  }
}

/** Resolves false for a failed condition — the only error the workload expects — and rethrows everything else. */
async function conditional(write: Promise<unknown>): Promise<boolean> {
  try {
    await write;
    return true;
  } catch (err) {
    if (errorName(err) === 'ConditionalCheckFailedException') return false;
    if (errorName(err) === 'TransactionCanceledException' && cancellationCodes(err).includes('ConditionalCheckFailed')) {
      return false;
    }
    throw err;
  }
}

const RETRYABLE = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'TransactionConflictException',
  'TransactionInProgressException',
  'InternalServerError',
  'TimeoutError',
  'ECONNRESET',
  'EPIPE',
]);
const MAX_ATTEMPTS = 10;

function isRetryable(err: unknown): boolean {
  const name = errorName(err);
  if (RETRYABLE.has(name)) return true;
  if (name === 'TransactionCanceledException') {
    // Retry when another transaction collided with ours, but never a failed condition.
    const codes = cancellationCodes(err);
    return !codes.includes('ConditionalCheckFailed') && codes.some((c) => c === 'TransactionConflict' || c === 'ThrottlingError');
  }
  const status = (err as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
  return status !== undefined && status >= 500;
}

async function withRetry<T>(fn: () => Promise<T>, onRetry?: () => void): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt + 1 >= MAX_ATTEMPTS || !isRetryable(err)) throw err;
      onRetry?.();
      await delay(backoff(attempt));
    }
  }
}

function errorName(err: unknown): string {
  return typeof err === 'object' && err !== null && 'name' in err ? String(err.name) : '';
}

function cancellationCodes(err: unknown): string[] {
  const reasons = (err as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
  return reasons.map((r) => r.Code ?? 'None');
}

const backoff = (attempt: number): number => Math.floor(Math.random() * Math.min(2_000, 25 * 2 ** attempt));
const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
