import type { Phase, ProgressSnapshot } from '../../state/migration-state.js';
import type { StateStore } from '../../state/state-store.js';
import type { Logger } from '../logger.js';

/** What `runMigration` (engine/migration.ts) is asked to do, and how. */
export interface RunOptions {
  untilSynced?: boolean;
  /** Re-copy every item under the current transform, keeping the stream position (engine/resume-check.ts). */
  rebackfill?: boolean;
  /** Record the current transform, keeping the items already written as they are (engine/resume-check.ts). */
  acceptTransform?: boolean;
  signal: AbortSignal;
  log: Logger;
  onProgress?: (progress: ProgressSnapshot) => void;
  /** Where the state lives. Default: the local state folder (`stateDir`). */
  store?: StateStore;
  /**
   * TEST ONLY: source stream records live this long instead of 24 h (sources/stream/short-retention.ts), so a test can
   * outlast the retention in seconds. The CLI sets it from DYNASHIFT_TEST_STREAM_RETENTION_SECONDS.
   */
  testStreamRetentionMs?: number;
}

export interface RunResult {
  phase: Phase;
  synced: boolean;
  deadLetters: number;
  deadLetterFile: string;
  backfilledItems: number;
  appliedRecords: number;
}
