import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

/** The lines of a file, streamed; a file that was never written reads as empty. */
export async function* readLines(path: string): AsyncIterable<string> {
  if (!(await exists(path))) return;
  const input = createReadStream(path, { encoding: 'utf8', highWaterMark: 1024 * 1024 });
  const lines = createInterface({ input, crlfDelay: Infinity });
  try {
    for await (const line of lines) if (line !== '') yield line;
  } finally {
    lines.close();
    input.destroy();
  }
}

/** Appends JSON lines to one file through a buffered stream, waiting for it to drain (bounded memory). */
export class JsonlWriter<T> {
  private readonly out: WriteStream;
  private failure: Error | undefined;
  count = 0;

  constructor(
    readonly path: string,
    opts: { truncate?: boolean } = {},
  ) {
    this.out = createWriteStream(path, { flags: opts.truncate ? 'w' : 'a', highWaterMark: 1024 * 1024 });
    this.out.on('error', (err) => {
      this.failure = err;
    });
  }

  async write(record: T): Promise<void> {
    this.count++;
    await this.writeRaw(`${JSON.stringify(record)}\n`);
  }

  /** Text as is (no newline added). */
  async writeRaw(text: string): Promise<void> {
    if (this.failure) throw this.failure;
    if (!this.out.write(text)) await once(this.out, 'drain');
  }

  async close(): Promise<void> {
    if (this.failure) throw this.failure;
    await new Promise<void>((resolve, reject) => this.out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  }
}

export async function* readJsonl<T>(path: string): AsyncIterable<T> {
  for await (const line of readLines(path)) yield JSON.parse(line) as T;
}

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** Size of a file in bytes; 0 when it was never written. */
export async function fileBytes(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
}
