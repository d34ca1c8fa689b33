import { userInfo } from 'node:os';
import pg from 'pg';
import type { PostgresTargetConfig } from './postgres-config.js';
import { DynashiftError } from '../../errors.js';
import { loadedConnectionString } from './postgres-secrets.js';

/**
 * Where the PostgreSQL target lives, in this order:
 *   1. `postgres.connectionString` in the config;
 *   2. the Secrets Manager secret named by `postgres.connectionStringSecret`, once the AWS runner has loaded it
 *      (postgres-secrets.ts; the CLI does not read Secrets Manager and refuses such a target);
 *   3. the environment variable named by `postgres.connectionStringEnv` (default DATABASE_URL);
 *   4. the standard libpq variables (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE), which node-postgres reads.
 *
 * The password never leaves this module except inside the pg config: `description` (for plans and logs) is built
 * from the parts that are not secret, and `redact` scrubs the password out of any error text before it is thrown.
 */
export interface PgConnection {
  config: pg.ClientConfig;
  /** `postgres://user@host:port/db` — never the password. */
  description: string;
  /** Where the settings came from, for the plan. */
  from: string;
  notes: string[];
  /** Replaces every occurrence of the password in a message. */
  redact(text: string): string;
}

export function resolveConnection(target: PostgresTargetConfig, env: NodeJS.ProcessEnv = process.env): PgConnection {
  const settings = target.postgres ?? {};
  const notes: string[] = [];
  const envName = settings.connectionStringEnv ?? 'DATABASE_URL';
  let connectionString: string | undefined;
  let from: string;
  if (settings.connectionString) {
    connectionString = settings.connectionString;
    from = 'target.postgres.connectionString';
    if (passwordOf(connectionString)) {
      notes.push(
        `target ${target.table}: the connection string in the config holds a password; prefer postgres.connectionStringEnv so it stays out of the file`,
      );
    }
  } else if (settings.connectionStringSecret) {
    connectionString = loadedConnectionString(settings.connectionStringSecret);
    if (!connectionString) {
      throw new DynashiftError(
        'CONFIG_INVALID',
        `target ${target.table}: its connection string is in Secrets Manager (${settings.connectionStringSecret}), which only the AWS runner reads`,
        {
          side: 'target',
          hint: 'for `dynashift run`, put the connection string in an environment variable and name it in target.postgres.connectionStringEnv instead of connectionStringSecret',
          exitCode: 2,
        },
      );
    }
    from = `Secrets Manager secret ${settings.connectionStringSecret}`;
  } else if (env[envName]) {
    connectionString = env[envName];
    from = `environment variable ${envName}`;
  } else {
    from = 'PG* environment variables';
    if (settings.connectionStringEnv) notes.push(`target ${target.table}: ${envName} is not set; using the PG* environment variables`);
  }
  const secrets = [connectionString ? passwordOf(connectionString) : undefined, env['PGPASSWORD']].filter((s): s is string => Boolean(s));
  const redact = (text: string): string => secrets.reduce((t, s) => t.split(s).join('***'), text);
  return {
    config: { ...(connectionString ? { connectionString } : {}), application_name: 'dynashift' },
    description: connectionString ? describeUrl(connectionString) : describeEnv(env),
    from,
    notes,
    redact,
  };
}

/** Opens one client; connection failures become a DynashiftError that names the server, never the password. */
export async function connect(conn: PgConnection): Promise<pg.Client> {
  const client = new pg.Client(conn.config);
  client.on('error', () => {}); // a dropped idle connection surfaces on the next query, as a thrown error
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => {});
    throw unreachable(conn, err);
  }
  return client;
}

export function unreachable(conn: PgConnection, err: unknown): DynashiftError {
  return new DynashiftError(
    'CONFIG_INVALID',
    `cannot connect to PostgreSQL at ${conn.description} (from ${conn.from}): ${conn.redact(errorText(err))}`,
    {
      hint: 'check target.postgres.connectionString, the variable named by postgres.connectionStringEnv (default DATABASE_URL) or PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE, and that the server accepts this user',
    },
  );
}

export function errorText(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  return typeof code === 'string' ? `${message} (${code})` : message;
}

function passwordOf(connectionString: string): string | undefined {
  try {
    const url = new URL(connectionString);
    const fromQuery = url.searchParams.get('password');
    return url.password ? decodeURIComponent(url.password) : (fromQuery ?? undefined);
  } catch {
    return undefined;
  }
}

function describeUrl(connectionString: string): string {
  let url: URL;
  try {
    url = new URL(connectionString);
  } catch {
    // Never echo an unparsable string: it may be a password pasted in the wrong place.
    return '(a connection string that is not a postgres:// URL)';
  }
  const user = url.username ? `${decodeURIComponent(url.username)}@` : '';
  const socketHost = url.searchParams.get('host');
  return `${url.protocol}//${user}${url.host}${url.pathname}${socketHost ? `?host=${socketHost}` : ''}`;
}

function describeEnv(env: NodeJS.ProcessEnv): string {
  const user = env['PGUSER'] ?? safeUser();
  const host = env['PGHOST'] ?? 'localhost';
  const where = host.startsWith('/') ? `?host=${host}` : '';
  return `postgres://${user}@${where ? '' : host}:${env['PGPORT'] ?? '5432'}/${env['PGDATABASE'] ?? user}${where}`;
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return '(current user)';
  }
}
