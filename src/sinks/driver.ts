import type { TableIdentity } from '../core/table-identity.js';
import type { TargetConfig } from '../config/schema.js';
import type { Refusal } from '../errors.js';
import type { AttributeMap, KeySchema } from '../core/item.js';
import type { TableInfo } from '../aws/inspect-table.js';
import type { Sink, SinkCapabilities } from './sink.js';
import type { UnitBudget } from '../core/rate-limiter.js';

/**
 * One kind of target (DynamoDB, PostgreSQL, export files): how to inspect it for `plan`, prepare it (create the table
 * or schema), and open a Sink for writes plus a TargetReader for verify. The engine never branches on the kind.
 * `T` is the driver's own config variant (src/sinks/<kind>/<kind>-config.ts); driverFor hands each driver only
 * targets of its kind.
 */
export interface SinkDriver<T extends TargetConfig = TargetConfig> extends SinkKind<T> {
  inspect(name: string, target: T, ctx: DriverContext): Promise<TargetInspection>;
  /** Creates what `inspect` said is missing; idempotent (a resumed run calls it again). */
  prepare(name: string, target: T, inspection: TargetInspection): Promise<void>;
  open(name: string, target: T, opts: SinkOpenOptions): Sink & TargetReader;
}

/**
 * What is known of a kind without loading its driver (drivers.ts loads those on first use, so that a run between
 * DynamoDB tables never loads `pg` or the export formats).
 */
export interface SinkKind<T extends TargetConfig = TargetConfig> {
  readonly kind: string;
  /** What its sinks can do, before any is opened: the planner and the engine read these, never `kind`. */
  readonly capabilities: Readonly<SinkCapabilities>;
  /**
   * Where the target lives, for the checkpoint fingerprint: resuming against another place is refused. Without it,
   * [table, region, endpoint, ''].
   */
  location?(target: T): string[];
}

export interface DriverContext {
  /** The first source's description: targets copy its shape unless the config overrides it. */
  source?: TableInfo;
}

export interface TargetInspection {
  exists: boolean;
  /** Key the target has (existing) or will have (created). */
  keySchema?: KeySchema;
  willCreate: boolean;
  itemCount?: number;
  /** Write units per second the target can take, for the estimate; undefined: no known limit. */
  writeUnitsPerSecond?: number;
  /** Lines for `plan`: what exists or will be created. */
  describe: string[];
  notes: string[];
  refusals: Refusal[];
  /** Permissions the target side needs, for `plan`. */
  permissions: { actions: string[]; resources: string[] };
  /** Driver-specific data `prepare` needs (e.g. the CreateTable spec). */
  detail?: unknown;
  /** An existing DynamoDB table's identity as DescribeTable reports it, to refuse a target that is the source. */
  identity?: TableIdentity;
}

export interface SinkOpenOptions {
  /** The target's key (from inspect). */
  keySchema: KeySchema;
  /** Requests in flight at once. */
  concurrency: number;
  maxWriteUnitsPerSecond?: number;
  /** Write only when the incoming version is at least the stored one (config `guard`). */
  guard?: { versionAttribute: string };
  /** Which side the written table is, for warnings and errors (default target; source for reverse replication). */
  side?: 'source' | 'target';
  /** Pay this write budget (the main thread's sink's `writeBudget`) instead of one of the sink's own: backfill workers. */
  writeBudget?: UnitBudget;
}

/** Reading a target back, for verify: parallel partitions, and point lookups. */
export interface TargetReader {
  readonly keySchema: KeySchema;
  /** Independent partitions that together cover the target, read in parallel. */
  readPartitions(count: number): string[];
  readPartition(partition: string, signal?: AbortSignal): AsyncIterable<AttributeMap[]>;
  /** Current items by key (missing → undefined), in the order of `keys`. */
  getItems(keys: AttributeMap[]): Promise<(AttributeMap | undefined)[]>;
}

/**
 * Stores a driver of one config variant with the others. Sound because driverFor picks the driver by the target's
 * `kind`, so a driver only ever receives targets of its own variant.
 */
export function typed<T extends TargetConfig>(driver: SinkDriver<T>): SinkDriver {
  return driver as unknown as SinkDriver;
}
