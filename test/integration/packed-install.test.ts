/**
 * The package as `npm install dynashift` gives it to a user: scripts/packed-install-check.mjs packs it, installs the
 * tarball into an empty folder (dependencies from the npm cache that `npm ci` filled), and runs `npx dynashift demo`
 * and a TypeScript-config `plan` there. It is a test so that `npm test` (and so `.ci/run`) runs it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('../../scripts/packed-install-check.mjs', import.meta.url));

test('the packed tarball installs into an empty folder, and its demo and TypeScript-config plan work there', { timeout: 15 * 60_000 }, async () => {
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  const tail = `\n--- stdout (end) ---\n${stdout.slice(-3000)}\n--- stderr (end) ---\n${stderr.slice(-3000)}`;
  assert.equal(code, 0, `packed-install-check exited ${code}${tail}`);
  assert.match(stdout, /0 differences/, `the installed demo did not compare equal${tail}`);
  assert.match(stderr, /packed install check: ok/, `the check did not reach its end${tail}`);
});
