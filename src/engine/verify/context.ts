import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { ResolvedConfig } from '../../config/resolved-config.js';
import type { TableRefConfig, TargetConfig } from '../../config/schema.js';
import { clientsFor } from '../../aws/clients.js';
import { roleFor } from '../../aws/errors.js';
import { DynashiftError } from '../../errors.js';
import type { KeySchema } from '../../core/item.js';
import { ItemMapper } from '../../core/transform.js';
import { driverFor } from '../../sinks/drivers.js';
import type { TargetReader } from '../../sinks/driver.js';
import type { Sink, SinkCapabilities } from '../../sinks/sink.js';
import { DynamoDbReader } from '../../sinks/dynamodb/dynamodb-reader.js';
import { inspectTable, type TableInfo } from '../../aws/inspect-table.js';

export interface VerifySource {
  name: string;
  ref: TableRefConfig;
  client: DynamoDBClient;
  keySchema: KeySchema;
  info: TableInfo;
  /** Consistent point lookups on the source (re-checks, repair). */
  reader: DynamoDbReader;
}

export interface VerifyTarget {
  name: string;
  config: TargetConfig;
  kind: string;
  /** What the target's driver declares: verify reads `dynamoDbApi` to know whether --repair can write to it. */
  capabilities: Readonly<SinkCapabilities>;
  keySchema: KeySchema;
  reader: TargetReader;
  itemCount: number;
  close(): Promise<void>;
}

/** Everything verify reads from: the sources with their keys, the targets' readers, and the migration's mapper. */
export interface VerifyContext {
  config: ResolvedConfig;
  sources: Record<string, VerifySource>;
  targets: Record<string, VerifyTarget>;
  mapper: ItemMapper;
  /** Estimated bytes of all sources (DescribeTable; may be hours old on AWS). */
  sourceBytes: number;
  sourceItems: number;
  close(): Promise<void>;
}

/**
 * Describes the sources and opens every target through its driver. Lighter than buildPlan: verify needs the key
 * schemas and sizes, not the plan's refusals (a disabled stream doesn't stop a comparison).
 */
export async function openVerifyContext(config: ResolvedConfig, opts: { concurrency: number }): Promise<VerifyContext> {
  const sources: Record<string, VerifySource> = {};
  const targets: Record<string, VerifyTarget> = {};
  const clients: DynamoDBClient[] = [];
  const closeAll = async (): Promise<void> => {
    for (const t of Object.values(targets)) await t.close().catch(() => undefined);
    for (const c of clients) c.destroy();
  };
  try {
    for (const [name, ref] of Object.entries(config.sources)) {
      const { dynamodb } = clientsFor(ref, roleFor('source', name, ref));
      clients.push(dynamodb);
      const info = await inspectTable(dynamodb, ref.table);
      if (!info.exists || !info.keySchema) {
        throw new DynashiftError(
          'SOURCE_TABLE_NOT_FOUND',
          `source table ${ref.table} (${name}) does not exist${ref.endpoint ? ` at ${ref.endpoint}` : ''}`,
          {
            hint: 'check source.table, source.region and source.endpoint in the config',
          },
        );
      }
      sources[name] = {
        name,
        ref,
        client: dynamodb,
        keySchema: info.keySchema,
        info,
        reader: new DynamoDbReader(dynamodb, ref.table, info.keySchema),
      };
    }
    const first = Object.values(sources)[0]?.info;
    for (const [name, target] of Object.entries(config.targets)) {
      const driver = await driverFor(target);
      if (!driver.capabilities.verifiable) {
        throw new DynashiftError('VERIFY_UNSUPPORTED', `target ${name} (${target.table}) can't be read back, so verify has nothing to compare`, {
          hint: 'verify a migration whose targets can be read back, or compare this target with your own tools',
          exitCode: 2,
        });
      }
      const inspection = await driver.inspect(name, target, first ? { source: first } : {});
      if (!inspection.exists || !inspection.keySchema) {
        throw new DynashiftError('TARGET_TABLE_MISMATCH', `target ${name} (${target.table}) does not exist: there is nothing to verify yet`, {
          hint: 'run the migration first (dynashift run -c FILE), or check the target fields in the config',
        });
      }
      const opened: Sink & TargetReader = driver.open(name, target, { keySchema: inspection.keySchema, concurrency: opts.concurrency });
      targets[name] = {
        name,
        config: target,
        kind: driver.kind,
        capabilities: driver.capabilities,
        keySchema: inspection.keySchema,
        reader: opened,
        itemCount: inspection.itemCount ?? 0,
        close: async () => {
          await opened.close?.();
        },
      };
    }
  } catch (err) {
    await closeAll();
    throw err;
  }
  const keys = Object.fromEntries(Object.entries(targets).map(([n, t]) => [n, t.keySchema]));
  const mapper = new ItemMapper({ transform: config.transform, targets: keys, singleTarget: config.singleTarget });
  return {
    config,
    sources,
    targets,
    mapper,
    sourceBytes: Object.values(sources).reduce((n, s) => n + s.info.sizeBytes, 0),
    sourceItems: Object.values(sources).reduce((n, s) => n + s.info.itemCount, 0),
    close: closeAll,
  };
}
