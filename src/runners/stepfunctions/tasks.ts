import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { randomUUID } from 'node:crypto';
import { clientsFor } from '../../aws/clients.js';
import { roleFor } from '../../aws/errors.js';
import type { ResolvedConfig } from '../../config/resolved-config.js';
import { DynashiftError } from '../../errors.js';
import { strategyFor } from '../../engine/strategies/registry.js';
import type { Sink } from '../../sinks/sink.js';
import { EmfMetrics, jsonLogger, type JsonLogger } from '../lambda/observability.js';
import { configLoader, loadRuntime, mapperFor, openSinks, stateStoreFor, type RunnerOptions } from '../lambda/runtime.js';
import type { LambdaContext } from '../lambda/types.js';
import { copySegment } from './backfill-segment.js';
import { loadExportFile } from './export-file.js';
import { touchSegment } from './touch-segment.js';
import { completeBackfill } from './complete.js';
import { prepareMigration, type PrepareOptions } from './prepare.js';
import { replaySpool } from './replay.js';
import type { CompleteOutput, ExportFileInput, ExportFileResult, PrepareOutput, ReplayOutput, SegmentInput, SegmentResult } from './types.js';

export interface BackfillTaskOptions extends RunnerOptions {
  /**
   * How long one backfillSegment invocation may spend starting pages (default 12 min, or $DYNASHIFT_TIME_BUDGET_MS).
   * The state machine loops until the segment is done, so this only trades invocations for Lambda's 15-minute limit.
   */
  timeBudgetMs?: number;
  /** Time kept back from the Lambda's remaining time for the last page and the checkpoint (default 60 s). */
  reserveMs?: number;
  /** Prepare's handling of an `export.start` export (how long one invocation waits; a stub export API in tests). */
  prepare?: PrepareOptions;
}

export interface BackfillTasks {
  prepare(input?: unknown, context?: LambdaContext): Promise<PrepareOutput>;
  /** One Map child's step: a scan segment copied, a scan segment touched (strategy touch), or an export data file loaded. */
  backfillSegment(input: SegmentInput, context?: LambdaContext): Promise<SegmentResult>;
  backfillSegment(input: ExportFileInput, context?: LambdaContext): Promise<ExportFileResult>;
  backfillSegment(input: SegmentInput | ExportFileInput, context?: LambdaContext): Promise<SegmentResult | ExportFileResult>;
  complete(input?: unknown, context?: LambdaContext): Promise<CompleteOutput>;
  replaySpool(input?: ReplayInput, context?: LambdaContext): Promise<ReplayOutput>;
}

/** The replaySpool task's input: the previous output when looping (its `sources`), plus test overrides. */
export interface ReplayInput {
  sources?: ReplayOutput['sources'];
  timeBudgetMs?: number;
  handoffBelow?: number;
}

/**
 * The Step Functions backfill's Lambda task handlers: `prepare` → Distributed Map of `backfillSegment` loops →
 * `complete` → (when the stream was spooled during the backfill) `replaySpool` loops. Each opens what it needs once per container (config, sinks, source clients) and logs and meters like the
 * stream handler.
 *
 * @example
 * export const { prepare, backfillSegment, complete, replaySpool } = createBackfillTasks();
 */
