/** Backfill from DynamoDB's native exports to S3 (full and incremental), and starting an export on AWS. */
export { ExportSource, describeExport, type ExportSourceOptions, type ExportDescription } from './export-source.js';
export { IncrementalExports, checkChain, toChangeRecord, type IncrementalCursor, type IncrementalExportOptions } from './incremental.js';
export { startExport, waitForExport, exportIdOf, type StartExportOptions, type StartedExport, type WaitForExportOptions, type CompletedExport, type ExportApiClient } from './start-export.js';
export { exportStreamRefusals, streamLabelTime, streamLabelFromArn, EXPORT_MARGIN_MS, STREAM_RETENTION_MS, type ExportStreamCheck } from './plan-checks.js';
export { locateExport, loadExport, readManifests, exportUri, type LoadedExport } from './locate-export.js';
export { DecodePool, sharedDecodePool, defaultDecodeWorkers } from './decode-pool.js';
export { benchmarkExportDecode, type DecodeBenchOptions, type DecodeBenchResult } from './bench-decode.js';
export { openStore, type BlobStore } from './export-store.js';
export type { ExportFormat, ExportRecord } from './export-record.js';
export type { ExportSummary, ManifestFileEntry } from './manifest.js';
