import type { CallStats } from '../../aws/call-stats.js';
import type { ResolvedConfig } from '../../config/resolved-config.js';
import type { KeySchema } from '../../core/item.js';
import type { MapFailure } from '../../core/protocol.js';
import type { Landed } from '../failure-policy.js';
import type { RejectedWrite } from '../../sinks/sink.js';
import type { BackfillCursor } from '../../state/migration-state.js';

/**
 * The messages between the main thread and a backfill worker thread (engine/workers/). Items travel only inside the
 * worker; what crosses the boundary is key ids (the gate), counts and cursors (the state), rejected writes with their
 * errors (the dead-letter file), capacity units (the budgets) and errors.
 */

/** What a worker is started with (workerData): everything to open its own clients, sinks and mapper. */
export interface WorkerInit {
  /** The resolved config without its functions (the transform is loaded again in the worker: `transform`). */
  config: Omit<ResolvedConfig, 'transform' | 'inverseTransform'>;
  transform: TransformRef;
  source: string;
  table: string;
  sourceKeySchema: KeySchema;
  targetKeys: Record<string, KeySchema>;
  totalSegments: number;
  /** This worker's share of write.concurrency per target: the shares add up to write.concurrency. */
  writeConcurrency: number;
  /** Targets whose main-thread sink keeps a write budget this worker's sink pays by message. */
  budgetedTargets: string[];
  /** Pages meet the stream through the main thread's gate. */
  gated: boolean;
  /** The failure policy holds open failures: report the source keys of what landed, so it can resolve them. */
  trackLanded: boolean;
  skipExpired?: { ttlAttribute: string };
}

/** Where the worker gets the transform: the module the config names, or the config module itself (inline). */
export type TransformRef = { kind: 'none' } | { kind: 'module'; path: string } | { kind: 'config'; configPath: string };

/** An error as it crosses the thread boundary: a DynashiftError's code, hint, details, side and exit code kept. */
export interface ThreadError {
  name: string;
  message: string;
  stack?: string;
  code?: string;
  hint?: string;
  details?: Record<string, unknown>;
  exitCode?: number;
  side?: string;
}

/** Main → worker. */
export type ToWorker =
  | { type: 'copy'; id: number; partition: string; cursor: BackfillCursor | undefined }
  | { type: 'reply'; id: number; value?: unknown; error?: ThreadError }
  | { type: 'stop' }
  | { type: 'close' }
  /** A budget the worker pays without waiting (`paid`) has a limit again: wait for its answers from now on. */
  | { type: 'limited'; budget: string };

/** Requests a worker makes of the main thread; each is answered by a `reply` with the same id. */
export type WorkerRequest =
  /** Open a read ticket now, before the page is asked for (value: the ticket's id). */
  | { op: 'beginRead' }
  /**
   * Take one of the shared slice slots, then admit the slice's source key ids against the ticket in one step (value:
   * SliceAdmission). The slot and the locks are held until `release`.
   */
  | { op: 'admit'; ticket: number; keys: string[] }
  /** Record map failures and rejected writes in the dead-letter file (may answer with the halt's error). */
  | { op: 'failures'; mapFailures: MapFailure[]; rejected: RejectedWrite[] }
  /** Resolve open failures whose write has now landed. */
  | { op: 'landed'; keys: Landed[]; mapFailures: MapFailure[]; rejected: RejectedWrite[] }
  /**
   * Pay capacity units into a budget: 'read' (the source's) or a target's name; answered once the budget allows, with
   * whether it is unlimited now (value: { unlimited }).
   */
  | { op: 'spend'; budget: string; units: number };

export interface SliceAdmission {
  admission: number;
  /** Indexes (into the slice) of the admitted items. */
  admitted: number[];
}

/**
 * Worker → main. Any message may carry `paid`: units paid without waiting into budgets that were unlimited at their
 * last answer (by budget name), gathered since the worker's previous message.
 */
export type FromWorker = WorkerMessage & { paid?: Record<string, number> };

type WorkerMessage =
  | { type: 'ready' }
  | ({ type: 'request'; id: number } & WorkerRequest)
  | { type: 'endRead'; ticket: number }
  | { type: 'release'; admission: number }
  | { type: 'throttled'; budget: string }
  /** Only `paid`: units no other message carried within a turn of the worker's event loop. */
  | { type: 'paid' }
  /** A page's writes all landed or were dead-lettered: the partition's cursor may move past it. */
  | {
      type: 'page';
      partition: string;
      read: number;
      bytes: number;
      expired: number;
      cursor: BackfillCursor | undefined;
      /** The worker's SDK requests since its previous page report: 'source', or a target's name. */
      calls?: Record<string, CallStats>;
    }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; fields: Record<string, unknown>; msg: string }
  | { type: 'partitionEnded'; id: number; error?: ThreadError }
  | { type: 'closed' }
  | { type: 'failed'; error: ThreadError };
