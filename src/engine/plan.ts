import type { ResolvedConfig } from '../config/resolved-config.js';
import type { Refusal } from '../errors.js';
import type { AttributeMap, KeySchema } from '../core/item.js';
import { extractKey } from '../core/item.js';
import { ItemMapper, MappingError, type RoutedItem } from '../core/transform.js';
import { withClients } from '../aws/clients.js';
import { roleFor } from '../aws/errors.js';
import { inspectTable, type TableInfo } from '../aws/inspect-table.js';
import { sampleItems } from '../aws/sample-items.js';
import { iamGrants, type IamGrant } from './plan-iam.js';
import { usableSegments } from './segments.js';
import { findTtlHorizon, type TtlHorizon } from './ttl-horizon.js';
import { exportStreamRefusals, streamLabelFromArn } from '../sources/export/plan-checks.js';
import type { ExportDescription } from '../sources/export/export-source.js';
import { keyCanMove } from './targets.js';
import { sameTable } from '../core/table-identity.js';
import { strategyFor } from './strategies/registry.js';
import { driverFor, sinkKindOf } from '../sinks/drivers.js';
import { STREAM_RETENTION_MS } from '../core/constants.js';
import type { TargetInspection } from '../sinks/driver.js';
import type { SinkCapabilities } from '../sinks/sink.js';
import { capabilityRefusals, guardSampleRefusals } from './capability-checks.js';
import { fmtKey } from '../sinks/dynamodb/dynamodb-driver.js';
import { cloudWatchMetrics, type MetricsClient } from '../aws/table-traffic.js';
import { planStream, type StreamPlan } from './plan-stream.js';

/** The backfill must end well inside the stream's retention: the catch-up needs time too. */
export const BACKFILL_BUDGET_MS = STREAM_RETENTION_MS - 4 * 3600_000;
const ON_DEMAND_READ_ASSUMED_RCU = 12000;

export interface Plan {
  migration: string;
  /** `segments`: what the backfill uses (backfill.segments, capped at what the tables can use; `segmentsConfigured` when capped). */
  strategy: { backfill: string; segments: number; segmentsConfigured?: number; concurrency: number; consistentRead: boolean; onError: string };
  sources: Record<string, TableInfo & { sampled: number }>;
  targets: Record<
    string,
    { table: string; kind: string; exists: boolean; willCreate: boolean; keySchema?: KeySchema; describe: string[]; inspection: TargetInspection }
  >;
  estimate: {
    items: number;
    bytes: number;
    readUnits: number;
    writeUnits: number;
    readUnitsPerSecond: number;
    writeUnitsPerSecond: number;
    seconds: number;
  };
  /** Per principal (`source <name>`, `target <name>`): the IAM actions, per command and in all. */
  iam: Record<string, IamGrant>;
  refusals: Refusal[];
  notes: string[];
  keyCanMove: boolean;
  /** For `backfill.strategy: none`: when the pre-existing items have all expired, per source. */
  ttlHorizons: Record<string, TtlHorizon>;
  /** For `backfill.strategy: export`: the export each source backfills from. */
  exports: Record<string, ExportDescription>;
  /** Every target is an export-format (files) target: a snapshot only, no stream. */
  writeOnceOnly: boolean;
  /** When the stream is applied (during or after the backfill) and whether the applier keeps up with the writes. */
  stream: StreamPlan;
}

export interface PlanOptions {
  /** Where the source's write rate comes from (CloudWatch by default; tests pass a stub: DynamoDB Local has none). */
  metrics?: (source: string) => MetricsClient | undefined;
  now?: number;
}

