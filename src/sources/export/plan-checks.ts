import { SNAPSHOT_MARGIN_MS, STREAM_RETENTION_MS } from '../../core/constants.js';
import type { Refusal } from '../../errors.js';

/** The snapshot margin the engine uses for skipBefore (docs/consistency.md, A3); exports are fuzzy by ≤ 1 min too. */
export const EXPORT_MARGIN_MS = SNAPSHOT_MARGIN_MS;

export interface ExportStreamCheck {
  /** The export's exportTime (epoch ms). */
  exportTime: number;
  /** The table's LatestStreamLabel (the stream's creation time), or undefined when the table has no stream. */
  streamLabel: string | undefined;
  now: number;
  /** How long plan estimates the backfill from the export will take. */
  estimatedBackfillMs: number;
  marginMs?: number;
  retentionMs?: number;
}

/**
 * A backfill from an export is followed by the stream from `exportTime − margin` on. That is only complete if
 * (1) the stream already existed then — writes made before a stream is enabled are never captured — and
 * (2) those records are still in the stream when the catch-up reaches them, after the backfill (24 h retention).
 */
export function exportStreamRefusals(c: ExportStreamCheck): Refusal[] {
  const margin = c.marginMs ?? EXPORT_MARGIN_MS;
  const retention = c.retentionMs ?? STREAM_RETENTION_MS;
  const from = c.exportTime - margin;
  const refusals: Refusal[] = [];
  if (c.streamLabel === undefined) {
    refusals.push({
      code: 'STREAM_DISABLED',
      message: 'the source has no stream to continue from the export',
      hint: 'enable a NEW_AND_OLD_IMAGES stream, then take a new export',
    });
    return refusals;
  }
  const enabledAt = streamLabelTime(c.streamLabel);
  // The replay starts at exportTime − margin (an AWS export is fuzzy by up to a minute), so the stream must be older
  // than that, not merely older than the export.
  if (enabledAt === undefined || enabledAt > from) {
    refusals.push({
      code: 'STREAM_NEWER_THAN_EXPORT',
      message: `the stream was enabled at ${c.streamLabel} UTC, after ${iso(from)} (the export time ${iso(c.exportTime)} minus the ${fmtMargin(margin)} margin) from which the stream must be replayed: changes in between are in neither`,
      hint: `use an export whose time is at least ${fmtMargin(margin)} after the stream was enabled (backfill.export.uri, or backfill.export.start for a new one), or backfill.strategy "scan"`,
    });
  }
  const trimmedAt = from + retention;
  const catchUpAt = c.now + c.estimatedBackfillMs + margin;
  if (catchUpAt >= trimmedAt) {
    refusals.push({
      code: 'BACKFILL_EXCEEDS_RETENTION',
      message: `stream records from ${iso(from)} are trimmed at ${iso(trimmedAt)}, but the backfill from the export is estimated to end at ${iso(catchUpAt - margin)}`,
      hint: 'take a fresh export (ExportTableToPointInTime) shortly before running, or use the scan backfill',
    });
  }
  return refusals;
}

/** A stream ARN ends in its label: `arn:aws:dynamodb:…:table/T/stream/2020-11-04T07:28:34.028` (TableInfo.stream.arn). */
export function streamLabelFromArn(streamArn: string | undefined): string | undefined {
  const at = streamArn?.lastIndexOf('/stream/') ?? -1;
  return at >= 0 ? streamArn!.slice(at + '/stream/'.length) : undefined;
}

/** LatestStreamLabel is an ISO timestamp in UTC without a zone ("2020-11-04T07:28:34.028"). */
export function streamLabelTime(label: string): number | undefined {
  const t = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(label) ? label : `${label}Z`);
  return Number.isNaN(t) ? undefined : t;
}

function fmtMargin(ms: number): string {
  return ms >= 60_000 ? `${ms / 60_000}-minute` : `${ms / 1000}-second`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
