/**
 * Changes older than the snapshot start by more than this are already in what a consistent Scan reads (or an export
 * holds). The margin covers ApproximateCreationDateTime's rounding (a second on AWS, a minute on DynamoDB Local), an
 * export's one-minute fuzziness, and clock skew. Shared by every runner (docs/consistency.md).
 */
export const SNAPSHOT_MARGIN_MS = 5 * 60_000;
