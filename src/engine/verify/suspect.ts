import type { DdbJsonMap } from '../../core/ddb-json.js';
import type { KeySchema } from '../../core/item.js';
import { keyAttributeNames } from '../../core/item.js';
import type { DifferenceKind } from './types.js';

/**
 * A difference seen at some moment, as it travels through re-checks and repair (one JSON line in a spill file, so
 * millions of them stay on disk). Re-checks replace `e`/`a` with what they read last.
 */
export interface Suspect {
  c: DifferenceKind;
  /** Target name, the key's keyId, and the key in DynamoDB JSON. */
  t: string;
  k: string;
  key: DdbJsonMap;
  /** Source name and source key, when known (always for missing and differing). */
  n?: string;
  s?: DdbJsonMap;
  /** Expected item (transform(source)) and actual target item, as last read. */
  e?: DdbJsonMap;
  a?: DdbJsonMap;
  /** Differing attribute names. */
  d?: string[];
  /** Repair outcome: 'repaired', or why it was not repaired. */
  r?: string;
}

/** The key attributes of an item in DynamoDB JSON. */
export function pickKey(item: DdbJsonMap, schema: KeySchema): DdbJsonMap {
  const key: DdbJsonMap = {};
  for (const name of keyAttributeNames(schema)) {
    const v = item[name];
    if (v !== undefined) key[name] = v;
  }
  return key;
}
