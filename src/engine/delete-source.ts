import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import type { ResolvedConfig } from '../config/resolved-config.js';
import { DynashiftError } from '../errors.js';
import { withClients } from '../aws/clients.js';
import { roleFor } from '../aws/errors.js';
import type { MetricsClient, TrafficPoint } from '../aws/table-traffic.js';
import type { MigrationState } from '../state/migration-state.js';

export interface DeleteSourceOptions {
  windowMinutes: number;
  force: boolean;
  /** Asks the operator; resolves true to go ahead. */
  confirm: (question: string) => Promise<boolean>;
  metrics: (source: string) => MetricsClient;
  say: (line: string) => void;
  now?: () => number;
}

/** CloudWatch publishes a minute's data points a little late; ignore the newest ones and dynashift's own last writes. */
const SETTLE_MS = 2 * 60_000;

/**
 * Deletes the source tables of a finished migration, but only after showing their consumed capacity over a recent
 * window and finding it idle — traffic there means something still uses the old table.
 */
export async function deleteSources(config: ResolvedConfig, state: MigrationState, opts: DeleteSourceOptions): Promise<string[]> {
  if (state.phase !== 'finished') {
    throw new DynashiftError('DELETE_SOURCE_REFUSED', `the source can be deleted only after \`dynashift finish\` (phase ${state.phase})`, {
      hint: 'run `dynashift finish -c FILE` first',
      exitCode: 2,
    });
  }
  const now = opts.now?.() ?? Date.now();
  const finishedAt = Date.parse(state.cutover?.finishedAt ?? state.updatedAt);
  const start = new Date(Math.max(now - opts.windowMinutes * 60_000, finishedAt + SETTLE_MS));
  const end = new Date(now - SETTLE_MS);
  const deleted: string[] = [];
  for (const [name, ref] of Object.entries(config.sources)) {
    let traffic: TrafficPoint[] = [];
    if (end.getTime() - start.getTime() < 5 * 60_000) {
      if (!opts.force) {
        throw new DynashiftError(
          'DELETE_SOURCE_REFUSED',
          `only ${Math.max(0, Math.round((end.getTime() - start.getTime()) / 60_000))} minute(s) of CloudWatch data exist since replication stopped: too little to tell whether ${ref.table} is still used`,
          {
            hint: 'wait at least 7 minutes after `finish` (or pass --force)',
            exitCode: 2,
          },
        );
      }
    } else {
      const metrics = opts.metrics(name);
      try {
        traffic = await metrics.consumedCapacity(ref.table, start, end);
      } catch (err) {
        if (!opts.force) {
          throw new DynashiftError('AWS_ERROR', `could not read CloudWatch metrics for ${ref.table}: ${(err as Error).message}`, {
            hint: 'grant cloudwatch:GetMetricData, or pass --force to delete without the traffic check',
            exitCode: 1,
            cause: err,
          });
        }
        opts.say(`  CloudWatch unavailable (${(err as Error).message}); --force given, continuing without the traffic check`);
      } finally {
        metrics.destroy?.();
      }
    }
    const reads = traffic.reduce((n, p) => n + p.readUnits, 0);
    const writes = traffic.reduce((n, p) => n + p.writeUnits, 0);
    opts.say(
      `source ${name} (${ref.table}): consumed ${round(reads)} read and ${round(writes)} write units between ${start.toISOString()} and ${end.toISOString()}`,
    );
    for (const p of traffic.filter((t) => t.readUnits > 0 || t.writeUnits > 0).slice(-10)) {
      opts.say(`  ${p.at}: ${round(p.readUnits)} RCU, ${round(p.writeUnits)} WCU`);
    }
    if ((reads > 0 || writes > 0) && !opts.force) {
      throw new DynashiftError(
        'DELETE_SOURCE_REFUSED',
        `${ref.table} still sees traffic (${round(reads)} read, ${round(writes)} write units in the window): something still uses it`,
        {
          hint: 'find and switch the remaining readers/writers, then try again — or pass --force to delete it anyway',
          exitCode: 2,
        },
      );
    }
    if (!(await opts.confirm(`Delete table ${ref.table}? This cannot be undone. Type the table name to confirm: `))) {
      opts.say(`kept ${ref.table}`);
      continue;
    }
    await withClients(ref, roleFor('source', name, ref), (c) => c.dynamodb.send(new DeleteTableCommand({ TableName: ref.table })));
    opts.say(`deleted ${ref.table}`);
    deleted.push(ref.table);
  }
  return deleted;
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
