/**
 * Error codes are a contract: scripts and tests match on them. Every code declared in src/errors.ts is raised
 * somewhere in src/ and documented in the README's tables, and no hint tells the user to pass a flag the CLI doesn't
 * have.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;
const read = (p: string): string => readFileSync(join(root, p), 'utf8');

function sourceFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** The members of `export type <name> = | 'A' | 'B' …;` in src/errors.ts. */
function unionMembers(text: string, name: string): string[] {
  const decl = new RegExp(`export type ${name} =([^;]+);`).exec(text);
  assert.ok(decl, `src/errors.ts declares ${name}`);
  return [...decl[1]!.matchAll(/'([A-Z_]+)'/g)].map((m) => m[1]!);
}

const errorsText = read('src/errors.ts');
const codes = [...new Set([...unionMembers(errorsText, 'ErrorCode'), ...unionMembers(errorsText, 'RefusalCode')])];
// Everything in src/ but the two declarations themselves (errors.ts also raises STREAM_GAP and PLAN_REFUSED).
const srcText =
  sourceFiles('src')
    .filter((p) => p !== join('src', 'errors.ts'))
    .map((p) => read(p))
    .join('\n') + errorsText.replace(/export type (ErrorCode|RefusalCode) =[^;]+;/g, '');

describe('error codes', () => {
  test('the declared codes were found (the parser reads src/errors.ts)', () => {
    assert.ok(codes.length >= 30, `found only ${codes.length} codes`);
    assert.ok(codes.includes('GUARD_UNSUPPORTED') && codes.includes('CONFIG_INVALID'));
    assert.ok(srcText.length > 100_000, 'the sources were read');
  });

  test('every code in ErrorCode and RefusalCode is raised somewhere in src/', () => {
    const unused = codes.filter((c) => !srcText.includes(`'${c}'`));
    assert.deepEqual(unused, [], `codes declared but never raised: ${unused.join(', ')}`);
  });

  test('every code is documented in a README table row', () => {
    const readme = read('README.md');
    const undocumented = codes.filter((c) => !new RegExp(`^\\| \`${c}\` \\|`, 'm').test(readme));
    assert.deepEqual(undocumented, [], `codes without a README row: ${undocumented.join(', ')}`);
  });
});

describe('hints name real flags', () => {
  /** Long options the CLI declares (src/cli/main.ts), e.g. --force, --no-reverse. */
  const cliFlags = new Set(
    [
      ...read('src/cli/main.ts').matchAll(/Option\(\s*'(?:-\w, )?(--[a-z][a-z-]*)/g),
      ...read('src/cli/main.ts').matchAll(/\.option\(\s*'(?:-\w, )?(--[a-z][a-z-]*)/g),
    ].map((m) => m[1]!),
  );
  /** Other programs' flags that hints quote in full commands. */
  const foreign = /\b(aws dynamodb [a-z-]+|npm install|npx cdk|cdk deploy)\b/;

  test('the CLI flags were found', () => {
    for (const f of ['--force', '--no-reverse', '--backfill', '--quiet-seconds', '--timeout-seconds', '--repair']) assert.ok(cliFlags.has(f), f);
  });

  test('every --flag in a hint, message or note under src/ is one the CLI has', () => {
    const unknown: string[] = [];
    for (const path of sourceFiles('src').filter((p) => !p.startsWith(join('src', 'cdk')))) {
      read(path)
        .split('\n')
        .forEach((line, i) => {
          if (/^\s*(\*|\/\/|\/\*\*)/.test(line)) return; // comments document, they don't instruct
          if (/setFlagsFromString\(/.test(line)) return; // a V8 flag dynashift sets on itself
          // Each string literal on the line on its own: an AWS CLI command in one doesn't excuse a flag in another.
          for (const lit of line.matchAll(/'(?:[^'\\]|\\.)*'|`(?:[^`\\]|\\.)*`|"(?:[^"\\]|\\.)*"/g)) {
            if (foreign.test(lit[0])) continue;
            for (const flag of lit[0].matchAll(/(?<![\w(-])(--[a-z][a-z-]*)/g)) {
              if (!cliFlags.has(flag[1]!)) unknown.push(`${path}:${i + 1}: ${flag[1]}`);
            }
          }
        });
    }
    assert.deepEqual(unknown, [], `flags that the CLI does not have:\n${unknown.join('\n')}`);
  });
});
