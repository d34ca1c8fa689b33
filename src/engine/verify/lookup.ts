import type { AttributeMap } from '../../core/item.js';
import { keyId, type KeySchema } from '../../core/item.js';

export interface PointReader {
  readonly keySchema?: KeySchema;
  getItems(keys: AttributeMap[]): Promise<(AttributeMap | undefined)[]>;
}

/**
 * Consistent point lookups for a batch of keys, each key asked once (BatchGetItem refuses duplicates). Returns the
 * current items by keyId; absent keys map to undefined.
 */
export async function lookupByKey(reader: PointReader, schema: KeySchema, keys: AttributeMap[]): Promise<Map<string, AttributeMap | undefined>> {
  const unique = new Map<string, AttributeMap>();
  for (const key of keys) unique.set(keyId(key, schema), key);
  const ids = [...unique.keys()];
  const found = new Map<string, AttributeMap | undefined>();
  for (let i = 0; i < ids.length; i += 1000) {
    const slice = ids.slice(i, i + 1000);
    const items = await reader.getItems(slice.map((id) => unique.get(id)!));
    slice.forEach((id, j) => found.set(id, items[j]));
  }
  return found;
}
