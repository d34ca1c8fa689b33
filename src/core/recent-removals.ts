import type { ChangeRecord } from './change.js';
import { isDeletion } from './change.js';
import type { AttributeMap } from './item.js';
import { keyId } from './item.js';

/** How many keys a stream applier remembers by default; forgetting one only turns a pass-over back into a halt. */
export const RECENT_REMOVALS_CAPACITY = 4096;

/**
 * The source keys whose latest record in a shard was a deletion, as a stream applier has seen them in order. It exists
 * for one pattern: DynamoDB Local (3.x) writes a second REMOVE without an old image when two requests delete the same
 * key at once (an SDK retry of a DeleteItem whose first attempt is still in flight is enough). On DynamoDB, deleting an
 * absent item writes no record, so a REMOVE that directly follows a REMOVE of the same key in the same shard describes
 * no change: the first one already deleted every target key of its old image, and nothing has written the item since.
 *
 * Bounded: beyond `capacity` keys the least recently seen is forgotten. Forgetting is safe in one direction only —
 * the record is then treated as incomplete and halts, as without this memory.
 */
export class RecentRemovals {
  private readonly removed = new Set<string>();

  constructor(readonly capacity = RECENT_REMOVALS_CAPACITY) {}

  /**
   * Notes a record, in stream order (a deletion marks its key, any other record of the key clears it), and says whether
   * the previous record of this key in this shard was a deletion, with nothing of that key between. One key id per
   * record; with nothing remembered, a record that is not a deletion costs nothing.
   */
  observe(shardId: string, record: ChangeRecord): boolean {
    const deletion = isDeletion(record);
    if (!deletion && this.removed.size === 0) return false;
    const id = removalId(shardId, record.keys);
    if (id === undefined) return false;
    const followsRemoval = this.removed.delete(id);
    if (!deletion) return followsRemoval;
    this.removed.add(id); // re-inserted: a Set iterates in insertion order, so the first entry is the least recent
    if (this.removed.size > this.capacity) this.removed.delete(this.removed.values().next().value!);
    return followsRemoval;
  }

  /** An independent copy: a caller that maps the same records again (a shorter prefix) starts from the same memory. */
  clone(): RecentRemovals {
    const copy = new RecentRemovals(this.capacity);
    for (const id of this.removed) copy.removed.add(id);
    return copy;
  }

  get size(): number {
    return this.removed.size;
  }
}

/** Shard + key, with numbers by value (keyId); the record carries no schema, so the attribute names are sorted. */
function removalId(shardId: string, keys: AttributeMap): string | undefined {
  const [pk, sk, more] = Object.keys(keys).sort();
  if (pk === undefined || more !== undefined) return undefined;
  try {
    // keyId reads each value's own type; the schema's types are not consulted.
    return `${shardId}\u0000${keyId(keys, { partitionKey: { name: pk, type: 'S' }, ...(sk !== undefined ? { sortKey: { name: sk, type: 'S' } } : {}) })}`;
  } catch {
    return undefined; // not a key DynamoDB could have sent: never passed over
  }
}
