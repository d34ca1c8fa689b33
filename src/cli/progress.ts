import cliProgress from 'cli-progress';
import type { Logger } from '../engine/logger.js';
import type { ProgressSnapshot } from '../state/migration-state.js';

/**
 * On a TTY: a live bar (items, items/s, ETA) during the backfill and a status line (records, lag) while applying the
 * stream. Elsewhere (CI, logs): one plain line every `intervalMs`.
 */
export interface ProgressView {
  update(p: ProgressSnapshot): void;
  stop(): void;
}

export function createProgressView(opts: { tty?: boolean; intervalMs?: number; write?: (line: string) => void } = {}): ProgressView {
  const tty = opts.tty ?? process.stderr.isTTY === true;
  return tty ? new BarView() : new LineView(opts.intervalMs ?? 5000, opts.write ?? ((l) => process.stderr.write(`${l}\n`)));
}

class BarView implements ProgressView {
  private readonly bar = new cliProgress.SingleBar(
    {
      format: '{phase} |{bar}| {value}/{total} items | {rate} items/s | ETA {eta_formatted} | stream {records} rec, lag {lag} | dead-letters {dead}',
      hideCursor: true,
      stream: process.stderr,
      etaBuffer: 50,
      fps: 4,
    },
    cliProgress.Presets.shades_classic,
  );
  private started = false;

  update(p: ProgressSnapshot): void {
    const total = Math.max(1, p.backfill.estimatedItems);
    const payload = {
      phase: p.phase.padEnd(11),
      rate: Math.round(p.backfill.itemsPerSecond || p.stream.recordsPerSecond),
      records: p.stream.records,
      lag: fmtLag(p.stream.lagMs),
      dead: p.deadLetters,
    };
    if (!this.started) {
      this.bar.start(total, p.backfill.items, payload);
      this.started = true;
    }
    this.bar.setTotal(total);
    this.bar.update(p.backfill.items, payload);
  }

  stop(): void {
    if (this.started) this.bar.stop();
  }
}

class LineView implements ProgressView {
  private last = 0;
  constructor(
    private readonly intervalMs: number,
    private readonly write: (line: string) => void,
  ) {}

  update(p: ProgressSnapshot): void {
    const now = Date.now();
    if (now - this.last < this.intervalMs) return;
    this.last = now;
    this.write(formatProgressLine(p));
  }

  stop(): void {}
}

/** With `--log-format json`: the same figures as a JSON log record (msg "progress"), so stderr stays pure JSON lines. */
export function createJsonProgressView(log: Logger, intervalMs = 5000): ProgressView {
  let last = 0;
  return {
    update(p) {
      const now = Date.now();
      if (now - last < intervalMs) return;
      last = now;
      const b = p.backfill;
      log.info(
        {
          phase: p.phase,
          backfill: {
            items: b.items,
            estimatedItems: b.estimatedItems,
            itemsPerSecond: Math.round(b.itemsPerSecond),
            segmentsDone: b.partitionsDone,
            segments: b.partitions,
            ...(b.etaSeconds !== undefined ? { etaSeconds: b.etaSeconds } : {}),
          },
          stream: { records: p.stream.records, recordsPerSecond: Math.round(p.stream.recordsPerSecond), lagMs: Math.round(p.stream.lagMs) },
          deadLetters: p.deadLetters,
        },
        'progress',
      );
    },
    stop() {},
  };
}

export function formatProgressLine(p: ProgressSnapshot): string {
  const b = p.backfill;
  const eta = b.etaSeconds !== undefined ? ` eta=${b.etaSeconds}s` : '';
  return (
    `progress phase=${p.phase} backfill=${b.items}/${b.estimatedItems} items (${Math.round(b.itemsPerSecond)}/s${eta}) segments=${b.partitionsDone}/${b.partitions}` +
    ` stream=${p.stream.records} records (${Math.round(p.stream.recordsPerSecond)}/s) lag=${fmtLag(p.stream.lagMs)} dead-letters=${p.deadLetters}`
  );
}

export function fmtLag(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)}ms` : ms < 120_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms / 60_000)}min`;
}
