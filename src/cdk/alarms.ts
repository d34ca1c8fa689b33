import { Duration } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, Metric, TreatMissingData, type IAlarmAction } from 'aws-cdk-lib/aws-cloudwatch';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';

export interface MigrationAlarmsProps {
  migrationName: string;
  streamHandler: IFunction;
  onFailureQueue: IQueue;
  stateMachine: StateMachine;
  iteratorAge: Duration;
  actions: IAlarmAction[];
}

/**
 * What an operator must hear about: a shard falling behind (a halted record blocks its shard, and records live 24 h),
 * handler crashes, batches Lambda gave up on (their metadata in the on-failure queue: the target is NOT in sync),
 * dead-lettered items, and a failed backfill.
 */
export class MigrationAlarms extends Construct {
  readonly iteratorAge: Alarm;
  readonly errors: Alarm;
  readonly onFailureQueue: Alarm;
  readonly deadLetters: Alarm;
  readonly backfillFailed: Alarm;

  constructor(scope: Construct, id: string, props: MigrationAlarmsProps) {
    super(scope, id);
    const any = {
      threshold: 0,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    };
    this.iteratorAge = new Alarm(this, 'IteratorAge', {
      metric: props.streamHandler.metric('IteratorAge', { statistic: 'Maximum', period: Duration.minutes(1) }),
      threshold: props.iteratorAge.toMilliseconds(),
      evaluationPeriods: 5,
      datapointsToAlarm: 3,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
      alarmDescription: `dynashift ${props.migrationName}: the stream catch-up is behind (a halted record blocks its shard?); stream records are kept 24 h`,
    });
    this.errors = new Alarm(this, 'HandlerErrors', {
      ...any,
      metric: props.streamHandler.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
      alarmDescription: `dynashift ${props.migrationName}: the stream handler failed; Lambda retries the batch`,
    });
    this.onFailureQueue = new Alarm(this, 'OnFailureMessages', {
      ...any,
      metric: props.onFailureQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
      alarmDescription: `dynashift ${props.migrationName}: Lambda skipped a batch after its retries; the target is NOT in sync — re-read the records named in the message within 24 h, or start over`,
    });
    this.deadLetters = new Alarm(this, 'DeadLetters', {
      ...any,
      metric: new Metric({
        namespace: 'Dynashift',
        metricName: 'DeadLetters',
        dimensionsMap: { migration: props.migrationName },
        statistic: 'Sum',
        period: Duration.minutes(5),
      }),
      alarmDescription: `dynashift ${props.migrationName}: items were dead-lettered (see the dlq# items in the state table)`,
    });
    this.backfillFailed = new Alarm(this, 'BackfillFailed', {
      ...any,
      metric: props.stateMachine.metricFailed({ period: Duration.minutes(5), statistic: 'Sum' }),
      alarmDescription: `dynashift ${props.migrationName}: the backfill state machine failed; fix the cause and start a new execution (it resumes)`,
    });
    for (const alarm of [this.iteratorAge, this.errors, this.onFailureQueue, this.deadLetters, this.backfillFailed]) {
      for (const action of props.actions) alarm.addAlarmAction(action);
    }
  }
}
