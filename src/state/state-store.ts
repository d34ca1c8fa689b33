import type { MigrationState } from './migration-state.js';

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
  /** Appends failed items with their errors; durable before it resolves. */
  appendDeadLetters(entries: DeadLetterEntry[]): Promise<void>;
  deadLetterLocation(): string;
  /** Takes the migration for this process; refuses while another live process holds it. */
  lock(): Promise<StateLock>;
}

export interface StateLock {
  release(): Promise<void>;
}

export interface DeadLetterEntry {
  at: string;
  stage: 'backfill' | 'stream' | 'transform';
  source: string;
  /** Source item key and, when known, the item or change record itself (DynamoDB JSON). */
  sourceKey: unknown;
  item?: unknown;
  target?: string;
  sequenceNumber?: string;
  error: { code: string; message: string };
}
