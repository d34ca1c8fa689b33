/**
 * The Lambda event shapes the runners accept, declared here so the core needs no @types/aws-lambda. They match what
 * Lambda sends (LAM/with-ddb.html): AttributeValues are plain JSON (binary as base64 strings) and
 * ApproximateCreationDateTime is epoch seconds.
 */

/** An AttributeValue as JSON: `{ "S": "x" }`, `{ "N": "1.5" }`, `{ "B": "<base64>" }`, `{ "M": {…} }`, … */
export type JsonAttributeValue = Record<string, unknown>;
export type JsonAttributeMap = Record<string, JsonAttributeValue>;

export interface DynamoDBStreamRecord {
  eventID?: string;
  eventName?: 'INSERT' | 'MODIFY' | 'REMOVE' | (string & {});
  eventVersion?: string;
  eventSource?: string;
  awsRegion?: string;
  eventSourceARN?: string;
  /** TTL deletions: `{ type: "Service", principalId: "dynamodb.amazonaws.com" }`. */
  userIdentity?: { type?: string; principalId?: string; Type?: string; PrincipalId?: string };
  dynamodb?: {
    ApproximateCreationDateTime?: number;
    Keys?: JsonAttributeMap;
    NewImage?: JsonAttributeMap;
    OldImage?: JsonAttributeMap;
    SequenceNumber?: string;
    SizeBytes?: number;
    StreamViewType?: string;
  };
}

export interface DynamoDBStreamEvent {
  Records: DynamoDBStreamRecord[];
}

/** ReportBatchItemFailures: Lambda checkpoints before the lowest itemIdentifier and retries from it. */
export interface DynamoDBBatchResponse {
  batchItemFailures: { itemIdentifier: string }[];
}

/** The part of the Lambda context the runners use; tests pass nothing. */
export interface LambdaContext {
  awsRequestId?: string;
  functionName?: string;
  getRemainingTimeInMillis?(): number;
}