export async function buildPlan(config: ResolvedConfig, opts: PlanOptions = {}): Promise<Plan> {
  const refusals: Refusal[] = [];
  const notes: string[] = [];
  const strategy = strategyFor(config.backfill.strategy);
  const sourceInfos: Record<string, TableInfo> = {};
  const samples: Record<string, AttributeMap[]> = {};
  for (const [name, ref] of Object.entries(config.sources)) {
    const info = await withClients(ref, roleFor('source', name, ref), async ({ dynamodb }) => {
      const found = await inspectTable(dynamodb, ref.table);
      samples[name] = found.exists ? await sampleItems(dynamodb, ref.table) : [];
      return found;
    });
    sourceInfos[name] = info;
    if (!info.exists) {
      refusals.push({
        code: 'SOURCE_TABLE_NOT_FOUND',
        message: `source table ${info.table} (${name}) does not exist in ${ref.region ?? 'the default Region'}${ref.endpoint ? ` at ${ref.endpoint}` : ''}`,
        hint: 'check source.table, source.region and source.endpoint',
      });
    }
  }
  const firstSource = Object.values(sourceInfos).find((s) => s.exists);
  const inspections: Record<string, TargetInspection> = {};
  const capabilities: Record<string, Readonly<SinkCapabilities>> = {};
  for (const [name, target] of Object.entries(config.targets)) {
    const driver = await driverFor(target);
    capabilities[name] = driver.capabilities;
    const inspection = await driver.inspect(name, target, firstSource ? { source: firstSource } : {});
    inspections[name] = inspection;
    refusals.push(...inspection.refusals);
    notes.push(...inspection.notes);
    // By what DynamoDB reports (TableId, ARN), not by how the endpoint is spelled: `localhost` and `127.0.0.1` reach
    // the same table. A target that doesn't exist yet can't be an existing source.
    for (const [sname, info] of Object.entries(sourceInfos)) {
      if (info.exists && sameTable(info, inspection.identity)) {
        refusals.push({
          code: 'TARGET_IS_SOURCE',
          message: `target ${name} is the same table as source ${sname} (${info.arn ?? info.table}${target.endpoint ? ` via ${target.endpoint}` : ''}): the migration would rewrite the source in place`,
          hint: 'choose a new target table name (target.table), or point target.endpoint / target.region at the other table',
        });
      }
    }
  }
  refusals.push(...capabilityRefusals(config, capabilities));
  const targetKeys: Record<string, KeySchema> = {};
  for (const [name, i] of Object.entries(inspections)) if (i.keySchema) targetKeys[name] = i.keySchema;

  const ttlHorizons: Record<string, TtlHorizon> = {};
  const exports: Record<string, ExportDescription> = {};
  const movable = Object.values(sourceInfos).some((s) => s.keySchema && keyCanMove(config, s.keySchema, Object.values(targetKeys)));
  // A write-once (export files) target takes only the snapshot; the stream matters to the migration that follows it.
  const writeOnce = Object.values(capabilities).filter((c) => c.writeOnce).length;
  const writeOnceOnly = writeOnce > 0 && writeOnce === Object.keys(capabilities).length;
  for (const [name, info] of Object.entries(sourceInfos)) {
    if (!info.exists) continue;
    if (writeOnceOnly) {
      if (!strategy.fillsWriteOnceTarget) {
        refusals.push({
          code: 'WRITE_ONCE_NEEDS_BACKFILL',
          message: `a write-once (files) target is filled by a backfill only; strategy ${config.backfill.strategy} copies no snapshot`,
          hint: 'set backfill.strategy to "scan" (or "export"), or use --backfill scan',
        });
      }
    } else if (!info.stream.enabled) {
      refusals.push({
        code: 'STREAM_DISABLED',
        message: `source table ${info.table} has no DynamoDB stream: changes made during the migration would be lost`,
        hint: `enable one: aws dynamodb update-table --table-name ${info.table} --stream-specification StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES`,
      });
    } else {
      const view = info.stream.viewType ?? 'KEYS_ONLY';
      if (view === 'KEYS_ONLY' || view === 'OLD_IMAGE') {
        refusals.push({
          code: 'STREAM_VIEW_INSUFFICIENT',
          message: `stream of ${info.table} has view type ${view}: records carry no new item images to apply (source ${name})`,
          hint: 'switch the stream to NEW_AND_OLD_IMAGES (disable it, then enable it with that view type) before migrating',
        });
      } else if (view === 'NEW_IMAGE' && movable) {
        refusals.push({
          code: 'STREAM_VIEW_INSUFFICIENT',
          message: `stream of ${info.table} has view type NEW_IMAGE, but ${config.transform ? 'the transform' : 'the new key schema'} can move an item to another target key; deleting the previous target item needs the OLD image`,
          hint: 'switch the stream to NEW_AND_OLD_IMAGES (disable it, then enable it with that view type)',
        });
      }
    }
    if (Object.keys(targetKeys).length === Object.keys(config.targets).length) {
      checkSamples(config, name, info, samples[name] ?? [], targetKeys, refusals, notes);
      refusals.push(...guardSampleRefusals(config, name, samples[name] ?? [], targetKeys));
    }
    if (config.backfill.skipExpired && !info.ttlAttribute) {
      refusals.push({
        code: 'TTL_NOT_ENABLED',
        message: `backfill.skipExpired is set but ${info.table} has no TTL attribute enabled, so no item can be told expired`,
        hint: 'enable TTL on the source table, or remove backfill.skipExpired',
      });
    }
    if (!strategy.copiesSnapshot) {
      const horizon = await planTtlHorizon(config, name, info, refusals, notes);
      if (horizon) ttlHorizons[name] = horizon;
    }
    if (strategy.readsExport && !writeOnceOnly) {
      const d = await planExport(config, name, info, refusals, notes);
      if (d) exports[name] = d;
    }
    notes.push(...(strategy.planNotes?.(info) ?? []));
  }
  if (writeOnce > 0 && !writeOnceOnly) {
    refusals.push({
      code: 'WRITE_ONCE_MIXED',
      message: "a write-once (files) target can't be mixed with targets that follow the stream",
      hint: 'migrate to the files target in a migration of its own (one target in target/targets)',
    });
  }

  const estimate = estimateBackfill(config, sourceInfos, inspections);
  const streamPlan = await planStream(
    config,
    estimate.writeUnitsPerSecond > 0 ? estimate.writeUnitsPerSecond : undefined,
    opts.metrics ?? ((name) => cloudWatchMetrics(config.sources[name]!)),
    opts.now ?? Date.now(),
  );
  if (!writeOnceOnly) {
    refusals.push(...streamPlan.refusals);
    notes.push(...streamPlan.notes);
  }
  // Only a stream applied after the backfill bounds the backfill by the retention.
  if (strategy.readsTable && !writeOnceOnly && !streamPlan.stream.duringBackfill && estimate.seconds * 1000 > BACKFILL_BUDGET_MS) {
    refusals.push({
      code: 'BACKFILL_EXCEEDS_RETENTION',
      message: `the backfill is estimated at ${hours(estimate.seconds)} at ${Math.round(estimate.readUnitsPerSecond)} read and ${Math.round(estimate.writeUnitsPerSecond)} write units/s; stream records are kept only 24 h (budget ${hours(BACKFILL_BUDGET_MS / 1000)} leaves time for catch-up)`,
      hint: 'apply the stream during the backfill (stream.duringBackfill: true, the default), raise backfill.readShare or backfill.maxReadUnitsPerSecond, give the target more write capacity (write.maxWriteUnitsPerSecond, provisioned WCU), or backfill from an export',
    });
  }

  const iam = iamGrants(config, sourceInfos, inspections);
  const largest = Math.max(0, ...Object.entries(sourceInfos).map(([n, i]) => Math.max(i.itemCount, samples[n]?.length ?? 0)));
  const segments = usableSegments(config.backfill.segments, largest, config.backfill.pageSize);
  if (segments.capped && strategy.readsTable) notes.push(segments.capped);

  return {
    migration: config.name,
    strategy: {
      backfill: config.backfill.strategy,
      segments: segments.segments,
      ...(segments.capped ? { segmentsConfigured: config.backfill.segments } : {}),
      concurrency: config.backfill.concurrency,
      consistentRead: config.backfill.consistentRead,
      onError: config.onError,
    },
    sources: Object.fromEntries(Object.entries(sourceInfos).map(([n, i]) => [n, { ...i, sampled: samples[n]?.length ?? 0 }])),
    targets: Object.fromEntries(
      Object.entries(config.targets).map(([n, t]) => {
        const i = inspections[n]!;
        return [
          n,
          {
            table: t.table,
            kind: sinkKindOf(t).kind,
            exists: i.exists,
            willCreate: i.willCreate,
            ...(i.keySchema ? { keySchema: i.keySchema } : {}),
            describe: i.describe,
            inspection: i,
          },
        ];
      }),
    ),
    estimate,
    iam,
    refusals,
    notes,
    keyCanMove: movable,
    ttlHorizons,
    exports,
    writeOnceOnly,
    stream: streamPlan.stream,
  };
}

