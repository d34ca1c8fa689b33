import type { ResolvedConfig } from '../config/resolved-config.js';
import type { MetricsClient } from '../aws/table-traffic.js';
import type { Refusal } from '../errors.js';
import { strategyFor } from './strategies/registry.js';

/** How the plan says the stream will be applied, and whether the applier can keep up. */
export interface StreamPlan {
  /** The stream is applied from the first second, while the backfill runs (stream.duringBackfill). */
  duringBackfill: boolean;
  /** Why it is applied only after the backfill, when it is. */
  afterBackfillReason?: string;
  /** The busiest minute of source writes over the last day, from CloudWatch; absent when unknown. */
  peakChangeUnitsPerSecond?: number;
  /** What the stream applier may spend on the targets (write.maxWriteUnitsPerSecond, provisioned WCU); absent: no cap. */
  applyBudgetUnitsPerSecond?: number;
  /** Why the change rate is unknown. */
  changeRateUnknown?: string;
}

export const CHANGE_RATE_WINDOW_MS = 24 * 3600_000;

/**
 * With the stream applied during the backfill, what bounds a migration is no longer the backfill's length but whether
 * the applier keeps up with the table's writes within the targets' write budget: if it can't, its lag grows until the
 * records it still needs are trimmed. The change rate comes from CloudWatch (ConsumedWriteCapacityUnits per minute);
 * without CloudWatch (DynamoDB Local, no permission) it is reported unknown rather than guessed.
 */
export async function planStream(
  config: ResolvedConfig,
  applyBudgetUnitsPerSecond: number | undefined,
  metricsFor: ((source: string) => MetricsClient | undefined) | undefined,
  now: number,
): Promise<{ stream: StreamPlan; refusals: Refusal[]; notes: string[] }> {
  const notes: string[] = [];
  const refusals: Refusal[] = [];
  const afterBackfillReason = !config.stream.duringBackfill
    ? 'stream.duringBackfill is false'
    : strategyFor(config.backfill.strategy).streamWaitsFor?.(config);
  const stream: StreamPlan = {
    duringBackfill: afterBackfillReason === undefined,
    ...(afterBackfillReason ? { afterBackfillReason } : {}),
    ...(applyBudgetUnitsPerSecond !== undefined ? { applyBudgetUnitsPerSecond } : {}),
  };

  let peak: number | undefined;
  const unknown: string[] = [];
  for (const [name, ref] of Object.entries(config.sources)) {
    const metrics = ref.endpoint ? undefined : metricsFor?.(name);
    if (!metrics) {
      unknown.push(ref.endpoint ? `${ref.table}: no CloudWatch for an endpoint` : `${ref.table}: no metrics client`);
      continue;
    }
    try {
      const points = await metrics.consumedCapacity(ref.table, new Date(now - CHANGE_RATE_WINDOW_MS), new Date(now));
      const busiest = points.reduce((m, p) => Math.max(m, p.writeUnits), 0) / 60;
      peak = (peak ?? 0) + busiest;
    } catch (err) {
      unknown.push(`${ref.table}: CloudWatch GetMetricData failed (${(err as Error).name})`);
    }
  }
  if (unknown.length > 0) stream.changeRateUnknown = unknown.join('; ');
  else if (peak !== undefined) stream.peakChangeUnitsPerSecond = peak;

  // Each change is applied to every target: the busiest minute times the number of targets must fit the budget.
  const needed = peak === undefined ? undefined : peak * Object.keys(config.targets).length;
  if (needed !== undefined && applyBudgetUnitsPerSecond !== undefined && needed > applyBudgetUnitsPerSecond) {
    refusals.push({
      code: 'STREAM_APPLY_TOO_SLOW',
      message: `the source's busiest minute of the last day wrote ${Math.round(needed)} units/s across the targets, but the targets take at most ${Math.round(applyBudgetUnitsPerSecond)} write units/s: the stream applier would fall behind until its records are trimmed (24 h)`,
      hint: "raise write.maxWriteUnitsPerSecond or the target's provisioned write capacity (or use on-demand), then plan again",
    });
  }
  if (stream.duringBackfill) {
    notes.push(
      "stream: applied from the first second, while the backfill runs — the backfill may take longer than the stream's 24-hour retention; what must hold is that the applier keeps up with the table's writes" +
        (needed !== undefined
          ? ` (busiest minute: ${Math.round(needed)} write units/s to apply${applyBudgetUnitsPerSecond !== undefined ? `, budget ${Math.round(applyBudgetUnitsPerSecond)}/s` : ', no write cap'})`
          : ` (change rate unknown: ${stream.changeRateUnknown ?? 'no source'})`),
    );
  } else {
    notes.push(
      `stream: applied after the backfill (${afterBackfillReason}), so the backfill and the catch-up must end within the stream's 24-hour retention`,
    );
  }
  return { stream, refusals, notes };
}
