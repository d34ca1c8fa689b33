/**
 * Driving a live migration from a test as an operator would: `status --json` polling and the live commands. Shared by
 * the rollback and randomized lifecycle tests.
 */
import assert from 'node:assert/strict';
import { runCli } from './cli.js';

export async function statusJson(cfg: string): Promise<Record<string, any>> {
  const r = await runCli(['status', '--json', '-c', cfg], { timeoutMs: 30_000 });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

export async function waitForStatus(cfg: string, ok: (s: Record<string, any>) => boolean, timeoutMs: number): Promise<Record<string, any>> {
  const deadline = Date.now() + timeoutMs;
  let last: Record<string, any> = {};
  while (Date.now() < deadline) {
    last = await statusJson(cfg);
    if (ok(last)) return last;
    await sleep(300);
  }
  throw new Error(`status never matched: ${JSON.stringify(last)}`);
}

/** Runs a live command (`cutover reads`, `rollback`, …) and fails the test with its output unless it succeeded. */
export async function command(cfg: string, ...args: string[]): Promise<string> {
  const r = await runCli([...args, '-c', cfg], { timeoutMs: 120_000 });
  assert.equal(r.code, 0, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
  return r.stdout;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
