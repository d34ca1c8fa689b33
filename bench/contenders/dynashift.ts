/**
 * dynashift as a user runs it: the built bin/dynashift.js in its own process (or src through tsx with --cli tsx),
 * wrapped in /usr/bin/time when available for its exact peak RSS and CPU time. Phase times come
 * from its JSON log lines, so the figures exclude process start-up and planning.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { childPids } from '../lib/proc.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ENTRY_TS = path.join(ROOT, 'src/cli/entry.ts');
const ENTRY_DIST = path.join(ROOT, 'bin/dynashift.js');
const TIME = '/usr/bin/time';

export type CliKind = 'tsx' | 'dist';

export interface DynashiftSettings {
  segments: number;
  /** Segments scanned at once. */
  concurrency: number;
  pageSize: number;
  writeConcurrency: number;
  pollIntervalMs?: number;
  /** backfill.workers; unset keeps dynashift's default (the cores available but one). */
  workers?: number;
}

export interface ConfigOptions {
  dir: string;
  endpoint: string;
  source: string;
  target: string;
  settings: DynashiftSettings;
  strategy?: 'scan' | 'none';
  /** stream.duringBackfill; unset keeps dynashift's default (true). */
  duringBackfill?: boolean;
  /** A transform module (absolute path). */
  transform?: string;
}

