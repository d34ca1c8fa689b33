import pino from 'pino';
import pretty, { prettyFactory } from 'pino-pretty';
import type { Logger } from '../engine/logger.js';
import { requestHealth } from '../aws/request-health.js';

/**
 * Logs go to stderr so stdout stays for results (plans, reports, --json). Human-readable by default; `--log-format
 * json` for machines. Secrets never reach a log: the engine logs table names, counts and codes, never credentials.
 */
type LoggerOptions = { format?: 'pretty' | 'json'; level?: string; write?: (text: string) => void };

export function createLogger(opts: LoggerOptions = {}): Logger {
  const log = build(opts);
  // Retried SDK requests (5xx, resets, timeouts) are reported as warnings through the command's logger.
  requestHealth.setLogger(log);
  return log;
}

function build(opts: LoggerOptions): Logger {
  const level = opts.level ?? process.env.DYNASHIFT_LOG_LEVEL ?? 'info';
  const { write } = opts;
  if (opts.format === 'json') return pino({ level, base: undefined }, write ? { write } : pino.destination({ fd: 2, sync: true }));
  const prettyOpts = { colorize: process.stderr.isTTY === true, ignore: 'pid,hostname', translateTime: 'HH:MM:ss' };
  const redact = { paths: ['*.secretAccessKey', '*.sessionToken', '*.credentials'], remove: true };
  if (write) {
    // Formatted synchronously, line by line, so the caller (a progress bar) can clear its line before each one.
    const prettify = prettyFactory(prettyOpts);
    return pino({ level, base: undefined, redact }, { write: (line: string) => write(prettify(line)) });
  }
  const stream = pretty({ destination: 2, sync: true, ...prettyOpts });
  return pino({ level, base: undefined, redact }, stream);
}