export function createBackfillTasks(opts: BackfillTaskOptions = {}): BackfillTasks {
  const loadConfig = configLoader(opts);
  let opened: { preparedAt: string; sinks: Record<string, Sink>; sourceClients: Record<string, DynamoDBClient> } | undefined;
  let replaying: { sinks: Record<string, Sink>; sourceClients: Record<string, DynamoDBClient> } | undefined;
  const logFor = (config: ResolvedConfig, task: string, context?: LambdaContext): JsonLogger =>
    jsonLogger({
      fields: { migration: config.name, task, ...(context?.awsRequestId ? { function_request_id: context.awsRequestId } : {}) },
      ...(opts.write ? { write: opts.write } : {}),
    });
  const metricsFor = (config: ResolvedConfig): EmfMetrics =>
    new EmfMetrics({ dimensions: { migration: config.name }, ...(opts.write ? { write: opts.write } : {}) });

  return {
    async prepare(_input, context) {
      const config = await loadConfig();
      const waitMs = context?.getRemainingTimeInMillis ? Math.max(0, Math.min(5 * 60_000, context.getRemainingTimeInMillis() - 120_000)) : undefined;
      return prepareMigration(config, stateStoreFor(opts, config), logFor(config, 'prepare', context), {
        ...(waitMs !== undefined ? { exportWaitMs: waitMs } : {}),
        ...opts.prepare,
      });
    },

    // The overloads only narrow the result by the input's kind; one implementation serves both.
    backfillSegment: (async (input: SegmentInput | ExportFileInput, context?: LambdaContext): Promise<SegmentResult | ExportFileResult> => {
      const config = await loadConfig();
      const log = logFor(config, 'backfillSegment', context);
      const store = stateStoreFor(opts, config, context?.awsRequestId ?? randomUUID());
      const runtime = await loadRuntime(store, config);
      if (!runtime) {
        throw new DynashiftError('NOT_RUNNING', `migration ${config.name} is not prepared`, { hint: 'run the state machine from its Prepare step' });
      }
      // Reopened only when a new Prepare ran (its runtime facts, e.g. the write budget, may differ).
      if (!opened || opened.preparedAt !== runtime.preparedAt) {
        opened = {
          preparedAt: runtime.preparedAt,
          sinks: await openSinks(config, runtime, opts, { maxWriteUnitsPerSecond: runtime.segmentWriteUnitsPerSecond }),
          sourceClients: Object.fromEntries(
            Object.entries(config.sources).map(([n, ref]) => [n, clientsFor(ref, roleFor('source', n, ref)).dynamodb]),
          ),
        };
      }
      const metrics = metricsFor(config);
      try {
        const ctx = {
          config,
          store,
          runtime,
          mapper: mapperFor(config, runtime),
          sinks: opened.sinks,
          sourceClient: opened.sourceClients[input.source ?? Object.keys(config.sources)[0]!]!,
          log,
        };
        const timing = {
          timeBudgetMs: input.timeBudgetMs ?? opts.timeBudgetMs ?? Number(process.env.DYNASHIFT_TIME_BUDGET_MS ?? 12 * 60_000),
          reserveMs: opts.reserveMs ?? 60_000,
          ...(context?.getRemainingTimeInMillis ? { remainingMs: context.getRemainingTimeInMillis() } : {}),
        };
        // One function serves every Map: the item says which (an export file has its manifest key), the strategy how.
        const touches = strategyFor(config.backfill.strategy).awsRunner?.segmentWork === 'touch';
        const result =
          'dataFileS3Key' in input
            ? await loadExportFile(ctx, input, timing)
            : touches
              ? await touchSegment(ctx, input, timing)
              : await copySegment(ctx, input, timing);
        metrics.add(touches ? 'ItemsTouched' : 'ItemsCopied', 'Count', result.copied);
        metrics.add('PagesCopied', 'Count', result.pages);
        metrics.add('DeadLetters', 'Count', result.deadLettered);
        if (result.done) metrics.add('dataFileS3Key' in input ? 'FilesDone' : 'SegmentsDone', 'Count', 1);
        return result;
      } finally {
        metrics.flush();
      }
    }) as BackfillTasks['backfillSegment'],

    async complete(_input, context) {
      const config = await loadConfig();
      return completeBackfill(config, stateStoreFor(opts, config), logFor(config, 'complete', context));
    },

    async replaySpool(input, context) {
      const config = await loadConfig();
      const log = logFor(config, 'replaySpool', context);
      const store = stateStoreFor(opts, config, context?.awsRequestId ?? randomUUID());
      const runtime = await loadRuntime(store, config);
      if (!runtime) {
        throw new DynashiftError('NOT_RUNNING', `migration ${config.name} is not prepared`, {
          side: 'state',
          hint: 'run the state machine from its Prepare step',
        });
      }
      replaying ??= {
        sinks: await openSinks(config, runtime, opts),
        sourceClients: Object.fromEntries(Object.entries(config.sources).map(([n, ref]) => [n, clientsFor(ref, roleFor('source', n, ref)).dynamodb])),
      };
      const remainingMs = context?.getRemainingTimeInMillis?.();
      const budget = input?.timeBudgetMs ?? opts.timeBudgetMs ?? Number(process.env.DYNASHIFT_TIME_BUDGET_MS ?? 12 * 60_000);
      const metrics = metricsFor(config);
      try {
        const out = await replaySpool(
          { config, store, runtime, mapper: mapperFor(config, runtime), sinks: replaying.sinks, sourceClients: replaying.sourceClients, log },
          {
            timeBudgetMs: remainingMs !== undefined ? Math.min(budget, Math.max(0, remainingMs - (opts.reserveMs ?? 60_000))) : budget,
            handoffBelow: input?.handoffBelow ?? Number(process.env.DYNASHIFT_HANDOFF_BELOW ?? 1000),
            ...(input?.sources ? { previous: input.sources } : {}),
          },
        );
        metrics.add('KeysReplayed', 'Count', out.replayed);
        metrics.add('DeadLetters', 'Count', out.deadLettered);
        return out;
      } finally {
        metrics.flush();
      }
    },
  };
}
