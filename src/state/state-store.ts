import type { MigrationState } from './migration-state.js';
import type { DeadLetter, DeadLetterEntry, DeadLetterResolution } from './dead-letters.js';

/**
 * Where a migration keeps its state. The local store writes files in a state folder; a DynamoDB-table store (for the
 * AWS runner) implements the same interface.
 */
export interface StateStore {
  /** Human-readable location, for messages. */
  readonly location: string;
  load(): Promise<MigrationState | undefined>;
  /** Replaces the stored state atomically: a crash leaves either the old or the new state, never a torn one. */
  save(state: MigrationState): Promise<void>;
  /** Records failed items with their errors; durable before it resolves. */
  appendDeadLetters(entries: DeadLetterEntry[]): Promise<void>;
  /** Marks failures resolved (a rerun that applied them, a retry, a discard); durable before it resolves. */
  resolveDeadLetters(resolutions: DeadLetterResolution[]): Promise<void>;
  /** One dead letter per source item, resolved or not, oldest first. */
  deadLetters(): Promise<DeadLetter[]>;
  deadLetterLocation(): string;
  /** Takes the migration for this process; refuses while another live process holds it. */
  lock(): Promise<StateLock>;
}

export interface StateLock {
  release(): Promise<void>;
}

export type { DeadLetter, DeadLetterEntry, DeadLetterResolution };
