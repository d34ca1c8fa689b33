import type { MigrationState, Phase } from '../../state/migration-state.js';
import type { Logger } from '../logger.js';

/**
 * The run's phase, and the one place that logs its changes (`phase: …`). The runbook and replication move it forward
 * with `enter`; live control moves it through the cutover machine (engine/cutover.ts) and reports back with
 * `afterControl`, so a change made by a command is logged once too.
 */
export class Phases {
  private last: Phase | undefined;

  constructor(private readonly state: MigrationState, private readonly log: Logger) {}

  get current(): Phase {
    return this.state.phase;
  }

  enter(phase: Phase): void {
    if (this.state.phase === phase) return;
    this.state.phase = phase;
    this.last = phase;
    this.log.info({ phase }, `phase: ${phase}`);
  }

  /** After a live command was handled: log the phase it moved to, if it moved (only an accepted command moves it). */
  afterControl(ok: boolean): void {
    if (ok && this.state.phase !== this.last) this.log.info({ phase: this.state.phase }, `phase: ${this.state.phase}`);
    this.last = this.state.phase;
  }
}
