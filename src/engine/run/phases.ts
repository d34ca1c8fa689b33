import type { MigrationState, Phase } from '../../state/migration-state.js';
import type { Logger } from '../logger.js';
import { enterPhase } from '../phase-machine.js';

/**
 * The run's view of the phase machine (engine/phase-machine.ts), and the one place that logs phase changes
 * (`phase: …`). The backfill and replication move the phase with `enter`; live control moves it through the cutover
 * machine (engine/cutover.ts) and reports back with `afterControl`, so a change made by a command is logged once too.
 */
export class Phases {
  private last: Phase | undefined;

  constructor(
    private readonly state: MigrationState,
    private readonly log: Logger,
  ) {}

  enter(phase: Phase): void {
    if (!enterPhase(this.state, phase)) return;
    this.last = phase;
    this.log.info({ phase }, `phase: ${phase}`);
  }

  /** After a live command was handled: log the phase it moved to, if it moved (only an accepted command moves it). */
  afterControl(ok: boolean): void {
    if (ok && this.state.phase !== this.last) this.log.info({ phase: this.state.phase }, `phase: ${this.state.phase}`);
    this.last = this.state.phase;
  }
}
