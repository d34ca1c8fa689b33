export { runVerify, DEFAULT_RECHECK_DELAY_MS, DEFAULT_RECHECK_ROUNDS, DEFAULT_REPORT_LIMIT } from './run-verify.js';
export { chooseBucketCount, MAX_BUCKETS, TARGET_BUCKET_BYTES } from './bucket-count.js';
export { unchangedSince, type WriteCondition } from './condition.js';
export type {
  DifferenceKind,
  DifferingFinding,
  Finding,
  TransformErrorFinding,
  VerifyCounts,
  VerifyHooks,
  VerifyOptions,
  VerifyResult,
} from './types.js';
