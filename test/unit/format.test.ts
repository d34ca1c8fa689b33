/**
 * The formatter is part of the suite: every TypeScript file in the repository is as prettier (configured in
 * .prettierrc.json: single quotes, trailing commas, a 150-column line limit) prints it. `npm run format` fixes it.
 * Prettier never splits a string literal, so a long message may still cross the limit; code may not.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FOLDERS = ['src', 'test', 'bench', 'scripts'];

function tsFiles(dir: string): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : tsFiles(path);
    return /\.(ts|mts)$/.test(e.name) ? [path] : [];
  });
}

test('every TypeScript file is formatted by prettier (run `npm run format`)', async () => {
  const files = FOLDERS.flatMap((f) => tsFiles(join(ROOT, f)));
  assert.ok(files.length > 100, `found the sources (${files.length} files)`);
  const unformatted: string[] = [];
  for (const file of files) {
    const options = await prettier.resolveConfig(file);
    assert.ok(options, `prettier finds .prettierrc.json for ${file}`);
    if (!(await prettier.check(readFileSync(file, 'utf8'), { ...options, filepath: file }))) unformatted.push(relative(ROOT, file));
  }
  assert.deepEqual(unformatted, [], 'files not formatted: run `npm run format`');
});
