import { resolve } from 'node:path';
import { loadConfig } from '../../config/load-config.js';
import { reverseConfig } from '../../config/reverse-config.js';
import type { DdbJsonMap } from '../../core/ddb-json.js';
import { runVerify } from '../../engine/verify/run-verify.js';
import type { Finding, VerifyResult } from '../../engine/verify/types.js';
import { createLogger } from '../logger.js';
import { onShutdownSignal } from '../signals.js';
import { runController } from '../../core/run-signal.js';

export interface VerifyFlags {
  config: string;
  sample?: number;
  repair?: boolean;
  report?: string;
  recheckRounds?: number;
  recheckDelay?: number;
  concurrency?: number;
  json?: boolean;
  reverse?: boolean;
  logFormat?: 'pretty' | 'json';
}

/** Keys shown per category on the terminal; the report file has up to the result's limit. */
const SHOWN = 20;

/** Exit 0 when the targets equal transform(source), 1 when not (details in the report file). */
export async function verifyCommand(flags: VerifyFlags): Promise<number> {
  const log = createLogger({ format: flags.logFormat });
  const forward = await loadConfig(flags.config);
  // --reverse: after `cutover writes`, the source follows the target; check inverse(target) against the source.
  const config = flags.reverse ? { ...reverseConfig(forward), stateDir: forward.stateDir } : forward;
  const controller = runController();
  const release = onShutdownSignal(() => {
    log.info({}, 'stopping verify (send the signal again to force)');
    controller.abort();
  });
  try {
    const result = await runVerify(config, {
      log,
      signal: controller.signal,
      ...(flags.sample !== undefined ? { sample: flags.sample } : {}),
      ...(flags.repair ? { repair: true } : {}),
      ...(flags.report ? { reportPath: resolve(flags.report) } : {}),
      ...(flags.recheckRounds !== undefined ? { recheckRounds: flags.recheckRounds } : {}),
      ...(flags.recheckDelay !== undefined ? { recheckDelayMs: flags.recheckDelay } : {}),
      ...(flags.concurrency !== undefined ? { concurrency: flags.concurrency } : {}),
    });
    process.stdout.write(flags.json ? `${JSON.stringify(result, null, 2)}\n` : formatVerify(result, config.name));
    return result.identical ? 0 : 1;
  } finally {
    release();
  }
}

export function formatVerify(r: VerifyResult, name: string): string {
  const c = r.counts;
  const n = (x: number) => x.toLocaleString('en-US');
  const out = [
    `Verify ${name}: ${r.mode === 'sample' ? `random sample of ${n(r.sampled ?? 0)} source item(s)` : 'full comparison'} of transform(source) with the target(s)`,
    `  expected ${n(c.expected)} item(s), ${r.mode === 'sample' ? 'found' : 'target(s) hold'} ${n(c.actual)}`,
    `  missing ${n(c.missing)} · extra ${n(c.extra)} · differing ${n(c.differing)} · transform errors ${n(c.transformErrors)}` +
      ` · in flight (resolved on re-check) ${n(c.recheckedInFlight)}${c.repaired || c.repairSkipped ? ` · repaired ${n(c.repaired)} · not repaired ${n(c.repairSkipped)}` : ''}`,
  ];
  const section = (label: string, total: number, lines: string[], cut: boolean): void => {
    if (total === 0) return;
    out.push('', `${label} (${n(total)}${total > lines.length ? `, first ${lines.length} shown` : ''}):`, ...lines.map((l) => `  ${l}`));
    if (cut) out.push(`  … more in the report (it keeps up to ${n(r.limit)} per category)`);
  };
  const keyLine = (f: Finding, extra = ''): string =>
    `${f.target}  ${formatKey(f.key)}${extra}${f.repaired ? '  [repaired]' : f.repairNote ? `  [${f.repairNote}]` : ''}`;
  section(
    'missing',
    c.missing,
    r.missing.slice(0, SHOWN).map((f) => keyLine(f)),
    c.missing > SHOWN,
  );
  section(
    'extra',
    c.extra,
    r.extra.slice(0, SHOWN).map((f) => keyLine(f)),
    c.extra > SHOWN,
  );
  section(
    'differing',
    c.differing,
    r.differing.slice(0, SHOWN).map((f) => keyLine(f, `  attributes: ${f.attributes.join(', ')}`)),
    c.differing > SHOWN,
  );
  section(
    'transform errors',
    c.transformErrors,
    r.transformErrors.slice(0, SHOWN).map((e) => `${e.source}  ${formatKey(e.sourceKey)}  [${e.code}] ${e.message}`),
    c.transformErrors > SHOWN,
  );
  if (r.notes.length) out.push('', 'notes:', ...r.notes.map((note) => `  - ${note}`));
  out.push('', `report: ${r.reportPath}`);
  const differences = c.missing + c.extra + c.differing;
  if (r.interrupted) out.push('✘ interrupted: the comparison is incomplete.');
  else if (r.identical) {
    out.push(
      r.mode === 'sample'
        ? '✔ 0 differences among the sampled items: the target(s) equal transform(source) for each of them.'
        : '✔ 0 differences: the target(s) equal transform(source).',
    );
  } else if (differences > 0 && c.repaired === differences && c.transformErrors === 0) {
    out.push(`✘ ${n(differences)} difference(s) found, all repaired and re-checked; run verify again to confirm.`);
  } else {
    out.push(`✘ ${n(differences)} difference(s)${c.transformErrors ? ` and ${n(c.transformErrors)} item(s) the transform could not map` : ''}.`);
  }
  return `${out.join('\n')}\n`;
}

/** `id="item-1", n=15` — key attributes only, never item values. */
export function formatKey(key: DdbJsonMap): string {
  return Object.entries(key)
    .map(([name, v]) => {
      const o = v as Record<string, unknown>;
      if (typeof o['S'] === 'string') return `${name}=${JSON.stringify(o['S'])}`;
      if (typeof o['N'] === 'string') return `${name}=${o['N']}`;
      if (typeof o['B'] === 'string') return `${name}=b64:${o['B']}`;
      return `${name}=?`;
    })
    .join(', ');
}
