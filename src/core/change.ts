import type { AttributeMap } from './item.js';

/**
 * One change from a change source (a DynamoDB stream record, an incremental-export line, a Lambda event record),
 * normalized so that the apply code is the same whichever runner or source produced it.
 */
export interface ChangeRecord {
  /** Position inside its shard; compare only within one shard chain, as BigInt. */
  sequenceNumber: string;
  /** 'INSERT' | 'MODIFY' | 'REMOVE', or what the source said when it is something else (Local's TTL deletes). */
  eventName: string;
  keys: AttributeMap;
  newImage?: AttributeMap;
  oldImage?: AttributeMap;
  /** ApproximateCreationDateTime in epoch milliseconds (rounded down to the second by AWS, the minute by Local). */
  createdAt?: number;
  /** True for deletions made by DynamoDB's TTL process. */
  ttlDelete?: boolean;
}

/**
 * What a record means for the item. A record without a new image is a deletion whatever its event name says
 * (DynamoDB Local reports TTL deletions with an unknown event name and an old image only). Only valid for streams whose
 * view type carries new images — the planner refuses the others.
 */
export function isDeletion(record: ChangeRecord): boolean {
  return record.newImage === undefined;
}

/** A batch of records read from one shard, in order. */
export interface ChangePage {
  source: string;
  shardId: string;
  records: ChangeRecord[];
}
