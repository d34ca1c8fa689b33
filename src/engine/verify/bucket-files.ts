import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Bytes buffered across all buckets before they are appended to their files. */
const TOTAL_BUFFER_BYTES = 8 * 1024 * 1024;
/** Bytes being appended at once; writers wait beyond this (backpressure, so memory stays bounded). */
const MAX_IN_FLIGHT_BYTES = 8 * 1024 * 1024;

/**
 * A set of bucket files (`<prefix>-<n>.jsonl`) filled by appending lines. Each bucket buffers lines in memory and
 * appends them in one call once the buffer is full, so there is neither one fs call per line nor one open file
 * descriptor per bucket (there may be thousands). Appends to one bucket are serialized.
 */
export class BucketFiles {
  private readonly buffers: string[][];
  private readonly sizes: number[];
  private readonly chains: Promise<void>[];
  private readonly bufferBytes: number;
  private inFlightBytes = 0;
  private readonly inFlight = new Set<Promise<void>>();
  private failure: unknown;
  lines = 0;

  constructor(
    readonly dir: string,
    readonly prefix: string,
    readonly count: number,
  ) {
    this.buffers = Array.from({ length: count }, () => []);
    this.sizes = new Array<number>(count).fill(0);
    this.chains = Array.from({ length: count }, () => Promise.resolve());
    this.bufferBytes = Math.max(4096, Math.min(1024 * 1024, Math.floor(TOTAL_BUFFER_BYTES / count)));
  }

  path(bucket: number): string {
    return join(this.dir, `${this.prefix}-${String(bucket).padStart(5, '0')}.jsonl`);
  }

  paths(): string[] {
    return Array.from({ length: this.count }, (_, i) => this.path(i));
  }

  /** Adds a line to a bucket; resolves at once unless too much is being written already. */
  async append(bucket: number, line: string): Promise<void> {
    if (this.failure) throw this.failure;
    this.buffers[bucket]!.push(line, '\n');
    this.sizes[bucket]! += line.length + 1;
    this.lines++;
    if (this.sizes[bucket]! >= this.bufferBytes) {
      this.flush(bucket);
      while (this.inFlightBytes > MAX_IN_FLIGHT_BYTES && this.inFlight.size > 0) await Promise.race(this.inFlight);
      if (this.failure) throw this.failure;
    }
  }

  /** Writes every buffer out and waits for all appends. */
  async close(): Promise<void> {
    for (let b = 0; b < this.count; b++) if (this.sizes[b]! > 0) this.flush(b);
    await Promise.all(this.chains);
    if (this.failure) throw this.failure;
  }

  private flush(bucket: number): void {
    const data = this.buffers[bucket]!.join('');
    const size = this.sizes[bucket]!;
    this.buffers[bucket] = [];
    this.sizes[bucket] = 0;
    this.inFlightBytes += size;
    const path = this.path(bucket);
    const write = this.chains[bucket]!.then(() => appendFile(path, data, 'utf8')).catch((err: unknown) => {
      this.failure ??= err;
    });
    const done = write.finally(() => {
      this.inFlightBytes -= size;
      this.inFlight.delete(done);
    });
    this.inFlight.add(done);
    this.chains[bucket] = done;
  }
}
