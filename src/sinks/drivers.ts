import type { TargetConfig } from '../config/schema.js';
import { DynashiftError } from '../errors.js';
import type { SinkDriver } from './driver.js';
import type { SinkCapabilities } from './sink.js';
import { dynamoDbDriver } from './dynamodb/dynamodb-driver.js';
import { filesDriver } from './files/files-driver.js';
import { postgresDriver } from './postgres/postgres-driver.js';

/** Sink drivers by kind. A new kind is one folder under sinks/ plus one line here. */
const drivers: Record<string, SinkDriver> = {
  dynamodb: dynamoDbDriver,
  postgres: postgresDriver,
  files: filesDriver,
};

export function registerSinkDriver(driver: SinkDriver): void {
  drivers[driver.kind] = driver;
}

export function driverFor(target: TargetConfig): SinkDriver {
  const kind = target.kind ?? 'dynamodb';
  const driver = drivers[kind];
  if (!driver) {
    throw new DynashiftError('CONFIG_INVALID', `unknown target kind "${kind}"`, {
      hint: `use one of: ${Object.keys(drivers).join(', ')}`,
      exitCode: 2,
    });
  }
  return driver;
}

/** The registered kinds whose capabilities satisfy `test`, for hints ("use a target kind that …"). */
export function kindsWith(test: (c: Readonly<SinkCapabilities>) => boolean): string[] {
  return Object.values(drivers)
    .filter((d) => test(d.capabilities))
    .map((d) => d.kind);
}