/** Writes a JSON config (and a fresh state folder) for one migration; returns the config path. */
export function writeConfig(o: ConfigOptions): string {
  rmSync(o.dir, { recursive: true, force: true });
  mkdirSync(o.dir, { recursive: true });
  const file = path.join(o.dir, 'dynashift.config.json');
  const config = {
    name: `${o.source}-to-${o.target}`,
    source: { table: o.source, region: 'us-east-1', endpoint: o.endpoint },
    target: { table: o.target, region: 'us-east-1', endpoint: o.endpoint },
    backfill: {
      strategy: o.strategy ?? 'scan',
      segments: o.settings.segments,
      concurrency: o.settings.concurrency,
      pageSize: o.settings.pageSize,
      ...(o.settings.workers !== undefined ? { workers: o.settings.workers } : {}),
    },
    write: { concurrency: o.settings.writeConcurrency },
    ...(o.transform ? { transform: o.transform } : {}),
    ...(o.settings.pollIntervalMs !== undefined || o.duringBackfill !== undefined
      ? {
          stream: {
            ...(o.settings.pollIntervalMs ? { pollIntervalMs: o.settings.pollIntervalMs } : {}),
            ...(o.duringBackfill !== undefined ? { duringBackfill: o.duringBackfill } : {}),
          },
        }
      : {}),
    stateDir: './state',
  };
  writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`);
  return file;
}

export interface LogEvent {
  time: number;
  msg: string;
  [k: string]: unknown;
}

export interface CliOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  events: LogEvent[];
  /** From /usr/bin/time: peak RSS of the node process (bytes), CPU seconds, wall seconds. */
  time?: { maxRssBytes: number; userSeconds: number; systemSeconds: number; wallSeconds: number };
}

export interface RunningCli {
  /** The wrapper's pid (time or node). */
  pid: number;
  /** The node process and its children (tsx's esbuild), for CPU sampling. */
  pids(): number[];
  /** The node process itself, for memory sampling. */
  nodePid(): number | undefined;
  events: LogEvent[];
  /** Resolves with the first log event matching, or rejects if the process exits first. */
  waitFor(pred: (e: LogEvent) => boolean, timeoutMs?: number): Promise<LogEvent>;
  kill(signal: NodeJS.Signals): void;
  done: Promise<CliOutcome>;
}

export function spawnDynashift(args: string[], opts: { cli?: CliKind; workDir: string; nodeArgs?: string[] }): RunningCli {
  const extra = opts.nodeArgs ?? [];
  const node = opts.cli === 'dist' ? [process.execPath, ...extra, ENTRY_DIST] : [process.execPath, ...extra, '--import', 'tsx', ENTRY_TS];
  const timeFile = path.join(opts.workDir, `time-${Date.now()}-${Math.random().toString(36).slice(2)}.txt`);
  const useTime = existsSync(TIME);
  const argv = useTime ? [TIME, '-f', '%M %U %S %e', '-o', timeFile, ...node, ...args] : [...node, ...args];
  const child = spawn(argv[0]!, argv.slice(1), {
    cwd: ROOT,
    env: { ...process.env, DYNASHIFT_LOG_LEVEL: 'info', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const events: LogEvent[] = [];
  const waiters: { pred: (e: LogEvent) => boolean; resolve: (e: LogEvent) => void }[] = [];
  let stdout = '';
  let stderr = '';
  let partial = '';
  child.stdout!.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    const text = partial + d.toString();
    const lines = text.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.startsWith('{')) {
        stderr += `${line}\n`;
        continue;
      }
      try {
        const e = JSON.parse(line) as LogEvent;
        events.push(e);
        for (const w of [...waiters]) {
          if (w.pred(e)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(e);
          }
        }
      } catch {
        stderr += `${line}\n`;
      }
    }
    if (stderr.length > 200_000) stderr = stderr.slice(-100_000);
  });
  const wrapperPid = child.pid!;
  const nodePid = (): number | undefined => (useTime ? childPids(wrapperPid)[0] : wrapperPid);
  const done = new Promise<CliOutcome>((resolve) => {
    child.on('close', (code, signal) => {
      let time: CliOutcome['time'];
      if (useTime && existsSync(timeFile)) {
        const lines = readFileSync(timeFile, 'utf8').trim().split('\n');
        const nums = (lines[lines.length - 1] ?? '').split(' ').map(Number);
        if (nums.length === 4 && nums.every(Number.isFinite)) {
          time = { maxRssBytes: nums[0]! * 1024, userSeconds: nums[1]!, systemSeconds: nums[2]!, wallSeconds: nums[3]! };
        }
        rmSync(timeFile, { force: true });
      }
      resolve({ code, signal, stdout, stderr, events, ...(time ? { time } : {}) });
    });
  });
  return {
    pid: wrapperPid,
    pids: () => {
      const n = nodePid();
      return n === undefined ? [] : [n, ...childPids(n)];
    },
    nodePid,
    events,
    waitFor: (pred, timeoutMs = 3_600_000) => {
      const found = events.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise<LogEvent>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`timed out waiting for a dynashift log line (last: ${events.at(-1)?.msg ?? 'none'})`)),
          timeoutMs,
        );
        waiters.push({
          pred,
          resolve: (e) => {
            clearTimeout(timer);
            resolve(e);
          },
        });
        void done.then((o) => {
          clearTimeout(timer);
          reject(
            new Error(
              `dynashift exited (code ${o.code}, signal ${o.signal}) before the expected log line; stderr:\n${o.stderr.slice(-2000)}\nlast log: ${JSON.stringify(o.events.slice(-3))}`,
            ),
          );
        });
      });
    },
    kill: (signal) => {
      // Signal node itself: /usr/bin/time does not forward signals.
      const n = nodePid();
      if (n !== undefined) process.kill(n, signal);
      else child.kill(signal);
    },
    done,
  };
}

export const msgIs =
  (text: string) =>
  (e: LogEvent): boolean =>
    e.msg === text;
export const msgStarts =
  (text: string) =>
  (e: LogEvent): boolean =>
    typeof e.msg === 'string' && e.msg.startsWith(text);

/** Throws with the CLI's output when it did not exit 0. */
export function assertOk(o: CliOutcome, what: string): void {
  if (o.code !== 0) {
    throw new Error(
      `${what} failed (exit ${o.code}, signal ${o.signal}):\n${o.stderr.slice(-3000)}\n${o.stdout.slice(-2000)}\nlast log: ${JSON.stringify(o.events.slice(-5))}`,
    );
  }
}
