/**
 * The Lambda stream handler. Bundle this module (with your config) as the code of the construct's stream function; the
 * default `streamHandler` reads the config from $DYNASHIFT_CONFIG and the state table from $DYNASHIFT_STATE_TABLE.
 */
import { createStreamHandler } from './stream-handler.js';

export { createStreamHandler, type StreamHandler, type StreamHandlerOptions } from './stream-handler.js';
export { applyBatchInOrder, type BatchOutcome } from './batch-apply.js';
export { lambdaToChangeRecord } from './event-records.js';
export { EmfMetrics, jsonLogger } from './observability.js';
export { configFromEnvironment, type RunnerOptions } from './runtime.js';
export type { DynamoDBBatchResponse, DynamoDBStreamEvent, DynamoDBStreamRecord, LambdaContext } from './types.js';
export { DynamoDbStateStore, SegmentLeasedError, createStateTable } from '../../state/dynamodb-state-store.js';

export const streamHandler = createStreamHandler();
