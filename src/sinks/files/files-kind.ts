import type { SinkKind } from '../driver.js';
import { declareCapabilities } from '../sink.js';

/** Write-once, unguarded, no stream: the backfill is written as files, nothing after it. */
export const FILES_CAPABILITIES = declareCapabilities({ writeOnce: true, maxBatchSize: 10_000, nativeTypes: true });

/** What the planner and engine know of `kind: "files"` without loading its driver (S3, the export formats). */
export const filesKind: SinkKind = { kind: 'files', capabilities: FILES_CAPABILITIES };
