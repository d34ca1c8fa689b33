import { createHash } from 'node:crypto';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { ChangeRecord } from '../core/change.js';
import type { AttributeMap } from '../core/item.js';
import { normalizeDecimal } from '../core/numbers.js';

/**
 * The dead-letter model shared by every state store. A store records *failures* (one line, or one item, per distinct
 * failure) and *resolutions*; what the user sees is one dead letter per source item, unresolved while any of its
 * failures is. The unresolved count is derived from that, never kept as a counter.
 *
 * Values are DynamoDB JSON: `{"S":"x"}`, `{"N":"1.50"}` (numbers stay exact strings), binary as base64 strings. A value
 * the stream sent without a type (DynamoDB Local's empty maps) is kept as it came, `{}`, so the entry shows it.
 */
export interface DeadLetterEntry {
  /** The source item's dead-letter id (see deadLetterId); written by current versions, derived for old files. */
  id?: string;
  at: string;
  stage: 'backfill' | 'stream' | 'transform';
  source: string;
  /** Source item key (DynamoDB JSON; files written before the dead-letter lifecycle hold binary as {"0":27,…}). */
  sourceKey: unknown;
  /** The source item (backfill), the target item a target rejected, or `{ deleteKey }` for a rejected delete. */
  item?: unknown;
  /** The change record that failed (stream): sequence number, event name, keys and images. */
  record?: unknown;
  target?: string;
  sequenceNumber?: string;
  shardId?: string;
  error: { code: string; message: string; hint?: string };
}

export type ResolvedBy = 'rerun' | 'retry' | 'discard';

/** Marks failures of one source item resolved: one failure (by its failureKey), or every failure recorded before. */
export interface DeadLetterResolution {
  id: string;
  failure?: string;
  at: string;
  by: ResolvedBy;
  reason?: string;
}

export interface RecordedFailure extends DeadLetterEntry {
  id: string;
  failureKey: string;
  resolved?: { at: string; by: ResolvedBy; reason?: string };
  /** Where the store keeps it (the DynamoDB store's sort key); internal. */
  ref?: string;
}

/** One source item that failed: the fields of its first open failure (or its first failure), plus all of them. */
export interface DeadLetter extends RecordedFailure {
  failures: RecordedFailure[];
}

/** The id of a source item's dead letter: the same for every failure of that item, in backfill and stream alike. */
export function deadLetterId(source: string, sourceKey: unknown): string {
  return createHash('sha256')
    .update(JSON.stringify([source, canonicalKey(sourceKey)]))
    .digest('hex')
    .slice(0, 16);
}

/**
 * What makes two failures of one item the same failure: the stage, the target and the stream record. A resumed run
 * that meets the same failure again records nothing new.
 */
export function failureKey(e: Pick<DeadLetterEntry, 'stage' | 'target' | 'sequenceNumber'>): string {
  return `${e.stage}|${e.target ?? ''}|${e.sequenceNumber ?? ''}`;
}

export function isUnresolved(letter: DeadLetter): boolean {
  return letter.failures.some((f) => !f.resolved);
}

/**
 * Folds recorded failures and resolutions, in the order they were written, into one dead letter per source item.
 * A resolution without a failure key resolves every failure of the item recorded before it.
 */
export function foldDeadLetters(
  events: ({ failure: DeadLetterEntry; ref?: string; resolved?: RecordedFailure['resolved'] } | { resolution: DeadLetterResolution })[],
): DeadLetter[] {
  const byItem = new Map<string, Map<string, RecordedFailure>>();
  for (const ev of events) {
    if ('resolution' in ev) {
      const failures = byItem.get(ev.resolution.id);
      if (!failures) continue;
      const { at, by, reason } = ev.resolution;
      for (const f of failures.values()) {
        if (f.resolved || (ev.resolution.failure !== undefined && f.failureKey !== ev.resolution.failure)) continue;
        f.resolved = { at, by, ...(reason !== undefined ? { reason } : {}) };
      }
      continue;
    }
    const entry = ev.failure;
    const id = entry.id ?? deadLetterId(entry.source, entry.sourceKey);
    const key = failureKey(entry);
    let failures = byItem.get(id);
    if (!failures) byItem.set(id, (failures = new Map()));
    const known = failures.get(key);
    // The same failure again: an open one stays as first recorded; a resolved one is open again.
    if (known && !known.resolved) continue;
    failures.set(key, { ...entry, id, failureKey: key, ...(ev.ref ? { ref: ev.ref } : {}), ...(ev.resolved ? { resolved: ev.resolved } : {}) });
  }
  return [...byItem.values()].map((m) => {
    const failures = [...m.values()];
    const head = failures.find((f) => !f.resolved) ?? failures[0]!;
    return { ...head, failures };
  });
}

