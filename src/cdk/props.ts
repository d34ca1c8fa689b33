import type { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { IAlarmAction } from 'aws-cdk-lib/aws-cloudwatch';
import type { ISecurityGroup, IVpc, SubnetSelection } from 'aws-cdk-lib/aws-ec2';
import type { Code, Runtime } from 'aws-cdk-lib/aws-lambda';

/** A DynamoDB table the migration reads or writes, by name (it is not created or imported as a CDK resource). */
export interface DynashiftTableProps {
  readonly tableName: string;
  /** The table's Region; default: the stack's. */
  readonly region?: string;
  /** The table's account; default: the stack's. */
  readonly account?: string;
  /**
   * A role the functions assume to reach the table (cross-account). They then get `sts:AssumeRole` on exactly this
   * role and no DynamoDB permission on the table themselves: the role's own policy grants those.
   */
  readonly roleArn?: string;
}

export interface DynashiftSourceProps extends DynashiftTableProps {
  /**
   * The table's stream ARN, for the event source mapping. Default: looked up at deploy time (DescribeTable's
   * LatestStreamArn) by a small custom resource.
   */
  readonly streamArn?: string;
}

export interface DynashiftTargetProps extends DynashiftTableProps {
  /** Whether the Prepare step may create the table (CreateTable, UpdateTimeToLive, UpdateTable). Default true. */
  readonly create?: boolean;
  /**
   * The config's target kind. Default 'dynamodb'. A 'postgres' target gets no DynamoDB permission; the functions reach
   * it over the network (see `vpc`) with the connection string its config names.
   */
  readonly kind?: 'dynamodb' | 'postgres';
  /**
   * A DynamoDB-compatible endpoint (e.g. ScyllaDB Alternator) instead of DynamoDB in AWS: no IAM permission is
   * granted for it (it is not an AWS resource); the functions must reach it over the network.
   */
  readonly endpoint?: string;
  /**
   * A 'postgres' target's postgres.connectionStringSecret (a Secrets Manager secret ARN or name): the functions that
   * write get secretsmanager:GetSecretValue on exactly this secret.
   */
  readonly connectionStringSecret?: string;
}

export interface DynashiftMigrationProps {
  /** The config's `name` (default `<source>-to-<target>`): the state table's partition key. */
  readonly migrationName: string;
  /** By the config's source names (`source` for a single `source:`). */
  readonly sources: Record<string, DynashiftSourceProps>;
  /** By the config's target names (`target` for a single `target:`). */
  readonly targets: Record<string, DynashiftTargetProps>;
  /**
   * The bundled handlers plus your config (and transform module). Its entry must export `streamHandler`, `prepare`,
   * `backfillSegment`, `complete` and `replaySpool` (see docs/aws.md for a bundling recipe).
   */
  readonly code: Code;
  /**
   * Handler names inside `code`. Default `index.streamHandler`, `index.prepare`, `index.backfillSegment`,
   * `index.complete`, `index.replaySpool`.
   */
  readonly handlers?: {
    readonly stream?: string;
    readonly prepare?: string;
    readonly backfillSegment?: string;
    readonly complete?: string;
    readonly replaySpool?: string;
  };
  /** Path of the config inside the bundle ($DYNASHIFT_CONFIG). Default `dynashift.config.json`. */
  readonly configPath?: string;
  readonly backfill?: {
    /**
     * The config's backfill.strategy: 'scan' and 'touch' run a Distributed Map over the scan segments, 'export' one over
     * the export's data files, 'none' no Map. Default 'scan'.
     */
    readonly strategy?: 'scan' | 'export' | 'touch' | 'none';
    /**
     * With 'export': where the export is (the bucket, and the key prefix it lies under: backfill.export.uri's, or
     * export.start's s3Bucket/s3Prefix). The export Map's ItemReader, Prepare, the file loader and Complete may read
     * only there; `start` also lets Prepare take the export (ExportTableToPointInTime) into it.
     */
    readonly export?: { readonly bucket: string; readonly prefix?: string; readonly start?: boolean };
    /** Segments copied at once: the Map's MaxConcurrency and the divisor of the read budget. Use the config's backfill.concurrency. Default 8. */
    readonly concurrency?: number;
    /** Time one backfillSegment invocation spends before handing the segment back to the loop. Default 12 minutes. */
    readonly timeBudget?: Duration;
    readonly memorySize?: number;
  };
  readonly stream?: {
    /** Records per batch. Default 100. */
    readonly batchSize?: number;
    readonly maxBatchingWindow?: Duration;
    /**
     * Retries of a failing batch before Lambda skips it and sends its metadata to the on-failure queue. Default:
     * unlimited — the only setting that never skips a change; a halted record then blocks its shard (IteratorAge alarm)
     * until it is fixed. A finite value lets a poisoned batch through after the retries, which leaves the target NOT
     * in sync (DLQ alarm).
     */
    readonly retryAttempts?: number;
    /**
     * The config's stream.duringBackfill (default true): the state machine enables the mapping right after Prepare and
     * the stream handler spools the changed keys while the backfill runs (so no backfill is bounded by the stream's
     * 24-hour retention), then the Replay task re-reads them. false: the mapping is enabled after Complete, and the
     * backfill must finish within 20 hours.
     */
    readonly duringBackfill?: boolean;
    /**
     * Create the mapping enabled. Default false: the state machine enables it (after Prepare, or after Complete with
     * duringBackfill false). Set it to true after that, so that a later deploy of a changed mapping doesn't disable it
     * again.
     */
    readonly enabled?: boolean;
    readonly timeout?: Duration;
    readonly memorySize?: number;
  };
  readonly alarms?: {
    /** IteratorAge above this raises the alarm. Default 30 minutes (records are kept 24 h). */
    readonly iteratorAge?: Duration;
    readonly actions?: IAlarmAction[];
  };
  /** Default RETAIN: the state table holds the checkpoints and the dead letters. */
  readonly stateTableRemovalPolicy?: RemovalPolicy;
  /** Default Node.js 22 (the code needs Node 20 or newer). */
  readonly runtime?: Runtime;
  /**
   * Run the functions that write to the targets (stream handler, Prepare, BackfillSegment, ReplaySpool) in a VPC, to
   * reach a database that has no public address. The subnets need a route to DynamoDB (a gateway endpoint) and, for a
   * secret, Secrets Manager (an interface endpoint or a NAT gateway); the database must admit the security groups.
   */
  readonly vpc?: {
    readonly vpc: IVpc;
    readonly subnets?: SubnetSelection;
    readonly securityGroups?: ISecurityGroup[];
  };
  /** Extra environment for every function. */
  readonly environment?: Record<string, string>;
}
