import { existsSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { DynashiftError } from '../errors.js';
import { appendDurable, writeFileAtomic } from './atomic-file.js';
import { deadLetterId, foldDeadLetters, isUnresolved, type DeadLetter, type DeadLetterEntry, type DeadLetterResolution } from './dead-letters.js';
import { ensureStateDir, stateDirError } from './state-dir.js';
import type { MigrationState } from './migration-state.js';
import { parseState } from './state-schema.js';
import type { StateLock, StateStore } from './state-store.js';

/**
 * State in a local folder: `state.json` (replaced atomically), `dead-letter.jsonl` (append-only, fsynced) and `lock`
 * (the pid of the process running the migration).
 *
 * `dead-letter.jsonl` is a log: a line per failure (`{"id", "stage", "sourceKey", "error", …}`) and a line per
 * resolution (`{"resolved": id, "by", …}`). The dead letters and their unresolved count are folded from it on read.
 */
export class FileStateStore implements StateStore {
  readonly location: string;
  private readonly statePath: string;
  private readonly deadLetterPath: string;
  private readonly lockPath: string;

  constructor(dir: string) {
    this.location = dir;
    this.statePath = join(dir, 'state.json');
    this.deadLetterPath = join(dir, 'dead-letter.jsonl');
    this.lockPath = join(dir, 'lock');
  }

  async load(): Promise<MigrationState | undefined> {
    if (!existsSync(this.statePath)) return undefined;
    return parseState(
      readFileSync(this.statePath, 'utf8'),
      this.statePath,
      `restore ${this.statePath} from a backup; or start the migration over: remove the state folder ${this.location} and empty the target(s), then run again`,
    );
  }

  async save(state: MigrationState): Promise<void> {
    ensureStateDir(this.location);
    writeFileAtomic(this.statePath, `${JSON.stringify(state, null, 2)}\n`);
  }

  async appendDeadLetters(entries: DeadLetterEntry[]): Promise<void> {
    if (entries.length === 0) return;
    ensureStateDir(this.location);
    appendDurable(this.deadLetterPath, entries.map((e) => `${JSON.stringify({ id: e.id ?? deadLetterId(e.source, e.sourceKey), ...e })}\n`).join(''));
  }

  async resolveDeadLetters(resolutions: DeadLetterResolution[]): Promise<void> {
    if (resolutions.length === 0) return;
    ensureStateDir(this.location);
    appendDurable(this.deadLetterPath, resolutions.map(({ id, ...rest }) => `${JSON.stringify({ resolved: id, ...rest })}\n`).join(''));
  }

  async deadLetters(): Promise<DeadLetter[]> {
    return this.deadLettersSync();
  }

  /** Synchronous, for `status` (which reads the folder only). */
  deadLettersSync(): DeadLetter[] {
    if (!existsSync(this.deadLetterPath)) return [];
    const text = readFileSync(this.deadLetterPath, 'utf8');
    const lines = text.split('\n');
    const events: Parameters<typeof foldDeadLetters>[0] = [];
    lines.forEach((line, i) => {
      if (line.trim() === '') return;
      let json: Record<string, unknown>;
      try {
        json = JSON.parse(line) as Record<string, unknown>;
      } catch (err) {
        // An append is one write of whole lines; only a crash during it can leave a torn last line (no newline).
        if (i === lines.length - 1) return;
        throw new DynashiftError('STATE_CORRUPT', `state: line ${i + 1} of ${this.deadLetterPath} is not valid JSON`, {
          hint: `repair or remove that line (every other line is one failure or one resolution); ${this.deadLetterPath} is append-only`,
          details: { side: 'state', location: this.deadLetterPath },
          cause: err,
        });
      }
      if (typeof json['resolved'] === 'string') {
        const { resolved, ...rest } = json;
        events.push({ resolution: { ...(rest as Omit<DeadLetterResolution, 'id'>), id: resolved as string } });
      } else {
        events.push({ failure: json as unknown as DeadLetterEntry });
      }
    });
    return foldDeadLetters(events);
  }

  /** The number of source items with an unresolved failure, from the file. */
  unresolvedDeadLetters(): number {
    return this.deadLettersSync().filter(isUnresolved).length;
  }

  deadLetterLocation(): string {
    return this.deadLetterPath;
  }

  async lock(): Promise<StateLock> {
    ensureStateDir(this.location);
    for (let tries = 0; tries < 2; tries++) {
      try {
        writeFileSync(this.lockPath, JSON.stringify({ pid: process.pid, host: hostname() }), { flag: 'wx' });
        return { release: async () => this.unlock() };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw stateDirError(this.location, err);
        const holder = this.readLock();
        if (holder && holderAlive(holder)) {
          throw new DynashiftError('STATE_LOCKED', `migration is already running (pid ${holder.pid} on ${holder.host})`, {
            hint: `stop that process first (kill -TERM ${holder.pid}); use \`dynashift status\` to watch it`,
          });
        }
        // The holder died without releasing (e.g. SIGKILL): the lock is stale.
        try {
          unlinkSync(this.lockPath);
        } catch {
          /* raced with another taker; retry decides */
        }
      }
    }
    throw new DynashiftError('STATE_LOCKED', `could not take the lock ${this.lockPath}`, { hint: 'another process is starting this migration' });
  }

  /** Who holds the lock, if anyone alive does. */
  holder(): { pid: number; host: string } | undefined {
    const h = this.readLock();
    return h && holderAlive(h) ? h : undefined;
  }

  private readLock(): { pid: number; host: string } | undefined {
    try {
      return JSON.parse(readFileSync(this.lockPath, 'utf8')) as { pid: number; host: string };
    } catch {
      return undefined;
    }
  }

  private unlock(): void {
    const h = this.readLock();
    if (h && h.pid === process.pid) {
      try {
        unlinkSync(this.lockPath);
      } catch {
        /* already gone */
      }
    }
  }
}

function holderAlive(h: { pid: number; host: string }): boolean {
  if (h.host !== hostname()) return true; // can't see another machine's processes: assume alive
  try {
    process.kill(h.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
