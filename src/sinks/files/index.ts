export { filesDriver, type FilesDetail } from './files-driver.js';
export { FilesSink, type FilesSinkOptions } from './files-sink.js';
export { filesSettings, exportLocation, DEFAULT_MAX_FILE_BYTES, type FilesSettings } from './files-settings.js';
export { ExportWriter, type ExportLocation, type PartRecord } from '../../formats/ddb-export/export-writer.js';
