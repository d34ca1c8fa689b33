import { fromDdbJson, toDdbJson, type DdbJsonMap } from '../../core/ddb-json.js';
import { attributeType, keyAttributeNames, keyId, type AttributeMap } from '../../core/item.js';
import { differingAttributes } from '../../core/equality.js';
import type { VerifyContext } from './context.js';
import { expectationAt } from './expected-now.js';
import { readJsonl, type JsonlWriter } from './jsonl.js';
import { lookupByKey } from './lookup.js';
import type { Suspect } from './suspect.js';

const CHUNK = 500;
const CHUNKS_IN_FLIGHT = 4;

export interface SourceRef {
  n: string;
  s: DdbJsonMap;
}

/**
 * Reads each suspect again, from both sides, now: the target item by its key, and the source item that produces
 * (or should produce) it, re-mapped with the transform. A suspect whose two sides now agree was a change in flight
 * and resolves (undefined); one that still differs comes back updated with what was read.
 *
 * Extras have no known source: when the target item carries every key attribute of a source, that source item is
 * looked up too, so an item inserted while verify ran is recognized.
 */
export async function recheckChunk(ctx: VerifyContext, suspects: Suspect[]): Promise<(Suspect | undefined)[]> {
  // 1. The target items now.
  const targetNow = new Map<string, Map<string, AttributeMap | undefined>>();
  for (const [target, group] of groupBy(suspects, (s) => s.t)) {
    const t = ctx.targets[target]!;
    targetNow.set(
      target,
      await lookupByKey(
        t.reader,
        t.keySchema,
        group.map((s) => fromDdbJson(s.key)),
      ),
    );
  }
  const actualOf = (s: Suspect): AttributeMap | undefined => targetNow.get(s.t)?.get(s.k);

  // 2. Which source items to read: the known one, or for an extra every source whose key the target item carries.
  const candidates = suspects.map((s): SourceRef[] => {
    if (s.n && s.s) return [{ n: s.n, s: s.s }];
    const actual = actualOf(s);
    return actual ? traceSources(ctx, actual) : [];
  });
  const sourceNow = new Map<string, Map<string, AttributeMap | undefined>>();
  for (const [source, refs] of groupBy(candidates.flat(), (r) => r.n)) {
    const src = ctx.sources[source]!;
    sourceNow.set(
      source,
      await lookupByKey(
        src.reader,
        src.keySchema,
        refs.map((r) => fromDdbJson(r.s)),
      ),
    );
  }

  // 3. Compare the two sides as they are now.
  return suspects.map((s, i) => {
    const actual = actualOf(s);
    const refs = candidates[i]!;
    let expected: AttributeMap | undefined;
    let producer: SourceRef | undefined;
    for (const ref of refs) {
      const src = ctx.sources[ref.n]!;
      const item = sourceNow.get(ref.n)?.get(keyId(fromDdbJson(ref.s), src.keySchema));
      const exp = expectationAt(ctx, ref.n, item, s.t, s.k);
      // A transform that fails now decides nothing: keep the suspect as it was, with the fresh target side.
      if (!exp.ok) {
        const kept: Suspect = { ...s };
        if (actual) kept.a = toDdbJson(actual);
        else delete kept.a;
        return kept;
      }
      if (exp.item) {
        expected = exp.item;
        producer = ref;
        break;
      }
    }
    if (!expected && !actual) return undefined;
    const d = expected && actual ? differingAttributes(expected, actual) : [];
    if (expected && actual && d.length === 0) return undefined;
    const known = producer ?? (s.n && s.s ? { n: s.n, s: s.s } : undefined);
    const next: Suspect = {
      c: expected ? (actual ? 'differing' : 'missing') : 'extra',
      t: s.t,
      k: s.k,
      key: s.key,
      ...(known ? { n: known.n, s: known.s } : {}),
      ...(expected ? { e: toDdbJson(expected) } : {}),
      ...(actual ? { a: toDdbJson(actual) } : {}),
      ...(d.length ? { d } : {}),
      ...(s.r !== undefined ? { r: s.r } : {}),
    };
    return next;
  });
}

/** Re-checks every suspect of a file; the ones that still differ go to `out`. Returns how many resolved. */
export async function recheckFile(
  ctx: VerifyContext,
  inPath: string,
  out: JsonlWriter<Suspect>,
  signal: AbortSignal,
): Promise<{ resolved: number; remaining: number }> {
  let resolved = 0;
  let remaining = 0;
  const running = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  const launch = (chunk: Suspect[]): void => {
    const p = recheckChunk(ctx, chunk)
      .then(async (now) => {
        for (const s of now) {
          if (s) {
            remaining++;
            await out.write(s);
          } else resolved++;
        }
      })
      .catch((error: unknown) => {
        failure ??= { error };
      })
      .finally(() => running.delete(p));
    running.add(p);
  };
  let chunk: Suspect[] = [];
  for await (const s of readJsonl<Suspect>(inPath)) {
    if (signal.aborted || failure) break;
    chunk.push(s);
    if (chunk.length >= CHUNK) {
      launch(chunk);
      chunk = [];
      while (running.size >= CHUNKS_IN_FLIGHT) await Promise.race(running);
    }
  }
  if (chunk.length && !signal.aborted && !failure) launch(chunk);
  await Promise.all(running);
  if (failure) throw failure.error;
  return { resolved, remaining };
}

/** Sources whose whole key (names and types) the target item carries: the items that may have produced it. */
export function traceSources(ctx: VerifyContext, targetItem: AttributeMap): SourceRef[] {
  const refs: SourceRef[] = [];
  for (const src of Object.values(ctx.sources)) {
    const attrs = [src.keySchema.partitionKey, ...(src.keySchema.sortKey ? [src.keySchema.sortKey] : [])];
    if (attrs.every((a) => targetItem[a.name] !== undefined && attributeType(targetItem[a.name]!) === a.type)) {
      refs.push({ n: src.name, s: toDdbJson(pickAttrs(targetItem, keyAttributeNames(src.keySchema))) });
    }
  }
  return refs;
}

function pickAttrs(item: AttributeMap, names: string[]): AttributeMap {
  return Object.fromEntries(names.map((n) => [n, item[n]!]));
}

function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const g = groups.get(k);
    if (g) g.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}
