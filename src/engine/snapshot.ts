import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { ResolvedConfig } from '../config/resolved-config.js';
import { sinkKindOf } from '../sinks/drivers.js';
import { strategyFor } from './strategies/registry.js';

/** The parts of a config that checkpoints depend on; resuming with a different one is refused. */
export function fingerprint(config: ResolvedConfig): string {
  const shape = {
    sources: Object.fromEntries(Object.entries(config.sources).map(([n, s]) => [n, [s.table, s.region ?? '', s.endpoint ?? '']])),
    targets: Object.fromEntries(Object.entries(config.targets).map(([n, t]) => [n, targetLocation(t)])),
    backfill: [config.backfill.strategy, strategyFor(config.backfill.strategy).fingerprint(config)],
  };
  return createHash('sha256').update(JSON.stringify(shape)).digest('hex').slice(0, 16);
}

/** [kind, …where the driver says the target lives]; unchanged in shape so existing checkpoints keep their fingerprint. */
function targetLocation(target: ResolvedConfig['targets'][string]): string[] {
  const driver = sinkKindOf(target);
  return [driver.kind, ...(driver.location?.(target) ?? [target.table, target.region ?? '', target.endpoint ?? '', ''])];
}

/**
 * What the target's items depend on besides the source: the transform's code, and the config that shapes its output.
 * A resume must match it (engine/resume-check.ts), or items copied before and after a change would follow two rules.
 * - code: the transform module's file (JSON configs, or a module path in TS) and the function's own text; for an
 *   inline function in a TS config, its text only (constants it closes over elsewhere in the file are not seen);
 * - output: the target names and keys, single target or split, backfill.skipExpired and the touch marker.
 */
export function transformFingerprint(config: ResolvedConfig): TransformFingerprint {
  const code = createHash('sha256');
  if (!config.transform) {
    code.update('no transform');
  } else {
    code.update(config.transform.toString());
    if (config.transformSource && config.transformSource !== 'inline' && existsSync(config.transformSource)) {
      code.update('\0').update(readFileSync(config.transformSource));
    }
  }
  const output = {
    single: config.singleTarget ?? null,
    targets: Object.fromEntries(
      Object.entries(config.targets).map(([n, t]) => [
        n,
        {
          kind: t.kind ?? 'dynamodb',
          key: ('create' in t && t.create ? t.create.keySchema : undefined) ?? ('keySchema' in t ? t.keySchema : undefined) ?? null,
          columns: ('postgres' in t ? t.postgres?.columns : undefined) ?? null,
        },
      ]),
    ),
    skipExpired: config.backfill.skipExpired,
    marker: config.backfill.touch?.marker ?? null,
  };
  return {
    code: code.digest('hex').slice(0, 16),
    output: createHash('sha256').update(JSON.stringify(output)).digest('hex').slice(0, 16),
  };
}

export interface TransformFingerprint {
  code: string;
  output: string;
}
