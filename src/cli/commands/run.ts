import { loadConfig } from '../../config/load-config.js';
import { runMigration } from '../../engine/migration.js';
import { createLogger } from '../logger.js';
import { createJsonProgressView, createProgressView } from '../progress.js';
import { onShutdownSignal } from '../signals.js';

export interface RunFlags {
  config: string;
  untilSynced?: boolean;
  rebackfill?: boolean;
  acceptTransform?: boolean;
  onError?: 'halt' | 'dead-letter';
  logFormat?: 'pretty' | 'json';
  progress?: boolean;
  backfill?: string;
}

export async function runCommand(flags: RunFlags): Promise<number> {
  const log = createLogger({ format: flags.logFormat });
  const config = await loadConfig(flags.config, {
    ...(flags.onError ? { onError: flags.onError } : {}),
    ...(flags.backfill ? { backfill: flags.backfill } : {}),
  });
  const controller = new AbortController();
  const release = onShutdownSignal(() => {
    log.info({}, 'stopping: finishing in-flight writes and saving checkpoints (send the signal again to force)');
    controller.abort();
  });
  const view = flags.progress === false ? undefined : flags.logFormat === 'json' ? createJsonProgressView(log) : createProgressView();
  try {
    const result = await runMigration(config, {
      untilSynced: flags.untilSynced === true,
      rebackfill: flags.rebackfill === true,
      acceptTransform: flags.acceptTransform === true,
      signal: controller.signal,
      log,
      ...(view ? { onProgress: (p) => view.update(p) } : {}),
      ...testStreamRetention(),
    });
    view?.stop();
    log.info(
      { phase: result.phase, backfilledItems: result.backfilledItems, appliedRecords: result.appliedRecords, deadLetters: result.deadLetters },
      result.synced ? 'in sync: every change up to now is applied' : 'stopped; rerun the same command to resume',
    );
    if (result.deadLetters > 0) log.warn({ file: result.deadLetterFile }, `${result.deadLetters} item(s) are in the dead-letter file`);
    return 0;
  } finally {
    view?.stop();
    release();
  }
}

/** TEST ONLY (docs/consistency.md): stream records trimmed after N seconds instead of 24 h, to outlast it in a test. */
function testStreamRetention(): { testStreamRetentionMs?: number } {
  const seconds = Number(process.env.DYNASHIFT_TEST_STREAM_RETENTION_SECONDS);
  return Number.isFinite(seconds) && seconds > 0 ? { testStreamRetentionMs: seconds * 1000 } : {};
}