// ---- DynamoDB JSON --------------------------------------------------------------------------------------------------

export function encodeMap(map: AttributeMap | undefined): Record<string, unknown> | undefined {
  if (!map) return undefined;
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(map)) out[name] = encodeValue(value);
  return out;
}

function encodeValue(v: AttributeValue): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (v.B !== undefined) return { B: base64(v.B) };
  if (v.BS !== undefined) return { BS: v.BS.map(base64) };
  if (v.L !== undefined) return { L: v.L.map(encodeValue) };
  if (v.M !== undefined) return { M: encodeMap(v.M) };
  return v; // S, N (an exact string), BOOL, NULL, SS, NS — and an untyped value as it came
}

export function encodeRecord(r: ChangeRecord): Record<string, unknown> {
  return {
    sequenceNumber: r.sequenceNumber,
    eventName: r.eventName,
    keys: encodeMap(r.keys),
    ...(r.oldImage ? { oldImage: encodeMap(r.oldImage) } : {}),
    ...(r.newImage ? { newImage: encodeMap(r.newImage) } : {}),
    ...(r.createdAt !== undefined ? { createdAt: new Date(r.createdAt).toISOString() } : {}),
    ...(r.ttlDelete ? { ttlDelete: true } : {}),
  };
}

/** DynamoDB JSON back to the SDK shape; also reads files written before binary was base64 ({"0":27,…}). */
export function decodeMap(json: unknown): AttributeMap {
  const out: AttributeMap = {};
  if (!json || typeof json !== 'object') return out;
  for (const [name, value] of Object.entries(json as Record<string, unknown>)) out[name] = decodeValue(value);
  return out;
}

function decodeValue(value: unknown): AttributeValue {
  const v = (value ?? {}) as Record<string, unknown>;
  if (v['B'] !== undefined) return { B: bytes(v['B']) };
  if (Array.isArray(v['BS'])) return { BS: (v['BS'] as unknown[]).map(bytes) };
  if (Array.isArray(v['L'])) return { L: (v['L'] as unknown[]).map(decodeValue) };
  if (v['M'] !== undefined && typeof v['M'] === 'object') return { M: decodeMap(v['M']) };
  return v as unknown as AttributeValue;
}

/** The old image a failed stream record carried (current and old entry formats), for a retry's deletes. */
export function failureOldImage(f: DeadLetterEntry): AttributeMap | undefined {
  if (f.stage !== 'stream' || f.target !== undefined) return undefined;
  const record = (f.record ?? f.item) as { oldImage?: unknown } | undefined;
  return record?.oldImage ? decodeMap(record.oldImage) : undefined;
}

function bytes(v: unknown): Uint8Array {
  if (typeof v === 'string') return new Uint8Array(Buffer.from(v, 'base64'));
  if (Array.isArray(v)) return Uint8Array.from(v as number[]);
  if (v && typeof v === 'object') {
    const o = v as Record<string, number>;
    return Uint8Array.from(
      Object.keys(o)
        .sort((a, b) => Number(a) - Number(b))
        .map((k) => o[k]!),
    );
  }
  return new Uint8Array();
}

function base64(b: Uint8Array | string): string {
  if (typeof b === 'string') return b;
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
}

/** A key as a stable string: attribute names sorted, numbers by value, binary as base64 (old or new encoding). */
function canonicalKey(key: unknown): string {
  const map = decodeMap(key);
  return JSON.stringify(
    Object.keys(map)
      .sort()
      .map((name) => {
        const v = map[name]!;
        if (v.S !== undefined) return [name, 'S', v.S];
        if (v.N !== undefined) return [name, 'N', normalizeDecimal(v.N)];
        if (v.B !== undefined) return [name, 'B', base64(v.B)];
        return [name, '?', JSON.stringify(v)];
      }),
  );
}
