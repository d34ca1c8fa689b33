import cliProgress from 'cli-progress';
import type { Logger } from '../engine/logger.js';
import { writeSync } from 'node:fs';
import { clearLine, cursorTo } from 'node:readline';
import type { ProgressSnapshot } from '../state/migration-state.js';

/**
 * On a TTY: a live bar (items, items/s, ETA) during the backfill and a status line (records, lag) while applying the
 * stream. Elsewhere (CI, logs): one plain line every `intervalMs`.
 */
export interface ProgressView {
  update(p: ProgressSnapshot): void;
  /** Writes a log line on its own line: a live bar is cleared first and drawn again below it. */
  writeLog(text: string): void;
  stop(): void;
}

const writeStderr = (text: string): void => {
  writeSync(2, text);
};

export function createProgressView(
  opts: { tty?: boolean; intervalMs?: number; write?: (line: string) => void; stream?: NodeJS.WriteStream } = {},
): ProgressView {
  const tty = opts.tty ?? process.stderr.isTTY === true;
  return tty
    ? new BarView(opts.stream ?? process.stderr)
    : new LineView(opts.intervalMs ?? 5000, opts.write ?? ((l) => process.stderr.write(`${l}\n`)));
}

class BarView implements ProgressView {
  private readonly bar: cliProgress.SingleBar;
  private started = false;
  private stopped = false;

  constructor(private readonly stream: NodeJS.WriteStream) {
    this.bar = new cliProgress.SingleBar(
      {
        format:
          '{phase} |{bar}| {value}/{total} items | {rate} items/s | ETA {eta_formatted} | stream {records} rec, lag {lag} | dead-letters {dead}',
        // forceRedraw: after writeLog clears the line, the bar must be drawn again even if nothing in it changed.
        hideCursor: true,
        stream,
        etaBuffer: 50,
        fps: 4,
        forceRedraw: true,
      },
      cliProgress.Presets.shades_classic,
    );
  }

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

  writeLog(text: string): void {
    const line = text.endsWith('\n') ? text : `${text}\n`;
    if (!this.started || this.stopped) {
      this.stream.write(line);
      return;
    }
    // The bar leaves the cursor at the end of its line: without this the log line would be glued onto the bar.
    cursorTo(this.stream, 0);
    clearLine(this.stream, 0);
    this.stream.write(line);
    // cli-progress saved the cursor's screen position when the bar started and goes back there on stop(): that
    // position scrolled up with the log line, so save the bar's new line instead (DECSC), or stop() would draw over logs.
    this.stream.write('\x1B7');
    this.bar.render();
  }

  stop(): void {
    if (this.started && !this.stopped) this.bar.stop(); // draws the last state and ends the line
    this.stopped = true;
  }
}

class LineView implements ProgressView {
  private readonly throttle: Throttle<ProgressSnapshot>;
  constructor(intervalMs: number, write: (line: string) => void) {
    this.throttle = new Throttle(intervalMs, (p) => write(formatProgressLine(p)));
  }

  update(p: ProgressSnapshot): void {
    this.throttle.offer(p);
  }

  writeLog(text: string): void {
    writeStderr(text);
  }

  stop(): void {
    this.throttle.flush();
  }
}

/**
 * At most one write per interval, and on flush the last snapshot offered if it was held back: the final state of a run
 * is always written, even when the run is shorter than one interval.
 */
class Throttle<T> {
  private last = 0;
  private held: T | undefined;
  constructor(
    private readonly intervalMs: number,
    private readonly write: (value: T) => void,
  ) {}

  offer(value: T): void {
    const now = Date.now();
    if (now - this.last < this.intervalMs) {
      this.held = value;
      return;
    }
    this.last = now;
    this.held = undefined;
    this.write(value);
  }

  flush(): void {
    if (this.held === undefined) return;
    const value = this.held;
    this.held = undefined;
    this.write(value);
  }
}

/** With `--log-format json`: the same figures as a JSON log record (msg "progress"), so stderr stays pure JSON lines. */
export function createJsonProgressView(log: Logger, intervalMs = 5000): ProgressView {
  const throttle = new Throttle<ProgressSnapshot>(intervalMs, (p) => {
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
  });
  return {
    writeLog(text) {
      process.stderr.write(text);
    },
    update: (p) => throttle.offer(p),
    stop: () => throttle.flush(),
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
