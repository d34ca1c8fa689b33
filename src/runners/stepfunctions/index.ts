/**
 * Step Functions backfill task handlers. Bundle this module (with your config) as the code of the construct's task
 * functions; the default exports read the config from $DYNASHIFT_CONFIG and the state table from $DYNASHIFT_STATE_TABLE.
 */
import { createBackfillTasks } from './tasks.js';

export { createBackfillTasks, type BackfillTaskOptions, type BackfillTasks, type ReplayInput } from './tasks.js';
export type { CompleteOutput, PrepareOutput, ReplayOutput, SegmentInput, SegmentResult, SegmentTask } from './types.js';

const tasks = createBackfillTasks();
export const prepare = tasks.prepare;
export const backfillSegment = tasks.backfillSegment;
export const complete = tasks.complete;
export const replaySpool = tasks.replaySpool;
