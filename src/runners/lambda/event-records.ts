import type { _Record, AttributeValue } from '@aws-sdk/client-dynamodb-streams';
import type { ChangeRecord } from '../../core/change.js';
import { toChangeRecord } from '../../sources/stream/record-mapper.js';
import type { DynamoDBStreamRecord, JsonAttributeMap, JsonAttributeValue } from './types.js';

/**
 * A Lambda stream record → the same `ChangeRecord` the CLI's stream reader produces, through the same
 * `toChangeRecord()`: the Lambda shape differs only in plain-JSON binary values (base64), epoch-second timestamps
 * (toChangeRecord already reads numbers as seconds) and the casing of userIdentity.
 */
export function lambdaToChangeRecord(record: DynamoDBStreamRecord): ChangeRecord {
  return toChangeRecord(toSdkRecord(record));
}

export function toSdkRecord(record: DynamoDBStreamRecord): _Record {
  const d = record.dynamodb ?? {};
  const identityType = record.userIdentity?.type ?? record.userIdentity?.Type;
  const principal = record.userIdentity?.principalId ?? record.userIdentity?.PrincipalId;
  return {
    ...(record.eventID ? { eventID: record.eventID } : {}),
    ...(record.eventName ? { eventName: record.eventName as _Record['eventName'] } : {}),
    ...(record.eventVersion ? { eventVersion: record.eventVersion } : {}),
    ...(record.eventSource ? { eventSource: record.eventSource } : {}),
    ...(record.awsRegion ? { awsRegion: record.awsRegion } : {}),
    ...(identityType || principal
      ? { userIdentity: { ...(identityType ? { Type: identityType } : {}), ...(principal ? { PrincipalId: principal } : {}) } }
      : {}),
    dynamodb: {
      ...(d.Keys ? { Keys: decodeMap(d.Keys) } : {}),
      ...(d.NewImage ? { NewImage: decodeMap(d.NewImage) } : {}),
      ...(d.OldImage ? { OldImage: decodeMap(d.OldImage) } : {}),
      ...(d.SequenceNumber ? { SequenceNumber: d.SequenceNumber } : {}),
      ...(d.SizeBytes !== undefined ? { SizeBytes: d.SizeBytes } : {}),
      ...(d.StreamViewType ? { StreamViewType: d.StreamViewType as 'NEW_AND_OLD_IMAGES' } : {}),
      // toChangeRecord reads a number as epoch seconds, which is what Lambda sends.
      ...(d.ApproximateCreationDateTime !== undefined ? { ApproximateCreationDateTime: d.ApproximateCreationDateTime as unknown as Date } : {}),
    },
  };
}

function decodeMap(map: JsonAttributeMap): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const [name, value] of Object.entries(map)) out[name] = decodeValue(value);
  return out;
}

/** Binary arrives as base64 text in JSON; the SDK shape (and every sink) wants bytes. Everything else is as is. */
function decodeValue(v: JsonAttributeValue): AttributeValue {
  if (typeof v.B === 'string') return { B: Buffer.from(v.B, 'base64') };
  if (Array.isArray(v.BS)) return { BS: (v.BS as unknown[]).map((b) => (typeof b === 'string' ? Buffer.from(b, 'base64') : (b as Uint8Array))) };
  if (v.M && typeof v.M === 'object') return { M: decodeMap(v.M as JsonAttributeMap) };
  if (Array.isArray(v.L)) return { L: (v.L as JsonAttributeValue[]).map(decodeValue) };
  return v as unknown as AttributeValue;
}
