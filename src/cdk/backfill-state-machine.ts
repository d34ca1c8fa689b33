import { Duration } from 'aws-cdk-lib';
import type { EventSourceMapping, IFunction } from 'aws-cdk-lib/aws-lambda';
import {
  Chain,
  Choice,
  Condition,
  DefinitionBody,
  DistributedMap,
  Fail,
  JsonPath,
  Pass,
  S3JsonLItemReader,
  StateMachine,
  StateMachineType,
  Succeed,
  type IChainable,
  type INextable,
} from 'aws-cdk-lib/aws-stepfunctions';
import { CallAwsService, LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { strategyFor, type BackfillStrategyName } from '../engine/strategies/registry.js';

export interface BackfillStateMachineProps {
  prepare: IFunction;
  backfillSegment: IFunction;
  complete: IFunction;
  replaySpool: IFunction;
  /** The stream mappings the state machine enables: right after Prepare when `spool`, else after Complete. */
  mappings: EventSourceMapping[];
  /** stream.duringBackfill: the stream handler spools during the backfill, and the Replay loop follows Complete. */
  spool: boolean;
  strategy: BackfillStrategyName;
  concurrency: number;
}

/**
 * STATE_LOCKED: a previous attempt (timed out, its Lambda possibly still running) holds the migration lock until its
 * lease ends, or this attempt lost it after a stall and stopped before writing. Either way the step runs again later.
 */
const LOCKED_RETRY = {
  errors: ['MigrationLockedError'],
  interval: Duration.seconds(30),
  backoffRate: 1.5,
  maxDelay: Duration.minutes(2),
  maxAttempts: 10,
};

/**
 * Errors worth retrying a task on: a transient failure, or the invocation's runtime died (timeout, out of memory, a
 * crash: Step Functions reports `Lambda.Unknown` — some runtimes `Sandbox.Timedout` or `Runtime.ExitError`). A dead
 * copier still holds its segment's lease, so the retry meets SegmentLeasedError (retried on its own) until it ends.
 */
const TRANSIENT = [
  'Lambda.Unknown',
  'Runtime.ExitError',
  'Sandbox.Timedout',
  'ThrottlingException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'InternalServerError',
  'ServiceUnavailable',
  'TimeoutError',
];

/**
 * Prepare → Distributed Map over the segments (a STANDARD child per segment that loops backfillSegment until it says
 * done) → Complete, and the stream mappings enabled through the Lambda SDK integration:
 *
 * - with the spool (stream.duringBackfill, the default): right after Prepare, so the stream handler spools every change
 *   while the backfill runs; after Complete, the Replay task loops until the spool is live. No step depends on the
 *   stream's 24-hour retention, so the execution has no 20-hour timeout.
 * - without: only when Complete says every segment is done; otherwise the execution fails and the stream stays off.
 */
export class BackfillStateMachine extends Construct {
  readonly stateMachine: StateMachine;

  constructor(scope: Construct, id: string, props: BackfillStateMachineProps) {
    super(scope, id);
    const prepare = new LambdaInvoke(this, 'Prepare', {
      lambdaFunction: props.prepare,
      payloadResponseOnly: true,
      retryOnServiceExceptions: true,
      comment: 'inspect, create the targets, open the stream position and the spool, locate or take the export, write the initial state',
    });
    // export.start: one Prepare invocation waits a few minutes for the export, then fails with ExportInProgressError;
    // each retry finds the same export by its idempotency token (valid 8 h: 75 attempts of ≤ 6 min stay inside it).
    prepare.addRetry({ errors: ['ExportInProgressError'], interval: Duration.seconds(60), backoffRate: 1, maxAttempts: 75 });
    prepare.addRetry(LOCKED_RETRY);
    const complete = new LambdaInvoke(this, 'Complete', {
      lambdaFunction: props.complete,
      payloadResponseOnly: true,
      retryOnServiceExceptions: true,
      comment: 'mark the backfill complete once every segment is done',
    });
    complete.addRetry(LOCKED_RETRY);

    let chain: Chain = Chain.start(prepare);
    if (props.spool) {
      const enable = this.enableSteps(props.mappings);
      if (enable) chain = chain.next(enable);
    }
    const map = strategyFor(props.strategy).awsRunner?.map;
    if (map === 'segments') chain = chain.next(this.segmentsMap(props));
    if (map === 'files') {
      // Nothing to load when the export was already imported (backfill.export.imported): Prepare returns no manifest.
      const files = new Choice(this, 'ExportToLoad')
        .when(Condition.isPresent('$.exportFiles.bucket'), this.exportFilesMap(props))
        .otherwise(new Pass(this, 'NothingToLoad'));
      chain.next(files);
      chain = Chain.custom(chain.startState, files.afterwards().endStates, files.afterwards());
    }
    const afterComplete = props.spool ? this.replayLoop(props.replaySpool) : this.enableAndCatchUp(props.mappings);
    chain = chain.next(complete).next(
      new Choice(this, 'StreamMayStart').when(Condition.booleanEquals('$.enableStreamMapping', true), afterComplete).otherwise(
        new Fail(this, 'BackfillIncomplete', {
          error: 'BackfillIncomplete',
          cause: props.spool
            ? 'Complete found segments or export files that are not done; the stream handler keeps spooling'
            : 'Complete found segments or export files that are not done; the stream mapping stays disabled',
        }),
      ),
    );

    this.stateMachine = new StateMachine(this, 'Resource', {
      definitionBody: DefinitionBody.fromChainable(chain),
      // Without the spool, past 20 h the stream may no longer hold the changes made at the start (24 h retention):
      // Complete refuses then too. With it, nothing waits on the stream: Step Functions' own one-year limit applies.
      ...(props.spool ? {} : { timeout: Duration.hours(20) }),
      comment: props.spool
        ? 'dynashift backfill: enable the stream (spooled), parallel Scan segments, then replay the spool and catch up'
        : 'dynashift backfill: parallel Scan segments, then enable the stream catch-up',
    });
  }

  /** ReplaySpool until it says done (each invocation has a time budget and checkpoints by removing replayed keys). */
  private replayLoop(fn: IFunction): IChainable {
    const replay = new LambdaInvoke(this, 'ReplaySpool', {
      lambdaFunction: fn,
      payloadResponseOnly: true,
      retryOnServiceExceptions: true,
      comment: 're-read every spooled source key, write what it now produces, hand off, then go live',
    });
    replay.addRetry(LOCKED_RETRY);
    // Any other DynashiftError too (the replay re-reads and rewrites, so a retry is harmless).
    replay.addRetry({ errors: ['DynashiftError'], interval: Duration.seconds(30), backoffRate: 1.5, maxDelay: Duration.minutes(2), maxAttempts: 10 });
    replay.addRetry({ errors: TRANSIENT, interval: Duration.seconds(10), backoffRate: 2, maxAttempts: 10 });
    return replay.next(
      new Choice(this, 'SpoolReplayed').when(Condition.booleanEquals('$.done', true), new Succeed(this, 'CatchingUp')).otherwise(replay),
    );
  }

  private segmentsMap(props: BackfillStateMachineProps): DistributedMap {
    const copy = new LambdaInvoke(this, 'CopySegment', {
      lambdaFunction: props.backfillSegment,
      payloadResponseOnly: true,
      retryOnServiceExceptions: true,
      comment: 'copy pages of one segment until the time budget is used; checkpoints in the state table',
    });
    copy.addRetry({
      errors: ['SegmentLeasedError'],
      interval: Duration.seconds(30),
      backoffRate: 1.5,
      maxDelay: Duration.minutes(5),
      maxAttempts: 60,
    });
    copy.addRetry({ errors: TRANSIENT, interval: Duration.seconds(10), backoffRate: 2, maxAttempts: 10 });
    const loop = new Choice(this, 'SegmentDone').when(Condition.booleanEquals('$.done', true), new Succeed(this, 'SegmentCopied')).otherwise(copy);
    const map = new DistributedMap(this, 'BackfillSegments', {
      itemsPath: JsonPath.stringAt('$.segments'),
      maxConcurrency: props.concurrency,
      // STANDARD children: a segment's loop may run for hours (EXPRESS children stop at 5 minutes).
      mapExecutionType: StateMachineType.STANDARD,
      resultPath: JsonPath.DISCARD,
      toleratedFailurePercentage: 0,
      label: 'segments',
    });
    map.itemProcessor(Chain.start(copy).next(loop));
    return map;
  }

  /**
   * The export Map: its ItemReader reads the export's manifest-files.json (JSON Lines, one data file a line) from S3,
   * at the bucket and key Prepare returned; each child gets the manifest line as it is ({ itemCount, md5Checksum, etag,
   * dataFileS3Key }: the export backfill has one source, so no ItemSelector adds it) and loops backfillSegment (which
   * loads export files too) until the file is done.
   */
  private exportFilesMap(props: BackfillStateMachineProps): DistributedMap {
    const load = new LambdaInvoke(this, 'LoadExportFile', {
      lambdaFunction: props.backfillSegment,
      payloadResponseOnly: true,
      retryOnServiceExceptions: true,
      comment: 'load one data file of the export (MD5 and item count verified first); checkpoints by line in the state table',
    });
    load.addRetry({
      errors: ['SegmentLeasedError'],
      interval: Duration.seconds(30),
      backoffRate: 1.5,
      maxDelay: Duration.minutes(5),
      maxAttempts: 60,
    });
    load.addRetry({ errors: TRANSIENT, interval: Duration.seconds(10), backoffRate: 2, maxAttempts: 10 });
    const loop = new Choice(this, 'ExportFileDone')
      .when(Condition.booleanEquals('$.done', true), new Succeed(this, 'ExportFileLoaded'))
      .otherwise(load);
    const map = new DistributedMap(this, 'LoadExportFiles', {
      itemReader: new S3JsonLItemReader({
        bucketNamePath: JsonPath.stringAt('$.exportFiles.bucket'),
        key: JsonPath.stringAt('$.exportFiles.key'),
      }),
      maxConcurrency: props.concurrency,
      mapExecutionType: StateMachineType.STANDARD,
      resultPath: JsonPath.DISCARD,
      toleratedFailurePercentage: 0,
      label: 'exportfiles',
    });
    map.itemProcessor(Chain.start(load).next(loop));
    return map;
  }

  /** One SDK-integration step per mapping, in a chain; undefined without mappings. */
  private enableSteps(mappings: EventSourceMapping[]): Chain | undefined {
    const steps: (IChainable & INextable)[] = mappings.map(
      (m, i) =>
        new CallAwsService(this, `EnableStreamMapping${i}`, {
          service: 'lambda',
          action: 'updateEventSourceMapping',
          iamAction: 'lambda:UpdateEventSourceMapping',
          parameters: { Uuid: m.eventSourceMappingId, Enabled: true },
          iamResources: [m.eventSourceMappingArn],
          resultPath: JsonPath.DISCARD,
        }),
    );
    if (steps.length === 0) return undefined;
    let chain = Chain.start(steps[0]!);
    for (const s of steps.slice(1)) chain = chain.next(s);
    return chain;
  }

  private enableAndCatchUp(mappings: EventSourceMapping[]): IChainable {
    const enable = this.enableSteps(mappings);
    return enable ? enable.next(new Succeed(this, 'CatchingUp')) : new Succeed(this, 'NoMapping');
  }
}
