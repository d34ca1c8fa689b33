import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { TargetConfig } from '../../config/schema.js';
import { DynashiftError } from '../../errors.js';
import type { PostgresTargetConfig } from './postgres-config.js';

/**
 * Connection strings read from Secrets Manager (`postgres.connectionStringSecret`), by secret id, for the life of
 * the process. Kept here and nowhere else — never copied into a config object, a state item, a log field or a metric —
 * so the only way out is postgres-connection.ts, which hands it to node-postgres and redacts its password.
 * The AWS runner loads them once per container (a warm Lambda reuses them); `load` again replaces them (rotation).
 */
const loaded = new Map<string, string>();

/** The secrets the targets name, in config order, without duplicates. */
export function secretIdsOf(targets: Record<string, TargetConfig>): string[] {
  const ids = Object.values(targets)
    .filter((t): t is PostgresTargetConfig => t.kind === 'postgres')
    .map((t) => t.postgres?.connectionStringSecret)
    .filter((id): id is string => Boolean(id));
  return [...new Set(ids)];
}

/** Reads every secret the targets name (GetSecretValue). A failure names the secret and the target setting, never a value. */
export async function loadConnectionSecrets(targets: Record<string, TargetConfig>, client: SecretsManagerClient): Promise<void> {
  for (const id of secretIdsOf(targets)) {
    let text: string | undefined;
    try {
      const out = await client.send(new GetSecretValueCommand({ SecretId: id }));
      text = out.SecretString ?? (out.SecretBinary ? Buffer.from(out.SecretBinary).toString('utf8') : undefined);
    } catch (err) {
      const name = (err as { name?: string }).name ?? 'Error';
      throw new DynashiftError(
        name === 'AccessDeniedException' ? 'ACCESS_DENIED' : 'AWS_ERROR',
        `cannot read the PostgreSQL connection secret ${id} from Secrets Manager (${name})`,
        {
          side: 'target',
          hint: "check target.postgres.connectionStringSecret names an existing secret in the function's Region and that the function may call secretsmanager:GetSecretValue on it (the DynashiftMigration construct grants it)",
          cause: err,
        },
      );
    }
    if (!text) {
      throw new DynashiftError('CONFIG_INVALID', `the Secrets Manager secret ${id} holds no string value`, {
        side: 'target',
        hint: 'store the connection string (postgres://user:password@host:port/db) or an RDS secret (JSON with host, port, username, password, dbname) in it',
      });
    }
    loaded.set(id, connectionStringFrom(id, text));
  }
}

/** The connection string loaded for a secret; undefined when it was not loaded in this process. */
export function loadedConnectionString(secretId: string): string | undefined {
  return loaded.get(secretId);
}

/** For tests: forget every loaded secret. */
export function forgetConnectionSecrets(): void {
  loaded.clear();
}

/**
 * A secret's value as a connection string: a postgres:// URL as it is, or the JSON RDS and Secrets Manager rotation
 * use ({ host, port, username, password, dbname }) built into one. Any other shape is refused without echoing it.
 */
export function connectionStringFrom(secretId: string, text: string): string {
  const trimmed = text.trim();
  if (/^postgres(ql)?:\/\//.test(trimmed)) return trimmed;
  let json: Record<string, unknown> | undefined;
  try {
    const parsed: unknown = JSON.parse(trimmed);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) json = parsed as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  const str = (k: string): string | undefined => (typeof json?.[k] === 'string' || typeof json?.[k] === 'number' ? String(json[k]) : undefined);
  const url = str('connectionString') ?? str('url');
  if (url && /^postgres(ql)?:\/\//.test(url)) return url;
  const host = str('host');
  const user = str('username') ?? str('user');
  if (!json || !host || !user) {
    throw new DynashiftError('CONFIG_INVALID', `the Secrets Manager secret ${secretId} is neither a postgres:// URL nor an RDS secret`, {
      side: 'target',
      hint: 'store a postgres:// connection string, or JSON with at least host and username (port, password, dbname optional) in target.postgres.connectionStringSecret',
    });
  }
  const password = str('password');
  const auth = `${encodeURIComponent(user)}${password ? `:${encodeURIComponent(password)}` : ''}`;
  const db = str('dbname') ?? str('database') ?? 'postgres';
  return `postgres://${auth}@${host}:${str('port') ?? '5432'}/${encodeURIComponent(db)}`;
}
