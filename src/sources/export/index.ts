/** Backfill from DynamoDB's native exports to S3 (full and incremental), and starting an export on AWS. */
export { ExportSource, describeExport, type ExportSourceOptions, type ExportDescription } from './export-source.js';
export { IncrementalExports, checkChain, toChangeRecord, type IncrementalCursor, type IncrementalExportOptions } from './incremental.js';
export {
  startExport,
  waitForExport,
  exportIdOf,
  type StartExportOptions,
  type StartedExport,
  type WaitForExportOptions,
  type CompletedExport,
  type ExportApiClient,
} from './start-export.js';
export { exportStreamRefusals, streamLabelTime, streamLabelFromArn, EXPORT_MARGIN_MS, type ExportStreamCheck } from './plan-checks.js';
export { locateExport, loadExport, readManifests, exportUri, type LoadedExport } from '../../formats/ddb-export/locate-export.js';
export { DecodePool, sharedDecodePool, defaultDecodeWorkers } from '../../formats/ddb-export/decode-pool.js';
export { openStore, type BlobStore } from '../../formats/ddb-export/export-store.js';
export type { ExportFormat, ExportRecord } from '../../formats/ddb-export/export-record.js';
export type { ExportSummary, ManifestFileEntry } from '../../formats/ddb-export/manifest.js';
