/** A bucket (both sides' spill lines for its keys) should stay about this big, so one fits in memory easily. */
export const TARGET_BUCKET_BYTES = 32 * 1024 * 1024;
export const MAX_BUCKETS = 4096;

/**
 * Spill lines are DynamoDB JSON with a header: about 2.5× an item's DynamoDB size. Both sides are spilled, and a split
 * may write several target items per source item, so the estimate takes the larger of the two sides twice.
 */
const SPILL_OVERHEAD = 2.5;

export function chooseBucketCount(sourceBytes: number, targetBytes: number, bucketBytes = TARGET_BUCKET_BYTES): number {
  const spill = 2 * Math.max(sourceBytes, targetBytes, 0) * SPILL_OVERHEAD;
  return Math.min(MAX_BUCKETS, Math.max(1, Math.ceil(spill / bucketBytes)));
}
