import { mkdirSync } from 'node:fs';
import { DynashiftError } from '../errors.js';

/**
 * Creates the migration's state folder, or says which setting to change when it can't be: a read-only disk, a
 * folder without write permission, or a path that runs through a file. Called before anything else is written, so a
 * run that can't keep state stops before it touches a table.
 */
export function ensureStateDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw stateDirError(dir, err);
  }
}

export function stateDirError(dir: string, err: unknown): DynashiftError {
  const code = (err as NodeJS.ErrnoException)?.code ?? 'unknown';
  const why: Record<string, string> = {
    EACCES: 'no permission to write there',
    EPERM: 'no permission to write there',
    EROFS: 'the file system is read-only',
    ENOTDIR: 'a part of the path is a file, not a folder',
    EEXIST: 'a file is in the way',
    ENOSPC: 'the disk is full',
  };
  return new DynashiftError('STATE_DIR_UNWRITABLE', `cannot create or write the state folder ${dir}: ${why[code] ?? code} (${code})`, {
    hint: 'set "stateDir" in the config to a writable folder (relative to the config file), or fix the permissions of that path',
    side: 'state',
    cause: err,
    details: { errno: code },
  });
}
