import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';
import type { Jiti } from 'jiti';
import type { z } from 'zod';
import { DynashiftError } from '../errors.js';
import type { Transform } from '../core/transform.js';
import { jsonConfigSchema, tsConfigSchema } from './schema.js';
import { DEFAULTS, type ResolvedConfig } from './resolved-config.js';
import type { BackfillConfig } from './schema.js';

const CONFIG_NAMES = ['dynashift.config.ts', 'dynashift.config.mts', 'dynashift.config.js', 'dynashift.config.mjs', 'dynashift.config.json'];

let jiti: Jiti | undefined;

/** jiti (TypeScript configs and transforms) is loaded on first use: a JSON config without a transform never needs it. */
async function loadJiti(): Promise<Jiti> {
  const { createJiti } = await import('jiti');
  return (jiti ??= createJiti(import.meta.url, { moduleCache: false, interopDefault: true }));
}

/** Loads `dynashift.config.ts` (or .js/.mjs) or a JSON config, validates it and fills in defaults. */
export interface ConfigOverrides {
  onError?: 'halt' | 'dead-letter';
  /** `--backfill`: a strategy name that replaces backfill.strategy. */
  backfill?: string;
}

export async function loadConfig(path: string, overrides: ConfigOverrides = {}): Promise<ResolvedConfig> {
  const configPath = resolve(path);
  if (!existsSync(configPath)) {
    throw new DynashiftError('CONFIG_NOT_FOUND', `config file not found: ${configPath}`, {
      hint: 'pass the config with -c FILE (dynashift.config.ts or a .json file)',
      exitCode: 2,
      side: 'config',
    });
  }
  if (statSync(configPath).isDirectory()) {
    const inside = CONFIG_NAMES.map((n) => join(configPath, n)).find((p) => existsSync(p));
    throw new DynashiftError('CONFIG_NOT_A_FILE', `-c ${path} is a folder, not a config file`, {
      hint: inside ? `pass the file: -c ${inside}` : `pass the config file itself: -c ${join(path, 'dynashift.config.ts')} (or a .json file)`,
      exitCode: 2,
      side: 'config',
    });
  }
  const isJson = extname(configPath).toLowerCase() === '.json';
  const raw = isJson ? readJson(configPath) : await importModule(configPath, 'config');
  const parsed = (isJson ? jsonConfigSchema : tsConfigSchema).safeParse(raw);
  if (!parsed.success) throw configError(configPath, parsed.error);
  return resolveConfig(configPath, parsed.data, overrides);
}

async function resolveConfig(configPath: string, cfg: z.infer<typeof tsConfigSchema>, overrides: ConfigOverrides): Promise<ResolvedConfig> {
  const problems: string[] = [];
  if (cfg.source && cfg.sources) problems.push('use either "source" or "sources", not both');
  if (!cfg.source && !cfg.sources) problems.push('"source" is required: { "table": "MyTable" }');
  if (cfg.target && cfg.targets) problems.push('use either "target" or "targets", not both');
  if (!cfg.target && !cfg.targets) problems.push('"target" is required: { "table": "MyNewTable" }');
  if (cfg.targets && !cfg.transform) problems.push('"targets" (a split) needs a "transform" that routes items to them');
  if (cfg.sources && Object.keys(cfg.sources).length === 0) problems.push('"sources" is empty');
  if (cfg.targets && Object.keys(cfg.targets).length === 0) problems.push('"targets" is empty');
  if (problems.length > 0) {
    throw new DynashiftError('CONFIG_INVALID', `invalid config ${configPath}:\n${problems.map((p) => `  - ${p}`).join('\n')}`, {
      hint: 'fix the fields named above',
      exitCode: 2,
    });
  }
  const sources = cfg.sources ?? { source: cfg.source! };
  const targets = cfg.targets ?? { target: cfg.target! };
  checkTableNames(sources, targets);

  let transform: Transform | undefined;
  let transformSource: string | undefined;
  if (typeof cfg.transform === 'function') {
    transform = cfg.transform as Transform;
    transformSource = 'inline';
  } else if (typeof cfg.transform === 'string') {
    const modulePath = resolve(dirname(configPath), cfg.transform);
    transform = await loadTransformModule(modulePath);
    transformSource = modulePath;
  }

  let inverseTransform: Transform | undefined;
  if (typeof cfg.inverseTransform === 'function') inverseTransform = cfg.inverseTransform as Transform;
  else if (typeof cfg.inverseTransform === 'string') inverseTransform = await loadTransformModule(resolve(dirname(configPath), cfg.inverseTransform));

  const name = cfg.name ?? defaultName(sources, targets);
  return {
    name,
    configPath,
    stateDir: resolve(dirname(configPath), cfg.stateDir ?? DEFAULTS.stateDir, name),
    sources,
    targets,
    singleTarget: cfg.target ? 'target' : undefined,
    transform,
    transformSource,
    ...(inverseTransform ? { inverseTransform } : {}),
    backfill: {
      ...DEFAULTS.backfill,
      ...stripUndefined(cfg.backfill ?? {}),
      ...(overrides.backfill ? backfillOverride(overrides.backfill, cfg.backfill?.export) : {}),
    },
    stream: { ...DEFAULTS.stream, ...stripUndefined(cfg.stream ?? {}) },
    write: { ...DEFAULTS.write, ...stripUndefined(cfg.write ?? {}) },
    onError: overrides.onError ?? cfg.onError ?? DEFAULTS.onError,
    ...(cfg.guard ? { guard: cfg.guard } : {}),
    ...(cfg.lambda ? { lambda: cfg.lambda } : {}),
    ...(cfg.state ? { state: { ...DEFAULTS.state, ...stripUndefined(cfg.state), table: cfg.state.table } } : {}),
  };
}

