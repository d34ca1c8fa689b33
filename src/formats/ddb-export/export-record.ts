import type { AttributeMap } from '../../core/item.js';

/** The two data formats DynamoDB exports write (dynamodb-semantics §4). */
export type ExportFormat = 'DYNAMODB_JSON' | 'ION';

/**
 * What a line holds: `Item` for a full export; `Keys`, `NewImage`, `OldImage` and the write time for an incremental
 * export (no NewImage = the item was deleted).
 */
export interface ExportRecord {
  Item?: AttributeMap;
  Keys?: AttributeMap;
  NewImage?: AttributeMap;
  OldImage?: AttributeMap;
  /** Metadata.WriteTimestampMicros as an exact decimal string. */
  writeTimestampMicros?: string;
}

/** 'item': full-export lines, each must carry an Item. 'change': incremental-export lines, each must carry Keys. */
export type DecodeMode = 'item' | 'change';

export function dataFileExtension(format: ExportFormat): string {
  return format === 'ION' ? '.ion.gz' : '.json.gz';
}