/**
 * The export backfill: read the export's manifests now (a missing or damaged export is refused before anything is
 * written), and check that the stream covers everything after the export time for long enough.
 */
async function planExport(
  config: ResolvedConfig,
  name: string,
  info: TableInfo,
  refusals: Refusal[],
  notes: string[],
): Promise<ExportDescription | undefined> {
  const cfg = config.backfill.export;
  if (!cfg?.uri) {
    if (cfg?.start) {
      if (info.pitr === false) {
        refusals.push({
          code: 'PITR_DISABLED',
          message: `starting an export needs point-in-time recovery on ${info.table}, which is off`,
          hint: `enable it: aws dynamodb update-continuous-backups --table-name ${info.table} --point-in-time-recovery-specification PointInTimeRecoveryEnabled=true`,
        });
      }
      notes.push(
        `export: run starts ExportTableToPointInTime of ${info.table} to s3://${cfg.start.s3Bucket}/${cfg.start.s3Prefix ?? ''} (PITR required; reads no table capacity) and waits for it`,
      );
    } else {
      refusals.push({
        code: 'EXPORT_LOCATION_MISSING',
        message: 'the export backfill needs a location',
        hint: 'use --backfill export:<uri>, or set backfill.export.uri (or backfill.export.start to take a new export)',
      });
    }
    return undefined;
  }
  let d: ExportDescription;
  try {
    // The export code (S3, ION) is loaded only for an export backfill.
    const { describeExportAt } = await import('./export-backfill.js');
    d = await describeExportAt(config, name, cfg.uri);
  } catch (err) {
    refusals.push({
      code: 'EXPORT_INVALID',
      message: `export ${cfg.uri}: ${(err as Error).message}`,
      hint: (err as { hint?: string }).hint ?? 'check backfill.export.uri',
    });
    return undefined;
  }
  // The export's records must still be in the stream when the applier reaches them: right away when the stream is
  // applied during the backfill, only after the load otherwise.
  const duringBackfill = config.stream.duringBackfill && (cfg.incremental?.length ?? 0) === 0;
  const estimatedBackfillMs = cfg.imported || duringBackfill ? 0 : Math.ceil(d.itemCount / 5000) * 1000;
  // An AWS export is fuzzy by up to a minute, so the stream must reach back past it by the full margin. One written
  // by dynashift's files target (no export ARN) is a strongly consistent snapshot begun at exportTime: the stream
  // only has to predate it (plus timestamp rounding).
  const marginMs = d.exportArn ? undefined : 1000;
  refusals.push(
    ...exportStreamRefusals({
      exportTime: d.exportTime,
      streamLabel: streamLabelFromArn(info.stream.arn),
      now: Date.now(),
      estimatedBackfillMs,
      ...(marginMs !== undefined ? { marginMs } : {}),
    }),
  );
  if (d.outputView === 'NEW_IMAGE' && config.transform) {
    refusals.push({
      code: 'STREAM_VIEW_INSUFFICIENT',
      message: "an incremental export with NEW_IMAGE only can't delete the previous target item of a key-changing transform",
      hint: 'export with NEW_AND_OLD_IMAGES',
    });
  }
  notes.push(
    `export: ${d.itemCount.toLocaleString('en-US')} items in ${d.files} file(s) (${d.format}) taken at ${new Date(d.exportTime).toISOString()}; ${cfg.imported ? 'already loaded with ImportTable, so only the stream catch-up runs' : 'reads no table capacity'}; the stream is replayed from 5 minutes before the export time`,
  );
  return d;
}