export async function loadTransformModule(modulePath: string): Promise<Transform> {
  if (!existsSync(modulePath)) {
    throw new DynashiftError('TRANSFORM_LOAD_FAILED', `transform module not found: ${modulePath}`, {
      hint: '"transform" is a path relative to the config file, e.g. "./transform.ts"',
      exitCode: 2,
    });
  }
  const mod = (await importModule(modulePath, 'transform')) as unknown;
  const fn = typeof mod === 'function' ? mod : (mod as { transform?: unknown })?.transform;
  if (typeof fn !== 'function') {
    throw new DynashiftError('TRANSFORM_LOAD_FAILED', `${modulePath} exports no transform function`, {
      hint: 'export it as `export default function transform(item) {…}` or `export function transform(item) {…}`',
      exitCode: 2,
    });
  }
  return fn as Transform;
}

async function importModule(path: string, what: string): Promise<unknown> {
  try {
    return await (await loadJiti()).import(path, { default: true });
  } catch (err) {
    throw new DynashiftError(
      what === 'config' ? 'CONFIG_INVALID' : 'TRANSFORM_LOAD_FAILED',
      `could not load ${what} ${path}: ${err instanceof Error ? err.message : String(err)}`,
      {
        hint: `fix the error in ${path}`,
        cause: err,
        exitCode: 2,
      },
    );
  }
}

/**
 * A union (e.g. `create: false | {…}`) fails as a whole with "Invalid input"; report the issues of the branch that
 * got furthest instead, so the message names the exact field.
 */
function flattenIssues(issues: readonly z.core.$ZodIssue[], prefix: PropertyKey[] = []): { path: PropertyKey[]; message: string }[] {
  const out: { path: PropertyKey[]; message: string }[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      const best = [...issue.errors].sort((a, b) => depth(b) - depth(a))[0]!;
      out.push(...flattenIssues(best, path));
    } else {
      out.push({ path, message: issue.message });
    }
  }
  return out;
}

function depth(issues: readonly z.core.$ZodIssue[]): number {
  return Math.max(0, ...issues.map((i) => i.path.length + (i.code === 'invalid_type' || i.code === 'invalid_value' ? 0 : 1)));
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new DynashiftError('CONFIG_INVALID', `${path} is not valid JSON: ${(err as Error).message}`, {
      hint: 'fix the JSON syntax',
      exitCode: 2,
    });
  }
}

function configError(path: string, error: z.ZodError): DynashiftError {
  const lines = flattenIssues(error.issues).map((i) => `  - ${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`);
  return new DynashiftError('CONFIG_INVALID', `invalid config ${path}:\n${lines.join('\n')}`, {
    hint: 'fix the fields named above (the JSON Schema in schema/dynashift.schema.json lists every field)',
    exitCode: 2,
    details: { issues: error.issues },
  });
}

/** `--backfill scan|none|touch|export[:<uri>]` */
function backfillOverride(value: string, exportCfg: BackfillConfig['export']): Pick<ResolvedConfig['backfill'], 'strategy' | 'export'> {
  if (value === 'scan' || value === 'none' || value === 'touch') return { strategy: value };
  if (value === 'export' || value.startsWith('export:')) {
    const uri = value.slice('export:'.length);
    const merged = { ...(exportCfg ?? {}), ...(uri ? { uri } : {}) };
    if (!merged.uri && !merged.start) {
      throw new DynashiftError('CONFIG_INVALID', "--backfill export needs the export's location", {
        hint: 'use --backfill export:s3://bucket/prefix (or a local folder), or set backfill.export.uri',
        exitCode: 2,
      });
    }
    return { strategy: 'export', export: merged };
  }
  throw new DynashiftError('CONFIG_INVALID', `unknown --backfill strategy "${value}"`, {
    hint: 'use --backfill scan, none, touch or export:<uri>',
    exitCode: 2,
  });
}

/**
 * DynamoDB's table-name rule, checked before any call (the service would answer a bare ValidationException).
 * A table ARN is accepted as DynamoDB accepts it. PostgreSQL and files targets have rules of their own.
 */
const TABLE_NAME = /^[A-Za-z0-9_.-]{3,255}$/;

function checkTableNames(sources: Record<string, { table: string }>, targets: Record<string, { table: string; kind?: string }>): void {
  const refs = [
    ...Object.entries(sources).map(([n, r]) => ({ side: 'source' as const, setting: n === 'source' ? 'source' : `sources.${n}`, table: r.table })),
    ...Object.entries(targets)
      .filter(([, t]) => (t.kind ?? 'dynamodb') === 'dynamodb')
      .map(([n, r]) => ({ side: 'target' as const, setting: n === 'target' ? 'target' : `targets.${n}`, table: r.table })),
  ];
  for (const r of refs) {
    if (TABLE_NAME.test(r.table) || r.table.startsWith('arn:aws')) continue;
    throw new DynashiftError('TABLE_NAME_INVALID', `${r.setting}.table ${JSON.stringify(r.table)} is not a valid DynamoDB table name`, {
      hint: `correct ${r.setting}.table: 3 to 255 characters, only a-z, A-Z, 0-9, underscore, dash and dot (or the table's ARN)`,
      exitCode: 2,
      side: r.side,
    });
  }
}

function defaultName(sources: Record<string, { table: string }>, targets: Record<string, { table: string }>): string {
  const tables = (r: Record<string, { table: string }>) =>
    Object.values(r)
      .map((t) => t.table)
      .join('+');
  return `${tables(sources)}-to-${tables(targets)}`.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 120);
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
