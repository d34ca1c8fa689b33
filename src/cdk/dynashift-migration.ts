import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { EventSourceMapping, Function as LambdaFunction, Runtime, StartingPosition } from 'aws-cdk-lib/aws-lambda';
import { SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { AwsCustomResource, AwsCustomResourcePolicy, PhysicalResourceId } from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { MigrationAlarms } from './alarms.js';
import { BackfillStateMachine } from './backfill-state-machine.js';
import { ACTIONS, grantAssumeRole, grantExportRead, grantSecretRead, grantTable, tableArn } from './permissions.js';
import type { DynashiftMigrationProps, DynashiftSourceProps } from './props.js';
import { strategyFor } from '../engine/strategies/registry.js';

export type { DynashiftMigrationProps, DynashiftSourceProps, DynashiftTableProps, DynashiftTargetProps } from './props.js';

/**
 * A dynashift migration on AWS: a Step Functions backfill (Prepare → enable the stream mapping → Distributed Map of
 * segment loops → Complete → Replay of the keys the stream spooled meanwhile), a Lambda on the source stream, a DynamoDB state table, an SQS on-failure
 * queue and CloudWatch alarms — with every DynamoDB permission limited to the named tables and streams.
 *
 * @example
 * new DynashiftMigration(stack, 'Orders', {
 *   migrationName: 'orders-to-orders-by-customer',
 *   sources: { source: { tableName: 'Orders' } },
 *   targets: { target: { tableName: 'OrdersByCustomer' } },
 *   code: lambda.Code.fromAsset('dist-lambda'),
 *   backfill: { concurrency: 8 },
 * });
 */
export class DynashiftMigration extends Construct {
  readonly stateTable: Table;
  /** Receives the metadata (shard, sequence range) of batches Lambda skipped after its retries. */
  readonly onFailureQueue: Queue;
  readonly streamHandler: LambdaFunction;
  readonly prepareFunction: LambdaFunction;
  readonly backfillSegmentFunction: LambdaFunction;
  readonly completeFunction: LambdaFunction;
  readonly replaySpoolFunction: LambdaFunction;
  /** One per source, created disabled (unless `stream.enabled`); the state machine enables it after Prepare (or, with
   * `stream.duringBackfill: false`, after Complete). */
  readonly streamMappings: EventSourceMapping[];
  readonly stateMachine: StateMachine;
  readonly alarms: MigrationAlarms;

  constructor(scope: Construct, id: string, props: DynashiftMigrationProps) {
    super(scope, id);
    validate(props);
    const strategy = props.backfill?.strategy ?? 'scan';
    const concurrency = props.backfill?.concurrency ?? 8;

    this.stateTable = new Table(this, 'StateTable', {
      partitionKey: { name: 'pk', type: AttributeType.STRING },
      sortKey: { name: 'sk', type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      encryption: TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: props.stateTableRemovalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.onFailureQueue = new Queue(this, 'StreamOnFailure', {
      retentionPeriod: Duration.days(14),
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });

    const environment = {
      DYNASHIFT_MIGRATION: props.migrationName,
      DYNASHIFT_STATE_TABLE: this.stateTable.tableName,
      DYNASHIFT_CONFIG: props.configPath ?? 'dynashift.config.json',
      POWERTOOLS_SERVICE_NAME: 'dynashift',
      POWERTOOLS_METRICS_NAMESPACE: 'Dynashift',
      NODE_OPTIONS: '--enable-source-maps',
      ...props.environment,
    };
    const fn = (
      fid: string,
      handler: string,
      timeout: Duration,
      memorySize: number,
      description: string,
      extra: Record<string, string> = {},
      writesTargets = true,
    ): LambdaFunction =>
      new LambdaFunction(this, fid, {
        runtime: props.runtime ?? Runtime.NODEJS_22_X,
        code: props.code,
        handler,
        timeout,
        memorySize,
        description,
        environment: { ...environment, ...extra },
        // Only the functions that open the targets need the VPC (Complete touches the state table alone).
        ...(props.vpc && writesTargets
          ? {
              vpc: props.vpc.vpc,
              ...(props.vpc.subnets ? { vpcSubnets: props.vpc.subnets } : {}),
              ...(props.vpc.securityGroups ? { securityGroups: props.vpc.securityGroups } : {}),
            }
          : {}),
      });
    const h = props.handlers ?? {};
    this.streamHandler = fn(
      'StreamHandler',
      h.stream ?? 'index.streamHandler',
      props.stream?.timeout ?? Duration.minutes(5),
      props.stream?.memorySize ?? 1024,
      `dynashift ${props.migrationName}: applies the source stream to the targets`,
    );
    this.prepareFunction = fn(
      'Prepare',
      h.prepare ?? 'index.prepare',
      Duration.minutes(15),
      1024,
      `dynashift ${props.migrationName}: creates the targets and opens the stream position`,
    );
    const budget = props.backfill?.timeBudget ?? Duration.minutes(12);
    this.backfillSegmentFunction = fn(
      'BackfillSegment',
      h.backfillSegment ?? 'index.backfillSegment',
      Duration.minutes(15),
      props.backfill?.memorySize ?? 1769,
      `dynashift ${props.migrationName}: copies one scan segment`,
      { DYNASHIFT_TIME_BUDGET_MS: String(budget.toMilliseconds()) },
    );
    this.completeFunction = fn(
      'Complete',
      h.complete ?? 'index.complete',
      Duration.minutes(1),
      256,
      `dynashift ${props.migrationName}: marks the backfill complete`,
      {},
      false,
    );

    this.replaySpoolFunction = fn(
      'ReplaySpool',
      h.replaySpool ?? 'index.replaySpool',
      Duration.minutes(15),
      props.backfill?.memorySize ?? 1769,
      `dynashift ${props.migrationName}: replays the keys the stream spooled during the backfill`,
      { DYNASHIFT_TIME_BUDGET_MS: String(budget.toMilliseconds()) },
    );

    this.grantPermissions(props);

    this.streamMappings = Object.entries(props.sources).map(
      ([name, source], i) =>
        new EventSourceMapping(this, `StreamMapping${i}`, {
          target: this.streamHandler,
          eventSourceArn: this.streamArnOf(name, source, i),
          startingPosition: StartingPosition.TRIM_HORIZON,
          enabled: props.stream?.enabled ?? false,
          batchSize: props.stream?.batchSize ?? 100,
          ...(props.stream?.maxBatchingWindow ? { maxBatchingWindow: props.stream.maxBatchingWindow } : {}),
          reportBatchItemFailures: true,
          // Bisecting would retry halves of a batch, reordering records of one item around a failure.
          bisectBatchOnError: false,
          parallelizationFactor: 1,
          ...(props.stream?.retryAttempts !== undefined ? { retryAttempts: props.stream.retryAttempts } : {}),
          onFailure: new SqsDlq(this.onFailureQueue),
        }),
    );

    this.stateMachine = new BackfillStateMachine(this, 'Backfill', {
      prepare: this.prepareFunction,
      backfillSegment: this.backfillSegmentFunction,
      complete: this.completeFunction,
      replaySpool: this.replaySpoolFunction,
      mappings: this.streamMappings,
      spool: props.stream?.duringBackfill ?? true,
      strategy,
      concurrency,
    }).stateMachine;
    // The export Map's ItemReader reads manifest-files.json with the state machine's own role.
    if (strategyFor(strategy).awsRunner?.map === 'files' && props.backfill?.export) grantExportRead(this.stateMachine, props.backfill.export);

    this.alarms = new MigrationAlarms(this, 'Alarms', {
      migrationName: props.migrationName,
      streamHandler: this.streamHandler,
      onFailureQueue: this.onFailureQueue,
      stateMachine: this.stateMachine,
      iteratorAge: props.alarms?.iteratorAge ?? Duration.minutes(30),
      actions: props.alarms?.actions ?? [],
    });
  }

  private grantPermissions(props: DynashiftMigrationProps): void {
    for (const f of [this.streamHandler, this.prepareFunction, this.backfillSegmentFunction, this.completeFunction, this.replaySpoolFunction]) {
      this.stateTable.grantReadWriteData(f);
    }
    for (const source of Object.values(props.sources)) {
      grantTable(this.prepareFunction, source, ACTIONS.sourceInspect);
      grantTable(this.prepareFunction, source, ACTIONS.sourceStreamOpen, 'stream');
      grantTable(this.backfillSegmentFunction, source, ACTIONS.sourceScan);
      grantTable(this.replaySpoolFunction, source, ACTIONS.sourceRead);
      // The event source mapping reads the stream with the function's own role, whatever role the Scan assumes.
      grantTable(this.streamHandler, { ...source, roleArn: undefined } as DynashiftSourceProps, ACTIONS.streamRead, 'stream');
    }
    const writers = [this.prepareFunction, this.backfillSegmentFunction, this.streamHandler, this.replaySpoolFunction];
    const strategy = props.backfill?.strategy ?? 'scan';
    if (strategyFor(strategy).awsRunner?.segmentWork === 'touch')
      for (const source of Object.values(props.sources)) grantTable(this.backfillSegmentFunction, source, ACTIONS.sourceTouch);
    const exported = props.backfill?.export;
    if (strategyFor(strategy).awsRunner?.map === 'files' && exported) {
      for (const f of [this.prepareFunction, this.backfillSegmentFunction, this.completeFunction]) grantExportRead(f, exported);
      if (exported.start) {
        for (const source of Object.values(props.sources)) {
          grantTable(this.prepareFunction, source, ACTIONS.exportStart);
          // Exports are named `<table ARN>/export/<id>`: DescribeExport on this table's exports only.
          if (!source.roleArn) {
            this.prepareFunction.addToRolePolicy(
              new PolicyStatement({ actions: [...ACTIONS.exportDescribe], resources: [`${tableArn(this, source)}/export/*`] }),
            );
          }
        }
        // DynamoDB writes the export with the caller's permissions.
        this.prepareFunction.addToRolePolicy(
          new PolicyStatement({
            actions: ['s3:PutObject', 's3:AbortMultipartUpload', 's3:PutObjectAcl'],
            resources: [`arn:aws:s3:::${exported.bucket}/${exported.prefix ? `${exported.prefix.replace(/^\/+|\/+$/g, '')}/` : ''}*`],
          }),
        );
      }
    }
    for (const target of Object.values(props.targets)) {
      if (target.connectionStringSecret) {
        for (const f of writers) grantSecretRead(f, target.connectionStringSecret);
      }
      // PostgreSQL, or a DynamoDB-compatible endpoint: not an AWS table, so no DynamoDB permission is granted for it.
      if ((target.kind ?? 'dynamodb') !== 'dynamodb' || target.endpoint) continue;
      grantTable(this.prepareFunction, target, target.create === false ? ACTIONS.targetInspect : [...ACTIONS.targetInspect, ...ACTIONS.targetCreate]);
      grantTable(this.backfillSegmentFunction, target, ACTIONS.targetWrite);
      grantTable(this.streamHandler, target, ACTIONS.targetWrite);
      grantTable(this.replaySpoolFunction, target, ACTIONS.targetWrite);
    }
  }

  /** The source's stream: given, or DescribeTable's LatestStreamArn read at deploy time. */
  private streamArnOf(name: string, source: DynashiftSourceProps, index: number): string {
    if (source.streamArn) return source.streamArn;
    const lookup = new AwsCustomResource(this, `StreamArnLookup${index}`, {
      onUpdate: {
        service: 'DynamoDB',
        action: 'describeTable',
        parameters: { TableName: source.tableName },
        physicalResourceId: PhysicalResourceId.of(`dynashift-stream-${name}-${source.tableName}`),
        // DescribeTable's answer can exceed a custom resource's 4 KB response: keep only the ARN.
        outputPaths: ['Table.LatestStreamArn'],
        ...(source.region ? { region: source.region } : {}),
        ...(source.roleArn ? { assumedRoleArn: source.roleArn } : {}),
      },
      policy: AwsCustomResourcePolicy.fromStatements(
        source.roleArn
          ? [new PolicyStatement({ actions: ['sts:AssumeRole'], resources: [source.roleArn] })]
          : [new PolicyStatement({ actions: ['dynamodb:DescribeTable'], resources: [tableArn(this, source)] })],
      ),
      installLatestAwsSdk: false,
    });
    return lookup.getResponseField('Table.LatestStreamArn');
  }
}

function validate(props: DynashiftMigrationProps): void {
  const problems: string[] = [];
  if (!/^[A-Za-z0-9._-]+$/.test(props.migrationName))
    problems.push(`migrationName "${props.migrationName}" may hold only letters, digits, dot, dash and underscore`);
  if (Object.keys(props.sources).length === 0) problems.push('sources is empty');
  if (Object.keys(props.targets).length === 0) problems.push('targets is empty');
  const c = props.backfill?.concurrency;
  if (c !== undefined && (!Number.isInteger(c) || c < 1 || c > 10_000))
    problems.push(`backfill.concurrency ${c} must be an integer in 1…10000 (the Distributed Map's MaxConcurrency)`);
  if (strategyFor(props.backfill?.strategy ?? 'scan').awsRunner?.map === 'files' && !props.backfill?.export)
    problems.push(
      "backfill.export (the export's bucket and prefix) is required with backfill.strategy 'export': the Map reads the export's manifest from S3",
    );
  const b = props.stream?.batchSize;
  if (b !== undefined && (!Number.isInteger(b) || b < 1 || b > 10_000)) problems.push(`stream.batchSize ${b} must be in 1…10000`);
  if (problems.length > 0) throw new Error(`DynashiftMigration: ${problems.join('; ')}`);
}