/**
 * Without a backfill, items that existed before the stream position reach the target only if they change — so the
 * target is complete only once every such item has expired. Refuses when some never will.
 */
async function planTtlHorizon(
  config: ResolvedConfig,
  name: string,
  info: TableInfo,
  refusals: Refusal[],
  notes: string[],
): Promise<TtlHorizon | undefined> {
  if (!info.ttlAttribute) {
    refusals.push({
      code: 'BACKFILL_NONE_UNSAFE',
      message: `--backfill none copies only items that change, but ${info.table} has no TTL: its existing items would never reach the target`,
      hint: 'use the scan backfill (backfill.strategy "scan"), or enable TTL on items that all expire',
    });
    return undefined;
  }
  const ttlAttribute = info.ttlAttribute;
  const h = await withClients(config.sources[name]!, roleFor('source', name, config.sources[name]!), (c) =>
    findTtlHorizon(c.dynamodb, info.table, ttlAttribute, { itemCount: info.itemCount }),
  );
  if (h.neverExpire > 0) {
    refusals.push({
      code: 'BACKFILL_NONE_UNSAFE',
      message: `${h.neverExpire} of ${h.itemsRead} items${h.sampled ? ' sampled' : ''} in ${info.table} have no ${info.ttlAttribute} value and never expire: without a backfill they would never reach the target`,
      hint: 'use the scan backfill, or give every item a TTL',
    });
  }
  const when = h.horizon !== undefined ? new Date(h.horizon).toISOString() : 'now (no item carries a TTL yet)';
  notes.push(
    `no backfill: every item that exists now expires by ${when}${h.sampled ? ' (estimated from a sample)' : ''} — readers may move to the target only after that`,
  );
  return h;
}

