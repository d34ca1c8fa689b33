import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ResolvedConfig } from '../config/resolved-config.js';
import { DynashiftError } from '../errors.js';

/** The config module inside the bundle: the construct's `configPath` ($DYNASHIFT_CONFIG). */
export const BUNDLED_CONFIG = 'dynashift.config.mjs';

export interface BundleResult {
  /** The folder to give the construct as `code` (lambda.Code.fromAsset). */
  dir: string;
  /** The config module's path inside it: the construct's `configPath`. */
  configPath: string;
}

// Bundled ESM still meets CommonJS dependencies (the AWS SDK's, pino's) that call require().
const BANNER = "import { createRequire as __dynashiftCreateRequire } from 'node:module'; const require = __dynashiftCreateRequire(import.meta.url);";

/**
 * Bundles what the AWS runner's functions run into `dir`, with esbuild: `index.mjs` exports every handler of the
 * stream and Step Functions entry points (`index.streamHandler`, `index.prepare`, …), and `dynashift.config.mjs` is
 * the user's config with its transform (and inverse transform) compiled in — TypeScript included, with the npm
 * packages it imports — so nothing is resolved from the user's folder at run time.
 */
export async function bundleHandlers(config: ResolvedConfig, dir: string): Promise<BundleResult> {
  const esbuild = await loadEsbuild();
  mkdirSync(dir, { recursive: true });
  const common = {
    bundle: true,
    platform: 'node' as const,
    target: 'node20',
    format: 'esm' as const,
    banner: { js: BANNER },
    legalComments: 'none' as const,
    logLevel: 'silent' as const,
    // A .map next to each file: the construct runs Node with --enable-source-maps.
    sourcemap: true,
  };
  const entry = [runnerEntry('lambda'), runnerEntry('stepfunctions')].map((p) => `export * from ${JSON.stringify(p)};`).join('\n');
  await build(
    esbuild,
    { ...common, stdin: { contents: entry, resolveDir: dirname(runnerEntry('lambda')), loader: 'js' }, outfile: join(dir, 'index.mjs') },
    'the handlers',
  );
  await build(
    esbuild,
    {
      ...common,
      stdin: { contents: configModule(config), resolveDir: dirname(config.configPath), loader: 'js' },
      outfile: join(dir, BUNDLED_CONFIG),
    },
    `the config ${config.configPath} and its transform`,
  );
  return { dir, configPath: BUNDLED_CONFIG };
}

/** The compiled entry point of a runner (dist/…/index.js), or its source when dynashift runs from source (tsx). */
function runnerEntry(runner: 'lambda' | 'stepfunctions'): string {
  const js = fileURLToPath(new URL(`../runners/${runner}/index.js`, import.meta.url));
  return existsSync(js) ? js : js.replace(/\.js$/, '.ts');
}

/**
 * A module that default-exports the config with its transform modules imported, so esbuild compiles them in. A JSON
 * config is imported as data; a .ts/.js config as the module it is (its inline functions come along).
 */
function configModule(config: ResolvedConfig): string {
  const path = config.configPath;
  const raw = extname(path).toLowerCase() === '.json' ? (JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>) : undefined;
  const modulePath = (field: 'transform' | 'inverseTransform'): string | undefined => {
    if (field === 'transform' && config.transformSource && config.transformSource !== 'inline') return config.transformSource;
    const value = raw?.[field];
    return typeof value === 'string' ? resolve(dirname(path), value) : undefined;
  };
  const lines = [`import raw from ${JSON.stringify(path)};`, 'const config = { ...(raw.default ?? raw) };'];
  lines.push("const pick = (m) => (typeof m.default === 'function' ? m.default : typeof m === 'function' ? m : m.transform);");
  for (const field of ['transform', 'inverseTransform'] as const) {
    const p = modulePath(field);
    if (!p) continue;
    lines.push(`import * as ${field}Module from ${JSON.stringify(p)};`, `config.${field} = pick(${field}Module);`);
  }
  lines.push('export default config;');
  return lines.join('\n');
}

type Esbuild = typeof import('esbuild');

async function loadEsbuild(): Promise<Esbuild> {
  try {
    return await import('esbuild');
  } catch (err) {
    throw new DynashiftError('DEPLOY_BUNDLE_FAILED', 'dynashift deploy bundles the handlers with esbuild, which could not be loaded', {
      side: 'config',
      hint: 'reinstall dynashift (esbuild is one of its dependencies): npm install dynashift; or bundle yourself and pass --code DIR',
      exitCode: 2,
      cause: err,
    });
  }
}

async function build(esbuild: Esbuild, options: Parameters<Esbuild['build']>[0], what: string): Promise<void> {
  try {
    await esbuild.build(options);
  } catch (err) {
    const errors = (err as { errors?: { text: string; location?: { file: string; line: number } | null }[] }).errors ?? [];
    const detail = errors.map((e) => `${e.location ? `${e.location.file}:${e.location.line}: ` : ''}${e.text}`).join('\n  ');
    throw new DynashiftError('DEPLOY_BUNDLE_FAILED', `could not bundle ${what}${detail ? `:\n  ${detail}` : ''}`, {
      side: 'config',
      hint: 'fix the import named above (install the package the transform imports in the config folder), or bundle yourself and pass --code DIR',
      exitCode: 2,
      cause: err,
    });
  }
}
