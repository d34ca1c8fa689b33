import type { MigrationState, ProgressSnapshot } from '../../state/migration-state.js';
import type { StateStore } from '../../state/state-store.js';

export interface CheckpointerDeps {
  store: StateStore;
  state: MigrationState;
  deadLetters: () => number;
  /** Live control: takes and handles a pending command (it may change the phase or the cutover state). */
  control: () => Promise<void>;
  /** The progress snapshot to publish and keep in the state. */
  snapshot: () => ProgressSnapshot;
  onProgress?: (progress: ProgressSnapshot) => void;
}

/**
 * The only writer of the state store. Every second: handle a pending live command, publish progress, save the state
 * (positions the other actors moved in memory after their writes landed, the heartbeat, the dead-letter count).
 * Actors that must persist at a step boundary ask for `flush()`; they never save themselves.
 */
export class Checkpointer {
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;

  constructor(private readonly deps: CheckpointerDeps) {}

  start(): void {
    this.timer = setInterval(() => void this.tick(), 1000);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async flush(): Promise<void> {
    const { state } = this.deps;
    if (state.runner) state.runner.heartbeatAt = new Date().toISOString();
    state.deadLetters = this.deps.deadLetters();
    state.updatedAt = new Date().toISOString();
    await this.deps.store.save(state);
  }

  /** The last save of a run: the final progress, published (a run shorter than a tick has no other) and saved. */
  async final(): Promise<void> {
    const snap = this.deps.snapshot();
    this.deps.onProgress?.(snap);
    this.deps.state.progress = snap;
    await this.flush();
  }

  private async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      await this.deps.control();
      const snap = this.deps.snapshot();
      this.deps.onProgress?.(snap);
      this.deps.state.progress = snap;
      await this.flush();
    } finally {
      this.ticking = false;
    }
  }
}
