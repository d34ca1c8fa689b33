import type { TargetConfig } from '../config/schema.js';
import { DynashiftError } from '../errors.js';
import type { SinkDriver, SinkKind } from './driver.js';
import type { SinkCapabilities } from './sink.js';
import { dynamoDbDriver } from './dynamodb/dynamodb-driver.js';
import { filesKind } from './files/files-kind.js';
import { postgresKind } from './postgres/postgres-kind.js';

/** A kind's static description, and its driver, imported on first use. */
interface RegisteredKind extends SinkKind {
  load(): Promise<SinkDriver>;
}

/**
 * Sink kinds by name. A new kind is one folder under sinks/ plus one entry here. Only DynamoDB's driver is imported
 * up front: a copy between DynamoDB tables then runs without pg, S3 and the export formats loaded, which made it cost
 * measurably more CPU per item (BENCHMARKS.md, "What the CLI loads, acted on").
 */
const kinds: Record<string, RegisteredKind> = {
  dynamodb: { ...dynamoDbDriver, load: () => Promise.resolve(dynamoDbDriver) },
  postgres: { ...postgresKind, load: async () => (await import('./postgres/postgres-driver.js')).postgresDriver },
  files: { ...filesKind, load: async () => (await import('./files/files-driver.js')).filesDriver },
};

/** The target's kind, capabilities and location, without loading its driver. */
export function sinkKindOf(target: TargetConfig): SinkKind {
  return registered(target);
}

/** The target's driver (inspect, prepare, open), imported the first time its kind is used. */
export async function driverFor(target: TargetConfig): Promise<SinkDriver> {
  return await registered(target).load();
}

function registered(target: TargetConfig): RegisteredKind {
  const kind = target.kind ?? 'dynamodb';
  const found = kinds[kind];
  if (!found) {
    throw new DynashiftError('CONFIG_INVALID', `unknown target kind "${kind}"`, {
      hint: `use one of: ${Object.keys(kinds).join(', ')}`,
      exitCode: 2,
    });
  }
  return found;
}

/** The registered kinds whose capabilities satisfy `test`, for hints ("use a target kind that …"). */
export function kindsWith(test: (c: Readonly<SinkCapabilities>) => boolean): string[] {
  return Object.values(kinds)
    .filter((d) => test(d.capabilities))
    .map((d) => d.kind);
}
