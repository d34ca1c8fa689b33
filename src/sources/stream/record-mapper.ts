import type { _Record } from '@aws-sdk/client-dynamodb-streams';
import type { ChangeRecord } from '../../core/change.js';
import type { AttributeMap } from '../../core/item.js';
import { DynashiftError } from '../../errors.js';

/** The identity DynamoDB puts on deletions made by its TTL process. */
const TTL_PRINCIPAL = 'dynamodb.amazonaws.com';

/**
 * Converts one DynamoDB Streams record to the source-independent `ChangeRecord`.
 *
 * The streams client has its own AttributeValue type; it is the same wire shape as the DynamoDB client's, so the
 * images are cast rather than copied (copying would cost time on the hot path and could lose exotic members).
 */
export function toChangeRecord(record: _Record): ChangeRecord {
  const data = record.dynamodb;
  const sequenceNumber = data?.SequenceNumber;
  // Without a sequence number the record can't be checkpointed, and without keys it can't be applied: refusing is the
  // only way not to drop it silently.
  if (!sequenceNumber) {
    throw new DynashiftError('AWS_ERROR', 'A DynamoDB stream record has no SequenceNumber.', {
      details: { eventID: record.eventID },
    });
  }
  if (!data.Keys) {
    throw new DynashiftError('AWS_ERROR', `DynamoDB stream record ${sequenceNumber} has no Keys.`, {
      details: { sequenceNumber, eventID: record.eventID },
    });
  }

  const change: ChangeRecord = {
    sequenceNumber,
    // The SDK passes unknown names through at runtime (DynamoDB Local's TTL deletes say UNKNOWN_TO_SDK_VERSION); keep
    // them so the applier can decide by the images instead.
    eventName: (record.eventName as string | undefined) ?? 'UNKNOWN',
    keys: data.Keys as unknown as AttributeMap,
  };
  if (data.NewImage) change.newImage = data.NewImage as unknown as AttributeMap;
  if (data.OldImage) change.oldImage = data.OldImage as unknown as AttributeMap;
  const createdAt = toEpochMs(data.ApproximateCreationDateTime);
  if (createdAt !== undefined) change.createdAt = createdAt;
  if (isTtlDelete(record)) change.ttlDelete = true;
  return change;
}

export function isTtlDelete(record: _Record): boolean {
  return record.userIdentity?.Type === 'Service' && record.userIdentity.PrincipalId === TTL_PRINCIPAL;
}

function toEpochMs(value: Date | number | string | undefined): number | undefined {
  if (value === undefined) return undefined;
  // The SDK deserializes to a Date; tolerate epoch seconds (the wire format) in case a caller passes raw JSON.
  const ms = value instanceof Date ? value.getTime() : typeof value === 'number' ? value * 1000 : Date.parse(value);
  return Number.isFinite(ms) ? ms : undefined;
}
