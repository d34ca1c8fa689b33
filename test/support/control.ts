/**
 * Driving a live migration from a test as an operator would: the live commands, and waiting for the state the runner
 * publishes. Shared by the rollback and randomized lifecycle tests.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { runCli } from './cli.js';

export async function statusJson(cfg: string): Promise<Record<string, any>> {
  const r = await runCli(['status', '--json', '-c', cfg], { timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

/**
 * The fields of `status --json` these tests wait on, read straight from the runner's state.json: starting a CLI per
 * poll takes tens of seconds on a loaded machine. Same rules as `status`: safe to cut over when caught up, with no
 * dead letters and no halt.
 */
export function currentStatus(cfg: string): Record<string, any> | undefined {
  const config = JSON.parse(readFileSync(cfg, 'utf8')) as { name: string; stateDir?: string };
  try {
    const state = JSON.parse(readFileSync(join(dirname(cfg), config.stateDir ?? '.dynashift', config.name, 'state.json'), 'utf8'));
    return {
      phase: state.phase,
      direction: state.cutover?.direction,
      draining: state.cutover?.draining,
      deadLetters: state.deadLetters,
      safeToCutOver: state.progress?.stream?.caughtUp === true && state.deadLetters === 0 && !state.runner?.halt,
    };
  } catch {
    return undefined; // not written yet, or a rename in progress: try again on the next poll
  }
}

export async function waitForStatus(cfg: string, ok: (s: Record<string, any>) => boolean, timeoutMs: number): Promise<Record<string, any>> {
  const deadline = Date.now() + timeoutMs;
  let last: Record<string, any> | undefined;
  while (Date.now() < deadline) {
    last = currentStatus(cfg);
    if (last && ok(last)) return last;
    await sleep(200);
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