function checkSamples(
  config: ResolvedConfig,
  source: string,
  info: TableInfo,
  items: AttributeMap[],
  targetKeys: Record<string, KeySchema>,
  refusals: Refusal[],
  notes: string[],
): void {
  if (items.length === 0 || Object.keys(targetKeys).length === 0) return;
  const mapper = new ItemMapper({ transform: config.transform, targets: targetKeys, singleTarget: config.singleTarget });
  const seen = new Set<string>();
  const firstPass = new Map<AttributeMap, RoutedItem[]>();
  for (const item of items) {
    try {
      firstPass.set(item, mapper.map(source, item));
    } catch (err) {
      const e = err as MappingError;
      const where = JSON.stringify(info.keySchema ? extractKey(item, info.keySchema) : {});
      const code = e instanceof MappingError ? e.code : 'TRANSFORM_FAILED';
      if (seen.has(code + e.message)) continue;
      seen.add(code + e.message);
      const entry = {
        code: code as Refusal['code'],
        message: `source item ${where}: ${e.message}`,
        hint:
          code === 'TARGET_KEY_MISSING'
            ? `every item must carry the target key (${Object.entries(targetKeys)
                .map(([t, k]) => `${t}: ${fmtKey(k)}`)
                .join('; ')}): set it in the transform or change target.create.keySchema`
            : 'fix the transform so it handles this item (return null to leave an item out)',
      };
      if (code === 'TRANSFORM_OUTPUT_INVALID')
        entry.hint = 'return the item, a list of items, or null to leave it out (undefined is refused: it is what a missing `return` gives)';
      // A missing target key or an output that is no item, in a sample, is a config mistake: refuse. A transform that
      // throws on some item is bad input, handled item by item at run time (dead-letter file, then halt or continue)
      // — plan only warns.
      if ((code === 'TARGET_KEY_MISSING' || code === 'TRANSFORM_OUTPUT_INVALID') && config.onError === 'halt') refusals.push(entry);
      else notes.push(`${entry.message} — at run time such items go to the dead-letter file${config.onError === 'halt' ? ' and halt the run' : ''}`);
    }
  }
  if (mapper.hasTransform) checkDeterministic(mapper, source, info, firstPass, refusals);
}

/**
 * Assumption A2 (docs/consistency.md): the transform is pure. Each sample is mapped a second time, after all of
 * them were mapped once, and both outputs must be equal: same targets, same keys, same attributes, numbers compared
 * as exact decimal strings. A transform that reads the clock, a random number or outside state usually shows here.
 */
