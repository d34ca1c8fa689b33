import type { AttributeMap } from '../../core/item.js';
import type { RoutedItem } from '../../core/transform.js';
import type { VerifyContext } from './context.js';

export type Expectation =
  /** transform(source) produces this item at the key now (undefined: it produces nothing there). */
  | { ok: true; item: AttributeMap | undefined }
  /** The transform throws on the current source item, or returns an item the target can't take. */
  | { ok: false; error: string };

/** What the current version of a source item (undefined: deleted) produces at one target key. */
export function expectationAt(ctx: VerifyContext, source: string, sourceItem: AttributeMap | undefined, target: string, keyId: string): Expectation {
  if (!sourceItem) return { ok: true, item: undefined };
  let routed: RoutedItem[];
  try {
    routed = ctx.mapper.map(source, sourceItem);
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
  let found: AttributeMap | undefined;
  for (const r of routed) if (r.target === target && r.keyId === keyId) found = r.item;
  return { ok: true, item: found };
}
