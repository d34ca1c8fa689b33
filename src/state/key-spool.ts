import { createHash, randomUUID } from 'node:crypto';
import {
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
  type TransactWriteItem,
} from '@aws-sdk/client-dynamodb';
import { sleep } from '../core/backoff.js';
import type { AttributeMap } from '../core/item.js';
import { normalizeDecimal } from '../core/numbers.js';
import { errorName } from '../aws/errors.js';
import { DynashiftError } from '../errors.js';
import { decodeMap, encodeMap } from './dead-letters.js';

/**
 * The AWS runner's dirty-key spool (docs/aws.md, "State table layout"; docs/consistency.md): while a source's backfill
 * runs, the stream handler records which source keys changed and which target keys their old and new images produced,
 * instead of applying the records; after the backfill, the Replay task re-reads each key and removes it from the spool.
 *
 * | pk                                 | sk                   | holds                                                   |
 * | ---------------------------------- | -------------------- | ------------------------------------------------------- |
 * | `<migration>`                      | `spool#<source>`     | the control item: `mode` (spooling/handoff/live), `spooled` |
 * | `<migration>#spool#<source>`       | hash of the key      | one source key: `sourceKey`, `t#<n>` target-key sets, `version`, `gen` |
 *
 * Every spool write is one transaction with the control item, conditioned on `mode = spooling`: once the replay has
 * moved the mode to `handoff`, no spool write can land, so the replay's final pass sees every key ever spooled.
 */
export type SpoolMode = 'spooling' | 'handoff' | 'live';

export interface SpoolControl {
  mode: SpoolMode;
  /** Spool transactions that landed (progress only). */
  spooled: number;
}

/** One source key to spool: the target keys (by target) that its records' old and new images produced. */
export interface SpoolEntry {
  sourceKey: AttributeMap;
  targetKeys: { target: string; key: AttributeMap }[];
}

/** A spool item as the replay reads it. */
export interface SpooledKey {
  id: string;
  sourceKey: AttributeMap;
  targetKeys: { target: string; key: AttributeMap }[];
  version: number;
  /**
   * The spool item's incarnation, set by the write that created it: `version` starts at 1 again when a key is spooled
   * after its removal, so a retried removal of the earlier incarnation must not match the new one. Absent on items
   * spooled before it existed.
   */
  gen?: string;
}

/** Keys per transaction: DynamoDB (and DynamoDB Local) take at most 100 items per TransactWriteItems, one is the control item. */
export const SPOOL_KEYS_PER_TRANSACTION = 99;
/** Transaction conflicts (another spool write on the control item at the same instant) are retried this often. */
const CONFLICT_ATTEMPTS = 12;

export interface KeySpoolOptions {
  client: DynamoDBClient;
  table: string;
  migration: string;
}

export class KeySpool {
  constructor(private readonly opts: KeySpoolOptions) {}