function checkDeterministic(
  mapper: ItemMapper,
  source: string,
  info: TableInfo,
  firstPass: Map<AttributeMap, RoutedItem[]>,
  refusals: Refusal[],
): void {
  for (const [item, first] of firstPass) {
    let difference: string | undefined;
    try {
      difference = outputDifference(first, mapper.map(source, item));
    } catch (err) {
      difference = `it threw the second time: ${(err as Error).message}`;
    }
    if (difference === undefined) continue;
    const where = JSON.stringify(info.keySchema ? extractKey(item, info.keySchema) : {});
    refusals.push({
      code: 'TRANSFORM_NONDETERMINISTIC',
      message: `the transform gave two different outputs for source item ${where} (${difference}): the migration can't converge on transform(source) when the same item maps to different targets or values`,
      hint: 'make the transform pure: derive every value from the item alone (no Date.now(), new Date(), Math.random(), counters or state kept between calls); a fixed timestamp can be a constant in the transform',
    });
    return; // one example is enough
  }
}

/** Undefined when equal; else what differs first. Attribute values are compared as DynamoDB JSON, exactly. */
function outputDifference(a: RoutedItem[], b: RoutedItem[]): string | undefined {
  if (a.length !== b.length) return `${a.length} item(s), then ${b.length}`;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.target !== y.target || x.keyId !== y.keyId) return `target key ${x.target} ${x.keyId}, then ${y.target} ${y.keyId}`;
    const names = new Set([...Object.keys(x.item), ...Object.keys(y.item)]);
    for (const name of names) {
      if (canonical(x.item[name]) !== canonical(y.item[name])) return `attribute ${name} differs`;
    }
  }
  return undefined;
}

/** A stable text form of an attribute value: map keys and set members sorted, binary as base64, numbers as written. */
function canonical(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (value instanceof Uint8Array) return `b64:${Buffer.from(value).toString('base64')}`;
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([p], [q]) => (p < q ? -1 : p > q ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(k === 'SS' || k === 'NS' || k === 'BS' ? [...(v as unknown[])].map(canonical).sort() : v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function estimateBackfill(config: ResolvedConfig, sources: Record<string, TableInfo>, targets: Record<string, TargetInspection>): Plan['estimate'] {
  const items = Object.values(sources).reduce((n, s) => n + s.itemCount, 0);
  const bytes = Object.values(sources).reduce((n, s) => n + s.sizeBytes, 0);
  if (!strategyFor(config.backfill.strategy).loadsTargets(config)) {
    return { items, bytes, readUnits: 0, writeUnits: 0, readUnitsPerSecond: 0, writeUnitsPerSecond: 0, seconds: 0 };
  }
  const avgItem = items > 0 ? bytes / items : 1024;
  const readUnits = (bytes / 4096) * (config.backfill.consistentRead ? 1 : 0.5);
  const writeUnits = items * Math.max(1, Math.ceil(avgItem / 1024)) * Object.keys(config.targets).length;
  const readRates = Object.values(sources).map((s) => {
    if (config.backfill.maxReadUnitsPerSecond) return config.backfill.maxReadUnitsPerSecond;
    if (s.billingMode === 'PROVISIONED' && s.readCapacityUnits) return s.readCapacityUnits * config.backfill.readShare;
    return ON_DEMAND_READ_ASSUMED_RCU * config.backfill.readShare;
  });
  const readUnitsPerSecond = readRates.length ? readRates.reduce((a, b) => a + b, 0) : 1;
  const writeRates = Object.values(targets).map((t) => Math.min(config.write.maxWriteUnitsPerSecond ?? Infinity, t.writeUnitsPerSecond ?? Infinity));
  const finiteWrite = writeRates.filter(Number.isFinite);
  const writeUnitsPerSecond = finiteWrite.length ? Math.min(...finiteWrite) : Infinity;
  const seconds = Math.max(readUnits / readUnitsPerSecond, Number.isFinite(writeUnitsPerSecond) ? writeUnits / writeUnitsPerSecond : 0);
  return {
    items,
    bytes,
    readUnits: Math.ceil(readUnits),
    writeUnits: Math.ceil(writeUnits),
    readUnitsPerSecond,
    writeUnitsPerSecond: Number.isFinite(writeUnitsPerSecond) ? writeUnitsPerSecond : 0,
    seconds: Math.ceil(seconds),
  };
}

export { fmtKey };

export function hours(seconds: number): string {
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}
