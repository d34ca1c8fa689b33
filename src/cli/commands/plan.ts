import { loadConfig } from '../../config/load-config.js';
import { PlanRefusedError } from '../../errors.js';
import { buildPlan, fmtKey, hours, type Plan } from '../../engine/plan.js';

export async function planCommand(flags: { config: string; json?: boolean; backfill?: string }): Promise<number> {
  const config = await loadConfig(flags.config, flags.backfill ? { backfill: flags.backfill } : {});
  const plan = await buildPlan(config);
  if (flags.json) process.stdout.write(`${JSON.stringify(plan, null, 2)}\n`);
  else process.stdout.write(formatPlan(plan, flags.config));
  if (plan.refusals.length > 0) {
    const err = new PlanRefusedError(plan.refusals);
    if (!flags.json) process.stderr.write(`\n${err.message}\n`);
    return err.exitCode;
  }
  return 0;
}

export function formatPlan(plan: Plan, configPath: string): string {
  const out: string[] = [`Migration ${plan.migration}`, ''];
  for (const [name, s] of Object.entries(plan.sources)) {
    out.push(`Source ${name}: ${s.table}${s.exists ? '' : ' (NOT FOUND)'}`);
    if (!s.exists) continue;
    out.push(`  key        ${s.keySchema ? fmtKey(s.keySchema) : '?'}`);
    for (const g of s.gsis) out.push(`  GSI        ${g.name} (${fmtKey(g)}, ${g.projection.type})`);
    for (const l of s.lsis) out.push(`  LSI        ${l.name} (${fmtKey(l)}, ${l.projection.type})`);
    out.push(`  items      ~${s.itemCount.toLocaleString('en-US')} (${mb(s.sizeBytes)}; DynamoDB refreshes these about every 6 h)`);
    out.push(
      `  capacity   ${s.billingMode === 'PROVISIONED' ? `provisioned ${s.readCapacityUnits} RCU / ${s.writeCapacityUnits} WCU` : 'on-demand'}`,
    );
    out.push(`  stream     ${s.stream.enabled ? `enabled, ${s.stream.viewType}` : 'DISABLED'}${s.stream.arn ? ` (${s.stream.arn})` : ''}`);
    out.push(`  ttl        ${s.ttlAttribute ?? 'none'}`);
  }
  out.push('');
  for (const [name, t] of Object.entries(plan.targets)) {
    out.push(
      `Target ${name}: ${t.table}${t.kind === 'dynamodb' ? '' : ` (${t.kind})`} — ${t.exists ? 'exists' : t.willCreate ? 'will be created' : 'missing'}`,
    );
    for (const line of t.describe) out.push(`  ${line}`);
  }
  out.push('');
  const st = plan.strategy;
  const capped =
    st.segmentsConfigured !== undefined ? ` — capped from backfill.segments ${st.segmentsConfigured.toLocaleString('en-US')}, see Notes` : '';
  const strategy: Record<string, string> = {
    scan: `open the stream position, back-fill by parallel Scan (${st.segments} segments${capped}, ${st.concurrency} at once, ${st.consistentRead ? 'strongly consistent' : 'eventually consistent'} reads), then apply the stream`,
    export: 'back-fill from the DynamoDB export files (no table reads), then apply the stream from just before the export time',
    touch: `open the stream position, update every item (${st.segments} segments${capped}) so it flows through the stream, remove the marker, then apply the stream`,
    none: 'no backfill: apply the stream from its trim horizon only',
  };
  out.push(
    `Strategy   ${plan.writeOnceOnly ? 'write the snapshot as DynamoDB export files (no stream)' : (strategy[st.backfill] ?? st.backfill)}; item errors: ${st.onError}`,
  );
  const e = plan.estimate;
  out.push(
    `Estimate   ${e.items.toLocaleString('en-US')} items, ${mb(e.bytes)}: ${e.readUnits.toLocaleString('en-US')} read units + ${e.writeUnits.toLocaleString('en-US')} write units;` +
      ` about ${hours(e.seconds)} at ${Math.round(e.readUnitsPerSecond)} RCU/s and ${Math.round(e.writeUnitsPerSecond)} WCU/s`,
  );
  out.push(
    `Stream     ${
      plan.writeOnceOnly
        ? 'not read (export files only)'
        : plan.stream.duringBackfill
          ? 'applied from the first second, while the backfill runs: the backfill is not bounded by the 24-hour retention'
          : `applied after the backfill (${plan.stream.afterBackfillReason}): backfill and catch-up must end within the 24-hour retention`
    }`,
  );
  out.push(
    `Key moves  ${plan.keyCanMove ? "an update can move an item to another target key: deletes use the stream's OLD images" : 'target keys follow source keys'}`,
  );
  out.push('', 'IAM actions needed, per command (database privileges for non-AWS targets)');
  for (const [who, p] of Object.entries(plan.iam)) {
    out.push(`  ${who} (${p.table}):`, `    all: ${p.actions.join(', ')}`, `    on ${p.resources.join(', ')}`);
    for (const [command, actions] of Object.entries(p.commands)) out.push(`    ${`${command}:`.padEnd(24)}${actions.join(', ')}`);
    for (const note of p.notes) out.push(`    note: ${note}`);
  }
  if (plan.notes.length) out.push('', 'Notes', ...plan.notes.map((n) => `  - ${n}`));
  out.push('');
  out.push(
    plan.refusals.length === 0
      ? `OK: ready to migrate. Next: dynashift run -c ${configPath}`
      : `REFUSED: ${plan.refusals.length} problem(s), listed below.`,
  );
  return `${out.join('\n')}\n`;
}

function mb(bytes: number): string {
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(2)} GB` : `${(bytes / 1e6).toFixed(1)} MB`;
}
