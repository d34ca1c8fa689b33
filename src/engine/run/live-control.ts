import { sampleItems } from '../../aws/sample-items.js';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { AttributeMap } from '../../core/item.js';
import type { ControlChannel } from '../../state/control-channel.js';
import type { MigrationState, StreamState } from '../../state/migration-state.js';
import { applyControl, controlFailure, type ControlOutcome } from '../cutover.js';
import type { Logger } from '../logger.js';
import type { Phases } from './phases.js';
import type { ReplicationView } from './progress.js';

export interface LiveControlDeps {
  channel: ControlChannel;
  state: MigrationState;
  phases: Phases;
  replication: ReplicationView;
  deadLetters: () => number;
  /** Checks rollback can work and opens the reverse stream positions, from a sample of source items. */
  openReverse: (samples: AttributeMap[]) => Promise<Record<string, StreamState>>;
  /** The (single) source, sampled for openReverse's check. */
  source: { client: DynamoDBClient; table: string };
  log: Logger;
}

/**
 * Live commands (cutover, rollback, finish) from the control channel, applied through the cutover state machine
 * (engine/cutover.ts). Writes the phase and the cutover state it decides, and the outcome (`lastControl`) for the
 * waiting command; the checkpointer persists them.
 */
export class LiveControl {
  constructor(private readonly deps: LiveControlDeps) {}

  /** Handles the pending request, if any. Called by the checkpointer's tick, before it saves. */
  async poll(): Promise<void> {
    const request = this.deps.channel.take();
    if (!request) return;
    const { state, replication } = this.deps;
    const cut = (state.cutover ??= { direction: 'forward', history: [] });
    let outcome: ControlOutcome;
    try {
      outcome = await applyControl(request, {
        state,
        cut,
        caughtUp: replication.caughtUp,
        direction: replication.direction,
        deadLetters: this.deps.deadLetters(),
        lagMs: replication.lagMs(),
        openReverse: async () => this.deps.openReverse(await this.sample()),
      });
    } catch (err) {
      outcome = controlFailure(err, "see the run's log for the cause");
    }
    if (outcome.ok) cut.history.push({ at: new Date().toISOString(), event: request.kind });
    this.deps.phases.afterControl(outcome.ok);
    // A drain that targets the direction already running needs no switch; otherwise replication handles it.
    if (outcome.ok && cut.draining && cut.draining.from === cut.draining.to) {
      cut.direction = cut.draining.to;
      delete cut.draining;
    }
    state.lastControl = { id: request.id, request: request.kind, ...outcome, at: new Date().toISOString() };
    this.deps.log[outcome.ok ? 'info' : 'warn']({ request: request.kind }, outcome.message);
  }

  private async sample(): Promise<AttributeMap[]> {
    return sampleItems(this.deps.source.client, this.deps.source.table);
  }
}
