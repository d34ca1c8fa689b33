import { createRequire } from 'node:module';
import { loadConfig } from '../../config/load-config.js';
import { runMigration } from '../../engine/migration.js';
import type { Monitor } from '../observe/monitor-server.js';
import { createLogger } from '../logger.js';
import { createJsonProgressView, createProgressView } from '../progress.js';
import { onShutdownSignal } from '../signals.js';
import { runController } from '../../core/run-signal.js';

const { version } = createRequire(import.meta.url)('../../../package.json') as { version: string };

export interface RunFlags {
  config: string;
  untilSynced?: boolean;
  rebackfill?: boolean;
  acceptTransform?: boolean;
  onError?: 'halt' | 'dead-letter';
  logFormat?: 'pretty' | 'json';
  progress?: boolean;
  backfill?: string;
  /** Serve /metrics and the dashboard on this port. */
  metricsPort?: number;
  metricsHost?: string;
}

export async function runCommand(flags: RunFlags): Promise<number> {
  // The view first: log lines go through it, so that none is glued onto a live progress bar.
  // JSON logs get JSON progress lines (below), never a bar.
  const view = flags.progress === false || flags.logFormat === 'json' ? undefined : createProgressView();
  const log = createLogger({ format: flags.logFormat, ...(view ? { write: (text: string) => view.writeLog(text) } : {}) });
  const config = await loadConfig(flags.config, {
    ...(flags.onError ? { onError: flags.onError } : {}),
    ...(flags.backfill ? { backfill: flags.backfill } : {}),
  });
  let monitor: Monitor | undefined;
  if (flags.metricsPort !== undefined) {
    // Loaded only when asked for: the dashboard and prom-client stay off the heap of a run without them.
    const { startMonitor } = await import('../observe/monitor-server.js');
    monitor = await startMonitor({
      host: flags.metricsHost ?? '127.0.0.1',
      port: flags.metricsPort,
      migration: config.name,
      version,
      stateDir: config.stateDir,
    });
    log.info(
      { dashboard: monitor.url, metrics: `${monitor.url}metrics` },
      `dashboard on ${monitor.url}, Prometheus metrics on ${monitor.url}metrics`,
    );
  }
  const controller = runController();
  const release = onShutdownSignal(() => {
    log.info({}, 'stopping: finishing in-flight writes and saving checkpoints (send the signal again to force)');
    controller.abort();
  });
  const progress = view ?? (flags.progress !== false && flags.logFormat === 'json' ? createJsonProgressView(log) : undefined);
  try {
    const result = await runMigration(config, {
      untilSynced: flags.untilSynced === true,
      rebackfill: flags.rebackfill === true,
      acceptTransform: flags.acceptTransform === true,
      signal: controller.signal,
      log,
      ...(progress || monitor
        ? {
            onProgress: (p) => {
              progress?.update(p);
              monitor?.onProgress(p);
            },
          }
        : {}),
      ...testStreamRetention(),
    });
    progress?.stop();
    log.info(
      { phase: result.phase, backfilledItems: result.backfilledItems, appliedRecords: result.appliedRecords, deadLetters: result.deadLetters },
      result.synced ? 'in sync: every change up to now is applied' : 'stopped; rerun the same command to resume',
    );
    if (result.deadLetters > 0) log.warn({ file: result.deadLetterFile }, `${result.deadLetters} item(s) are in the dead-letter file`);
    return 0;
  } finally {
    progress?.stop();
    release();
    await monitor?.close();
  }
}

/** TEST ONLY (docs/consistency.md): stream records trimmed after N seconds instead of 24 h, to outlast it in a test. */
function testStreamRetention(): { testStreamRetentionMs?: number } {
  const seconds = Number(process.env.DYNASHIFT_TEST_STREAM_RETENTION_SECONDS);
  return Number.isFinite(seconds) && seconds > 0 ? { testStreamRetentionMs: seconds * 1000 } : {};
}
