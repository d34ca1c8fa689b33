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
  StateMachine,
  StateMachineType,
  Succeed,
  type IChainable,
  type INextable,
} from 'aws-cdk-lib/aws-stepfunctions';
import { CallAwsService, LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { strategyFor } from '../engine/strategies/registry.js';

export interface BackfillStateMachineProps {
  prepare: IFunction;
  backfillSegment: IFunction;
  complete: IFunction;
  /** The stream mappings the last step enables. */
  mappings: EventSourceMapping[];
  strategy: 'scan' | 'none';
  concurrency: number;
}

/** Errors worth retrying a segment on: its lease is held by a previous attempt still running, or a transient failure. */
const TRANSIENT = [
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
 * done) → Complete → enable each stream mapping through the Lambda SDK integration. The mappings are enabled only when
 * Complete says every segment is done; otherwise the execution fails and the stream stays off.
 */
export class BackfillStateMachine extends Construct {
  readonly stateMachine: StateMachine;

  constructor(scope: Construct, id: string, props: BackfillStateMachineProps) {
    super(scope, id);
    const prepare = new LambdaInvoke(this, 'Prepare', {
      lambdaFunction: props.prepare,
      payloadResponseOnly: true,
      retryOnServiceExceptions: true,
      comment: 'inspect, create the targets, open the stream position, write the initial state and one item per segment',
    });
    const complete = new LambdaInvoke(this, 'Complete', {
      lambdaFunction: props.complete,
      payloadResponseOnly: true,
      retryOnServiceExceptions: true,
      comment: 'mark the backfill complete once every segment is done',
    });

    let chain: Chain = Chain.start(prepare);
    if (strategyFor(props.strategy).awsRunner?.segmented) chain = chain.next(this.segmentsMap(props));
    chain = chain
      .next(complete)
      .next(
        new Choice(this, 'StreamMayStart')
          .when(Condition.booleanEquals('$.enableStreamMapping', true), this.enableMappings(props.mappings))
          .otherwise(
            new Fail(this, 'BackfillIncomplete', {
              error: 'BackfillIncomplete',
              cause: 'Complete found segments that are not done; the stream mapping stays disabled',
            }),
          ),
      );

    this.stateMachine = new StateMachine(this, 'Resource', {
      definitionBody: DefinitionBody.fromChainable(chain),
      // Past 20 h the stream may no longer hold the changes made at the start (24 h retention): Complete refuses then too.
      timeout: Duration.hours(20),
      comment: 'dynashift backfill: parallel Scan segments, then enable the stream catch-up',
    });
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

  private enableMappings(mappings: EventSourceMapping[]): IChainable {
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
    let chain = Chain.start(steps[0] ?? new Succeed(this, 'NoMapping'));
    for (const s of steps.slice(1)) chain = chain.next(s);
    return steps.length > 0 ? chain.next(new Succeed(this, 'CatchingUp')) : chain;
  }
}
