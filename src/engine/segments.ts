/** DynamoDB's own limit on a parallel Scan's TotalSegments. */
export const MAX_SCAN_SEGMENTS = 1_000_000;

/**
 * The scan segments a table can use: each should hold at least one full page (`pageSize` items), and DynamoDB allows
 * at most 1,000,000. More segments only add empty Scan calls and a checkpoint each in state.json (1,000,000 of them
 * on a 504-item table made an 85 MB state file). `items` is DynamoDB's count (refreshed about every 6 h) or what a
 * sample saw, whichever is larger.
 */
export function usableSegments(configured: number, items: number, pageSize: number): { segments: number; capped?: string } {
  const byItems = Math.max(1, Math.ceil(items / Math.max(1, pageSize)));
  const segments = Math.min(configured, byItems, MAX_SCAN_SEGMENTS);
  if (segments === configured) return { segments };
  return {
    segments,
    capped:
      segments === MAX_SCAN_SEGMENTS
        ? `backfill.segments ${configured.toLocaleString('en-US')} capped at DynamoDB's limit of ${MAX_SCAN_SEGMENTS.toLocaleString('en-US')}`
        : `backfill.segments ${configured.toLocaleString('en-US')} capped at ${segments.toLocaleString('en-US')}: the table holds ~${items.toLocaleString('en-US')} items, and a segment gets at least one page (backfill.pageSize ${pageSize}); more would only add empty scans`,
  };
}
