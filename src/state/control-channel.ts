import { existsSync, readFileSync, unlinkSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic-file.js';
import { ensureStateDir } from './state-dir.js';

/**
 * Live commands to a running migration (gh-ost style): `cutover`, `rollback` and `finish` drop a request file in the
 * state folder; the runner picks it up on its next tick, acts, and records the outcome in state.lastControl. The runner
 * stays the only writer of state.json.
 */
export type ControlRequestKind = 'cutover-reads' | 'cutover-writes' | 'rollback' | 'finish';

export interface ControlRequest {
  id: string;
  kind: ControlRequestKind;
  at: string;
  options: { force?: boolean; noReverse?: boolean; quietMs?: number };
}

export class ControlChannel {
  private readonly path: string;

  constructor(stateDir: string) {
    this.path = join(stateDir, 'control.json');
  }

  send(kind: ControlRequestKind, options: ControlRequest['options'] = {}): ControlRequest {
    const request: ControlRequest = { id: randomUUID(), kind, at: new Date().toISOString(), options };
    ensureStateDir(join(this.path, '..'));
    writeFileAtomic(this.path, JSON.stringify(request));
    return request;
  }

  /** The pending request, removed from the folder so it is handled once. */
  take(): ControlRequest | undefined {
    if (!existsSync(this.path)) return undefined;
    try {
      const request = JSON.parse(readFileSync(this.path, 'utf8')) as ControlRequest;
      unlinkSync(this.path);
      return request;
    } catch {
      return undefined; // half-visible file (it is written by rename, so only on odd filesystems): next tick
    }
  }
}
