/**
 * The TTY progress bar shares stderr with the log: a log line written while the bar is live must land on its own line
 * (never glued onto the bar), and once the bar stops, what follows starts on a fresh line without overwriting logs.
 * The bar's output is replayed through a small terminal model (cursor moves, line clears, save/restore).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createProgressView } from '../../src/cli/progress.js';
import type { ProgressSnapshot } from '../../src/state/migration-state.js';

/** Enough of a VT100 to replay what cli-progress and readline write. */
class Screen {
  rows: string[] = [''];
  private row = 0;
  private col = 0;
  private saved = { row: 0, col: 0 };

  feed(text: string): void {
    for (let i = 0; i < text.length; i++) {
      const ch = text[i]!;
      if (ch === '\x1B') {
        const rest = text.slice(i + 1);
        const simple = /^[78]/.exec(rest);
        if (simple) {
          if (simple[0] === '7') this.saved = { row: this.row, col: this.col };
          else ({ row: this.row, col: this.col } = this.saved);
          i += 1;
          continue;
        }
        const csi = /^\[(\??)(\d*)([A-Za-z])/.exec(rest);
        if (!csi) throw new Error(`unknown escape ${JSON.stringify(rest.slice(0, 6))}`);
        i += csi[0].length;
        const [, priv, n, op] = csi;
        if (priv) continue; // cursor visibility, line wrapping
        if (op === 'G') this.col = Number(n || '1') - 1;
        else if (op === 'K' && n === '2') this.rows[this.row] = '';
        else if (op === 'K') this.rows[this.row] = this.line().slice(0, this.col);
        else throw new Error(`unhandled CSI ${csi[0]}`);
        continue;
      }
      if (ch === '\n') {
        this.row++;
        this.col = 0;
        this.rows[this.row] ??= '';
      } else if (ch === '\r') {
        this.col = 0;
      } else {
        const line = this.line().padEnd(this.col, ' ');
        this.rows[this.row] = line.slice(0, this.col) + ch + line.slice(this.col + 1);
        this.col++;
      }
    }
  }

  private line(): string {
    return this.rows[this.row] ?? '';
  }
}

function ttyStream(screen: Screen): NodeJS.WriteStream {
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      screen.feed(chunk.toString());
      done();
    },
  }) as unknown as NodeJS.WriteStream;
  Object.assign(stream, { isTTY: true, columns: 220, rows: 40 });
  return stream;
}

function snapshot(items: number): ProgressSnapshot {
  return {
    at: new Date().toISOString(),
    phase: 'backfilling',
    backfill: { items, estimatedItems: 1000, itemsPerSecond: 100, partitions: 4, partitionsDone: 1 },
    stream: { records: 0, writes: 0, skipped: 0, recordsPerSecond: 0, lagMs: 0, caughtUp: false, shards: [] },
    deadLetters: 0,
  };
}

test('log lines written during a live progress bar get their own lines, and output after stop starts on a fresh line', async () => {
  const screen = new Screen();
  const stream = ttyStream(screen);
  const view = createProgressView({ tty: true, stream });
  view.update(snapshot(100));
  view.writeLog('INFO: backfill started\n');
  view.update(snapshot(500));
  view.writeLog('INFO: phase: catching-up');
  view.update(snapshot(1000));
  view.stop();
  stream.write('INFO: in sync: every change up to now is applied\n');
  await new Promise((r) => setImmediate(r));

  const rows = screen.rows.filter((r) => r.trim() !== '');
  assert.equal(rows.length, 4, JSON.stringify(rows, null, 2));
  assert.equal(rows[0], 'INFO: backfill started');
  assert.equal(rows[1], 'INFO: phase: catching-up');
  assert.match(rows[2]!, /^backfilling +\|.*\| 1000\/1000 items/);
  assert.equal(rows[3], 'INFO: in sync: every change up to now is applied');
});
