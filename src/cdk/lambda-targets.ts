import type { ResolvedConfig } from '../config/resolved-config.js';
import { DynashiftError } from '../errors.js';
import type { PostgresTargetConfig } from '../sinks/postgres/postgres-config.js';
import type { DynashiftTargetProps } from './props.js';

/** What the deployed functions need to reach every target: the construct's target props and extra environment. */
export interface LambdaTargets {
  targets: Record<string, DynashiftTargetProps>;
  /** Variables copied from the deploying shell into the functions (a PostgreSQL target's postgres.connectionStringEnv). */
  environment: Record<string, string>;
}

/**
 * Checks, at `deploy` (synth) time, that the functions can reach every target of `config`, and says how: a DynamoDB
 * table in AWS or behind a DynamoDB-compatible endpoint, or a PostgreSQL database whose connection string comes from
 * a Secrets Manager secret, from an environment variable set while deploying, or from the bundled config. A target
 * Lambda can't reach is refused with TARGET_NOT_DEPLOYABLE naming what is missing — never deployed to fail later.
 */
export function lambdaTargets(config: ResolvedConfig, env: NodeJS.ProcessEnv = process.env): LambdaTargets {
  const targets: Record<string, DynashiftTargetProps> = {};
  const environment: Record<string, string> = {};
  for (const [name, target] of Object.entries(config.targets)) {
    const kind = target.kind ?? 'dynamodb';
    const base = {
      tableName: target.table,
      ...(target.region ? { region: target.region } : {}),
      ...(target.roleArn ? { roleArn: target.roleArn } : {}),
    };
    if (kind === 'dynamodb') {
      if (target.endpoint) refuseLoopback(name, target.endpoint, `target ${name}'s endpoint`, 'target.endpoint');
      targets[name] = {
        ...base,
        create: !('create' in target && target.create === false),
        ...(target.endpoint ? { endpoint: target.endpoint } : {}),
      };
    } else if (kind === 'postgres') {
      const pg = (target as PostgresTargetConfig).postgres ?? {};
      if (pg.connectionString) {
        // Bundled with the config: reachable, though the password then sits in the bundle (the plan notes it).
        refuseLoopback(name, pg.connectionString, `target ${name}'s postgres.connectionString`, 'target.postgres.connectionString');
      } else if (pg.connectionStringSecret) {
        // Read by the functions at run time; only its id is deployed.
      } else if (pg.connectionStringEnv) {
        const value = env[pg.connectionStringEnv];
        if (!value) {
          throw notDeployable(
            name,
            `PostgreSQL target ${name} takes its connection string from ${pg.connectionStringEnv}, which is not set where deploy runs`,
            `set ${pg.connectionStringEnv} before \`dynashift deploy\` (it is copied into the functions' environment, so into the template), or keep the string in Secrets Manager and name it in target.postgres.connectionStringSecret`,
          );
        }
        refuseLoopback(name, value, `${pg.connectionStringEnv}`, `${pg.connectionStringEnv} (target.postgres.connectionStringEnv)`);
        environment[pg.connectionStringEnv] = value;
      } else {
        throw notDeployable(
          name,
          `PostgreSQL target ${name} names no connection string the functions can read (DATABASE_URL and the PG* variables of the deploying shell are not deployed)`,
          'set target.postgres.connectionStringSecret to a Secrets Manager secret (ARN or name) holding it, or target.postgres.connectionStringEnv to a variable set while deploying',
        );
      }
      targets[name] = { ...base, kind: 'postgres', ...(pg.connectionStringSecret ? { connectionStringSecret: pg.connectionStringSecret } : {}) };
    } else if (kind === 'files') {
      const uri = (target as { files?: { uri?: string } }).files?.uri ?? '';
      throw notDeployable(
        name,
        uri.startsWith('s3://')
          ? `files target ${name} (${uri}) is write-once export files, which the AWS runner does not write yet: its segment copies run in parallel functions, and an export folder takes one writer`
          : `files target ${name} writes to the local path ${JSON.stringify(uri)}, which a Lambda function can't reach`,
        'run this migration with `dynashift run` (a files target may write to s3://bucket/prefix from there), or use a DynamoDB or PostgreSQL target with the AWS runner',
      );
    } else {
      throw notDeployable(name, `target ${name} is of kind "${kind}", which the AWS runner does not write`, 'use `dynashift run` for this target');
    }
  }
  return { targets, environment };
}

/** A loopback host is the deploying machine, never the function's: refused rather than deployed to time out. */
function refuseLoopback(name: string, url: string, what: string, setting: string): void {
  let host: string;
  try {
    host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return; // not a URL: the driver reports that where it connects
  }
  if (host === 'localhost' || host === '::1' || host === '0.0.0.0' || host.startsWith('127.') || host === '') {
    throw notDeployable(
      name,
      `${what} points at ${host || 'a local socket'}, which from a Lambda function is the function itself`,
      `set ${setting} to an address the functions can reach (with config lambda.vpc for a database in a VPC)`,
    );
  }
}

function notDeployable(target: string, message: string, hint: string): DynashiftError {
  return new DynashiftError('TARGET_NOT_DEPLOYABLE', message, { side: 'target', hint, exitCode: 2, details: { target } });
}
