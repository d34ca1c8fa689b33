/**
 * The layering rule of docs/design.md ("Layers"), checked on every import in src/: a file imports from its own
 * folder or from a lower layer, never from a higher one, and never from a sibling folder of its own layer (sources
 * and sinks are independent of each other). `import type` counts too: a type that two layers share belongs to the
 * lower one.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

/**
 * Lowest first. Each entry is a top-level folder of src/ (or a file directly in src/, without extension). Keep in step with
 * docs/design.md.
 */
const LAYERS: readonly (readonly string[])[] = [
  ['core', 'errors'],
  ['config'],
  ['aws', 'local'],
  ['formats'],
  ['state'],
  ['sources', 'sinks'],
  ['engine'],
  ['runners', 'cdk', 'demo'],
  ['cli', 'index'],
];

const layerOf = new Map(LAYERS.flatMap((folders, rank) => folders.map((f) => [f, rank] as const)));

/**
 * The top-level folder (or root file, without extension) of a path inside src/. A driver's config schema
 * (`sinks/<kind>/<kind>-config.ts`: zod only, as kysely's `postgres-dialect-config.ts`) lives with its driver but belongs
 * to the config layer, which assembles the per-kind schemas into the target union.
 */
function unitOf(pathInSrc: string): string {
  if (/^sinks[\\/]([^\\/]+)[\\/]\1-config\.[cm]?[jt]s$/.test(pathInSrc)) return 'config';
  return pathInSrc.split(sep)[0]!.replace(/\.[cm]?[jt]s$/, '');
}

/** Why `from` may not import `to` (both relative to src/), or undefined when it may. */
export function layeringViolation(from: string, to: string): string | undefined {
  const a = unitOf(from);
  const b = unitOf(to);
  if (a === b) return undefined;
  const ra = layerOf.get(a);
  const rb = layerOf.get(b);
  if (ra === undefined || rb === undefined) return `${from} -> ${to}: ${ra === undefined ? a : b} is in no layer`;
  if (rb > ra) return `${from} -> ${to}: ${a} (layer ${ra}) imports upward from ${b} (layer ${rb})`;
  if (rb === ra) return `${from} -> ${to}: ${a} and ${b} are siblings in layer ${ra} and must not import each other`;
  return undefined;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return /\.(ts|mts)$/.test(e.name) && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** Every relative module specifier of a file: static imports, `import type`, re-exports and dynamic `import()`. */
function relativeImports(file: string): string[] {
  const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  return info.importedFiles.map((f) => f.fileName).filter((name) => name.startsWith('.'));
}

function importEdges(): { from: string; to: string }[] {
  return sourceFiles(SRC).flatMap((file) =>
    relativeImports(file).map((spec) => ({
      from: relative(SRC, file),
      to: relative(SRC, resolve(dirname(file), spec)),
    })),
  );
}

test('every folder and root file of src/ is placed in a layer', () => {
  const units = new Set(sourceFiles(SRC).map((f) => unitOf(relative(SRC, f))));
  assert.deepEqual([...units].filter((u) => !layerOf.has(u)).sort(), []);
});

test('no file in src/ imports from a higher layer or from a sibling folder of its own layer', () => {
  const edges = importEdges();
  assert.ok(edges.length > 300, `the parser found only ${edges.length} relative imports in src/`);
  const outside = edges.filter((e) => e.to.startsWith('..'));
  assert.deepEqual(outside, [], 'src/ imports nothing outside src/ by relative path (tests, bench)');
  const violations = edges.map((e) => layeringViolation(e.from, e.to)).filter((v) => v !== undefined);
  assert.deepEqual(violations, []);
});

test('the rule refuses an upward, a sibling and an unplaced import, and allows a downward one', () => {
  assert.match(layeringViolation(join('sinks', 'files', 'x.ts'), join('engine', 'inspect.js'))!, /imports upward/);
  assert.match(layeringViolation(join('sinks', 'files', 'x.ts'), join('sources', 'export', 'y.js'))!, /siblings/);
  assert.match(layeringViolation(join('newfolder', 'x.ts'), join('core', 'item.js'))!, /newfolder is in no layer/);
  assert.equal(layeringViolation(join('sources', 'export', 'x.ts'), join('formats', 'ddb-export', 'y.js')), undefined);
  assert.equal(layeringViolation(join('engine', 'x.ts'), join('engine', 'verify', 'y.js')), undefined);
});
