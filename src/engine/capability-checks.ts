import type { ResolvedConfig } from '../config/resolved-config.js';
import type { Refusal } from '../errors.js';
import type { AttributeMap, KeySchema } from '../core/item.js';
import { ItemMapper } from '../core/transform.js';
import { kindsWith } from '../sinks/drivers.js';
import type { SinkCapabilities } from '../sinks/sink.js';

/**
 * What the config asks of each target against what its driver declares (SinkCapabilities): a setting a target can't
 * honour is refused at `plan`, never ignored at run time.
 */
export function capabilityRefusals(config: ResolvedConfig, capabilities: Record<string, Readonly<SinkCapabilities>>): Refusal[] {
  const out: Refusal[] = [];
  for (const [name, caps] of Object.entries(capabilities)) {
    const table = config.targets[name]?.table ?? name;
    if (config.guard && !caps.conditionalWrites) {
      out.push({
        code: 'GUARD_UNSUPPORTED',
        message: `target ${name} (${table}) can't make a write conditional on the stored version, so guard.versionAttribute "${config.guard.versionAttribute}" would be ignored`,
        hint: `remove "guard" from the config, or migrate to a target kind that honours it (${kindsWith((c) => c.conditionalWrites).join(', ')})`,
      });
    }
    if (config.inverseTransform && !caps.changeStream) {
      out.push({
        code: 'REVERSE_UNSUPPORTED',
        message: `inverseTransform is set for rollback, but target ${name} (${table}) has no change stream to replicate back to the source from`,
        hint: `remove "inverseTransform" and cut over with \`dynashift cutover writes --no-reverse\`, or migrate to a target kind with a stream (${kindsWith((c) => c.changeStream).join(', ')})`,
      });
    }
  }
  if (config.inverseTransform && (Object.keys(config.sources).length !== 1 || Object.keys(config.targets).length !== 1)) {
    out.push({
      code: 'REVERSE_UNSUPPORTED',
      message: `inverseTransform is set for rollback, but reverse replication needs exactly one source and one target (the config has ${Object.keys(config.sources).length} and ${Object.keys(config.targets).length})`,
      hint: 'remove "inverseTransform" and cut over with `dynashift cutover writes --no-reverse`',
    });
  }
  return out;
}

/** DynamoDB compares a version only with one of its own type: numbers with numbers, strings with strings. */
const COMPARABLE = ['N', 'S'] as const;

/**
 * The guard compares `guard.versionAttribute` of the incoming item with the stored one. On sampled items (after the
 * transform) it must be a number or a string, one type per target: a BOOL, a map or a mix of N and S can't be
 * ordered, so guarded writes would be skipped rather than applied.
 */
export function guardSampleRefusals(config: ResolvedConfig, source: string, items: AttributeMap[], targetKeys: Record<string, KeySchema>): Refusal[] {
  const attr = config.guard?.versionAttribute;
  if (!attr || items.length === 0) return [];
  const mapper = new ItemMapper({ transform: config.transform, targets: targetKeys, singleTarget: config.singleTarget });
  const types: Record<string, Set<string>> = {};
  const out: Refusal[] = [];
  for (const item of items) {
    let routed;
    try {
      routed = mapper.map(source, item);
    } catch {
      continue; // the sample checks report it
    }
    for (const r of routed) {
      const value = r.item[attr];
      if (value === undefined) continue;
      const type = Object.keys(value)[0] ?? '?';
      (types[r.target] ??= new Set()).add(type);
    }
  }
  for (const [target, seen] of Object.entries(types)) {
    const bad = [...seen].filter((t) => !(COMPARABLE as readonly string[]).includes(t));
    if (bad.length > 0 || seen.size > 1) {
      out.push({
        code: 'GUARD_INVALID',
        message: `guard.versionAttribute "${attr}" of sampled items for target ${target} (from source ${source}) has type ${[...seen].sort().join(' and ')}: a version must be all numbers (N) or all ISO-8601 strings (S) to be compared`,
        hint: `point guard.versionAttribute at an attribute that holds one N or S version per item, or make the transform write "${attr}" that way`,
      });
    }
  }
  return out;
}