  /** Creates the source's control item in mode `spooling`, unless it exists (a re-run Prepare keeps the mode it finds). */
  async open(source: string): Promise<void> {
    try {
      await this.opts.client.send(
        new PutItemCommand({
          TableName: this.opts.table,
          Item: { ...this.controlKey(source), mode: { S: 'spooling' }, spooled: { N: '0' }, openedAt: { S: new Date().toISOString() } },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (err) {
      if (errorName(err) !== 'ConditionalCheckFailedException') throw err;
    }
  }

  /** The control item (consistent read); undefined when Prepare did not open a spool for this source. */
  async control(source: string): Promise<SpoolControl | undefined> {
    const res = await this.opts.client.send(new GetItemCommand({ TableName: this.opts.table, Key: this.controlKey(source), ConsistentRead: true }));
    const mode = res.Item?.mode?.S;
    if (!res.Item || (mode !== 'spooling' && mode !== 'handoff' && mode !== 'live')) return undefined;
    return { mode, spooled: Number(res.Item.spooled?.N ?? 0) };
  }

  /**
   * Records the entries, in transactions of at most 99 keys plus the control item, each conditioned on
   * `mode = spooling`. Returns 'spooled' when all landed; otherwise the mode that refused them (entries of earlier
   * transactions may have landed: they are replayed like any other, and the caller redelivers or applies the batch).
   */
  async write(source: string, entries: SpoolEntry[]): Promise<'spooled' | 'handoff' | 'live' | 'missing'> {
    const merged = new Map<string, SpoolEntry>();
    for (const e of entries) {
      const id = spoolKeyId(e.sourceKey);
      const m = merged.get(id);
      if (m) m.targetKeys.push(...e.targetKeys);
      else merged.set(id, { sourceKey: e.sourceKey, targetKeys: [...e.targetKeys] });
    }
    const all = [...merged];
    for (let i = 0; i < all.length; i += SPOOL_KEYS_PER_TRANSACTION) {
      const items: TransactWriteItem[] = [
        {
          Update: {
            TableName: this.opts.table,
            Key: this.controlKey(source),
            UpdateExpression: 'ADD spooled :one',
            ConditionExpression: '#mode = :spooling',
            ExpressionAttributeNames: { '#mode': 'mode' },
            ExpressionAttributeValues: { ':one': { N: '1' }, ':spooling': { S: 'spooling' } },
          },
        },
        ...all.slice(i, i + SPOOL_KEYS_PER_TRANSACTION).map(([id, e]) => ({ Update: this.keyUpdate(source, id, e) })),
      ];
      const refused = await this.transact(source, items);
      if (refused) return refused;
    }
    return 'spooled';
  }

  /** One page of spooled keys (consistent), for the replay. */
  async page(
    source: string,
    start?: Record<string, AttributeValue>,
    limit = 100,
  ): Promise<{ keys: SpooledKey[]; next?: Record<string, AttributeValue> }> {
    const res = await this.opts.client.send(
      new QueryCommand({
        TableName: this.opts.table,
        ConsistentRead: true,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': { S: this.partition(source) } },
        Limit: limit,
        ...(start ? { ExclusiveStartKey: start } : {}),
      }),
    );
    return { keys: (res.Items ?? []).map(parseSpooled), ...(res.LastEvaluatedKey ? { next: res.LastEvaluatedKey } : {}) };
  }

  /** Spooled keys left (a COUNT query: reads every item's size, so use it once per pass). */
  async count(source: string): Promise<number> {
    let n = 0;
    let start: Record<string, AttributeValue> | undefined;
    do {
      const res = await this.opts.client.send(
        new QueryCommand({
          TableName: this.opts.table,
          ConsistentRead: true,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': { S: this.partition(source) } },
          Select: 'COUNT',
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      n += res.Count ?? 0;
      start = res.LastEvaluatedKey;
    } while (start);
    return n;
  }

  /**
   * Removes a replayed key, only if no record was spooled for it since it was read (`version` unchanged). False: a newer
   * record arrived, the key stays for the next pass.
   */
  async remove(source: string, key: SpooledKey): Promise<boolean> {
    try {
      await this.opts.client.send(
        new DeleteItemCommand({
          TableName: this.opts.table,
          Key: { pk: { S: this.partition(source) }, sk: { S: key.id } },
          // The version alone is not enough: an SDK retry of a removal that executed (its answer lost) would delete the
          // key spooled again since, whose version restarted at 1 — its records acknowledged and never replayed.
          ConditionExpression: key.gen !== undefined ? '#version = :v AND #gen = :g' : '#version = :v AND attribute_not_exists(#gen)',
          ExpressionAttributeNames: { '#version': 'version', '#gen': 'gen' },
          ExpressionAttributeValues: { ':v': { N: String(key.version) }, ...(key.gen !== undefined ? { ':g': { S: key.gen } } : {}) },
        }),
      );
      return true;
    } catch (err) {
      if (errorName(err) !== 'ConditionalCheckFailedException') throw err;
      return false;
    }
  }

  /** Moves the mode forward (spooling → handoff → live); true if it is `to` afterwards (moved now or before). */
  async setMode(source: string, from: SpoolMode, to: SpoolMode): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.trySetMode(source, from, to);
      } catch (err) {
        // A spool transaction on the control item in flight at this instant: wait for it and try again.
        if (errorName(err) !== 'TransactionConflictException' || attempt >= CONFLICT_ATTEMPTS) throw err;
        await sleep(Math.min(1000, 10 * 2 ** attempt) * (0.5 + Math.random()));
      }
    }
  }

  private async trySetMode(source: string, from: SpoolMode, to: SpoolMode): Promise<boolean> {
    try {
      await this.opts.client.send(
        new UpdateItemCommand({
          TableName: this.opts.table,
          Key: this.controlKey(source),
          UpdateExpression: 'SET #mode = :to, #at = :at',
          ConditionExpression: '#mode = :from',
          ExpressionAttributeNames: { '#mode': 'mode', '#at': `${to}At` },
          ExpressionAttributeValues: { ':to': { S: to }, ':from': { S: from }, ':at': { S: new Date().toISOString() } },
        }),
      );
      return true;
    } catch (err) {
      if (errorName(err) !== 'ConditionalCheckFailedException') throw err;
      return (await this.control(source))?.mode === to;
    }
  }

  // ---- plumbing ---------------------------------------------------------------------------------------------------------

  private controlKey(source: string): Record<string, AttributeValue> {
    return { pk: { S: this.opts.migration }, sk: { S: `spool#${encodeURIComponent(source)}` } };
  }

  /** Spool items live in their own partition per source: a busy spool never competes with the migration's state items. */
  private partition(source: string): string {
    return `${this.opts.migration}#spool#${encodeURIComponent(source)}`;
  }

  private keyUpdate(source: string, id: string, e: SpoolEntry): NonNullable<TransactWriteItem['Update']> {
    const byTarget = new Map<string, Set<string>>();
    for (const { target, key } of e.targetKeys) {
      let set = byTarget.get(target);
      if (!set) byTarget.set(target, (set = new Set()));
      set.add(canonicalKeyJson(key));
    }
    const names: Record<string, string> = { '#version': 'version', '#sourceKey': 'sourceKey', '#gen': 'gen' };
    const values: Record<string, AttributeValue> = {
      ':one': { N: '1' },
      ':sourceKey': { S: JSON.stringify(encodeMap(e.sourceKey)) },
      ':gen': { S: randomUUID() },
    };
    const adds = ['#version :one'];
    let n = 0;
    for (const [target, keys] of byTarget) {
      names[`#t${n}`] = `t#${target}`;
      values[`:t${n}`] = { SS: [...keys] };
      adds.push(`#t${n} :t${n}`);
      n++;
    }
    return {
      TableName: this.opts.table,
      Key: { pk: { S: this.partition(source) }, sk: { S: id } },
      UpdateExpression: `SET #sourceKey = :sourceKey, #gen = if_not_exists(#gen, :gen) ADD ${adds.join(', ')}`,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    };
  }

  /** Runs one spool transaction; returns the mode that refused it, or undefined when it landed. */
  private async transact(source: string, items: TransactWriteItem[]): Promise<'handoff' | 'live' | 'missing' | undefined> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.opts.client.send(new TransactWriteItemsCommand({ TransactItems: items }));
        return undefined;
      } catch (err) {
        if (errorName(err) !== 'TransactionCanceledException') throw err;
        const reasons = (err as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
        if (reasons[0]?.Code === 'ConditionalCheckFailed') {
          const mode = (await this.control(source))?.mode;
          // The control item is 'spooling' again only if it was missing and Prepare just created it: try once more.
          if (mode !== 'spooling') return mode ?? 'missing';
          if (attempt < CONFLICT_ATTEMPTS) continue;
        }
        const conflict = reasons.some(
          (r) => r.Code === 'TransactionConflict' || r.Code === 'ThrottlingError' || r.Code === 'ProvisionedThroughputExceeded',
        );
        if (!conflict || attempt >= CONFLICT_ATTEMPTS) {
          throw new DynashiftError(
            'AWS_ERROR',
            `could not write ${items.length - 1} key(s) to the spool of source ${source} in ${this.opts.table}: ${reasons.map((r) => r.Code ?? 'None').join(', ')}`,
            {
              side: 'state',
              hint: 'the batch is returned to Lambda and retried; if this persists, the state table is throttled (it is on-demand by default) or items hit the 400 KB limit — see docs/aws.md, "Limits"',
              cause: err,
            },
          );
        }
        await sleep(Math.min(1000, 10 * 2 ** attempt) * (0.5 + Math.random()));
      }
    }
  }
}

/** The spool item's sort key: a hash of the canonical source key (a key may be longer than a sort key may be). */
export function spoolKeyId(sourceKey: AttributeMap): string {
  return createHash('sha256').update(canonicalKeyJson(sourceKey)).digest('hex').slice(0, 40);
}

/** One JSON text per key value: attribute names sorted, numbers normalized (1.50 and 1.5 are one key), binary base64. */
export function canonicalKeyJson(key: AttributeMap): string {
  const encoded = encodeMap(key) ?? {};
  const out: Record<string, unknown> = {};
  for (const name of Object.keys(encoded).sort()) {
    const v = encoded[name] as { N?: string };
    out[name] = v.N !== undefined ? { N: normalizeDecimal(v.N) } : v;
  }
  return JSON.stringify(out);
}

function parseSpooled(item: Record<string, AttributeValue>): SpooledKey {
  const targetKeys: { target: string; key: AttributeMap }[] = [];
  for (const [name, value] of Object.entries(item)) {
    if (!name.startsWith('t#')) continue;
    for (const json of value.SS ?? []) targetKeys.push({ target: name.slice(2), key: decodeMap(JSON.parse(json)) });
  }
  return {
    id: item.sk!.S!,
    sourceKey: decodeMap(JSON.parse(item.sourceKey?.S ?? '{}')),
    targetKeys,
    version: Number(item.version?.N ?? 0),
    ...(item.gen?.S !== undefined ? { gen: item.gen.S } : {}),
  };
}
