import pino from 'pino';
import pretty from 'pino-pretty';
import type { Logger } from '../engine/logger.js';
import { requestHealth } from '../aws/request-health.js';

/**
 * Logs go to stderr so stdout stays for results (plans, reports, --json). Human-readable by default; `--log-format
 * json` for machines. Secrets never reach a log: the engine logs table names, counts and codes, never credentials.
 */
export function createLogger(opts: { format?: 'pretty' | 'json'; level?: string } = {}): Logger {
  const log = build(opts);
  // Retried SDK requests (5xx, resets, timeouts) are reported as warnings through the command's logger.
  requestHealth.setLogger(log);
  return log;
}

function build(opts: { format?: 'pretty' | 'json'; level?: string }): Logger {
  const level = opts.level ?? process.env.DYNASHIFT_LOG_LEVEL ?? 'info';
  if (opts.format === 'json') return pino({ level, base: undefined }, pino.destination({ fd: 2, sync: true }));
  const stream = pretty({ destination: 2, sync: true, colorize: process.stderr.isTTY === true, ignore: 'pid,hostname', translateTime: 'HH:MM:ss' });
  return pino({ level, base: undefined, redact: { paths: ['*.secretAccessKey', '*.sessionToken', '*.credentials'], remove: true } }, stream);
}
