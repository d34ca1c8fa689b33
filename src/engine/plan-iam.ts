import type { ResolvedConfig } from '../config/resolved-config.js';
import type { TargetInspection } from '../sinks/driver.js';
import type { TableInfo } from '../aws/inspect-table.js';
import { strategyFor } from './strategies/registry.js';

/**
 * The IAM actions each principal needs, per command: what the configured migration will really call, so a policy
 * written from the plan never fails half-way (a rollback that can't write the source, a `finish --delete-source`
 * that can't read CloudWatch). Non-AWS targets list database privileges (PostgreSQL) or folder access instead.
 */
export type PlanCommand = 'plan' | 'run' | 'verify' | 'verify --repair' | 'cutover writes' | 'rollback' | 'finish --delete-source';

export interface IamGrant {
  table: string;
  /** Every action of every command below, once each. */
  actions: string[];
  resources: string[];
  /** The actions each command calls; a command that needs nothing from this principal is left out. */
  commands: Partial<Record<PlanCommand, string[]>>;
  notes: string[];
}

const d = (...actions: string[]) => actions.map((a) => `dynamodb:${a}`);
const INSPECT = d('DescribeTable', 'DescribeTimeToLive', 'DescribeContinuousBackups');
const STREAM_READ = d('DescribeStream', 'GetShardIterator', 'GetRecords');
const WRITE = d('BatchWriteItem', 'PutItem', 'DeleteItem');
const READ_BACK = d('Scan', 'BatchGetItem');

export function iamGrants(
  config: ResolvedConfig,
  sources: Record<string, TableInfo>,
  targets: Record<string, TargetInspection>,
): Record<string, IamGrant> {
  const out: Record<string, IamGrant> = {};
  // Reverse replication (cutover writes, rollback) runs only with an inverse transform, one DynamoDB target.
  const reverse = config.inverseTransform !== undefined;

  for (const [n, ref] of Object.entries(config.sources)) {
    const arn = sources[n]?.arn ?? `arn:aws:dynamodb:${ref.region ?? '<region>'}:<account>:table/${ref.table}`;
    const run = [...INSPECT, ...STREAM_READ];
    const notes: string[] = [];
    const backfill = strategyFor(config.backfill.strategy).runGrants(config);
    run.push(...backfill.actions);
    notes.push(...backfill.notes);
    const commands: IamGrant['commands'] = {
      plan: [...INSPECT, ...d('Scan')],
      run,
      verify: [...INSPECT, ...READ_BACK],
      'verify --repair': [...INSPECT, ...READ_BACK, ...(reverse ? WRITE : [])],
    };
    if (reverse) {
      // The target's changes are written back to the source, each checked against a consistent read of it.
      commands['cutover writes'] = [...d('DescribeTable', 'Scan'), ...d('GetItem'), ...WRITE];
      commands.rollback = [...d('GetItem'), ...WRITE, ...STREAM_READ];
    }
    commands['finish --delete-source'] = [...d('DeleteTable'), 'cloudwatch:GetMetricData'];
    notes.push('cloudwatch:GetMetricData takes resource "*" (CloudWatch has no per-table resource)');
    out[`source ${n}`] = grant(ref.table, [arn, `${arn}/stream/*`], commands, notes, ref.roleArn);
  }

  for (const [n, ref] of Object.entries(config.targets)) {
    const inspection = targets[n]!;
    const kind = ref.kind ?? 'dynamodb';
    if (kind !== 'dynamodb') {
      // PostgreSQL (database privileges) and files (S3 or a folder) have no DynamoDB actions; the driver says what.
      const own = inspection.permissions.actions;
      out[`target ${n}`] = grant(
        ref.table,
        inspection.permissions.resources,
        { run: own, verify: own },
        [kind === 'postgres' ? 'PostgreSQL: database privileges, no IAM actions' : 'files: access to the export location'],
        ref.roleArn,
      );
      continue;
    }
    const resources = inspection.permissions.resources;
    const arn = resources[0] ?? `arn:aws:dynamodb:${ref.region ?? '<region>'}:<account>:table/${ref.table}`;
    const create = inspection.willCreate
      ? [...d('CreateTable', 'UpdateTimeToLive'), ...('create' in ref && ref.create && ref.create.replicas?.length ? d('UpdateTable') : [])]
      : [];
    const commands: IamGrant['commands'] = {
      plan: INSPECT,
      run: [...INSPECT, ...create, ...WRITE],
      verify: [...INSPECT, ...READ_BACK],
      'verify --repair': [...INSPECT, ...READ_BACK, ...WRITE],
    };
    if (reverse) {
      // Reverse replication reads the target's stream, and reads a target item to tell a put to a key on its way out.
      commands['cutover writes'] = [...d('DescribeTable', 'GetItem'), ...STREAM_READ];
      commands.rollback = [...d('GetItem'), ...STREAM_READ];
    }
    out[`target ${n}`] = grant(ref.table, [arn, ...(reverse ? [`${arn}/stream/*`] : [])], commands, [], ref.roleArn);
  }
  return out;
}

function grant(table: string, resources: string[], commands: IamGrant['commands'], notes: string[], roleArn: string | undefined): IamGrant {
  if (roleArn) {
    for (const c of Object.keys(commands) as PlanCommand[]) commands[c] = [...commands[c]!, 'sts:AssumeRole'];
    notes.push(`sts:AssumeRole on ${roleArn}; the actions above are then the role's`);
  }
  for (const c of Object.keys(commands) as PlanCommand[]) commands[c] = [...new Set(commands[c])];
  const actions = [...new Set(Object.values(commands).flat())];
  return { table, actions, resources, commands, notes };
}
