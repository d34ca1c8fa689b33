import { constants as bufferLimits, isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { createGunzip, gunzipSync } from 'node:zlib';
import { toDdbJson } from '../../core/ddb-json.js';
import { isPlainItemLine } from './ddb-json-check.js';
import { decodeDdbJsonLine, decodeVerifiedLine } from './ddb-json-line.js';
import { LineDecodeError } from './export-errors.js';
import type { DecodeMode, ExportFormat, ExportRecord } from './export-record.js';
import { decodeIonLine } from './ion-line.js';

/**
 * Reading one export data file: gzip'd text, one record per line. Runs inside the decode workers (and in-thread as a
 * fallback and for benchmarks); it does no I/O beyond reading the given file.
 */
export function decodeLine(format: ExportFormat, line: string, mode: DecodeMode): ExportRecord {
  return format === 'ION' ? decodeIonLine(line, mode) : decodeDdbJsonLine(line, mode);
}

export interface ScanInput {
  path?: string;
  bytes?: Uint8Array;
  format: ExportFormat;
  mode: DecodeMode;
  /** Keep the file's text when it decompresses to at most this many bytes; past it the text is dropped. */
  keepLimitBytes: number;
}

export interface ScanResult {
  /** MD5 of the gzip bytes as stored: what manifest-files.json's md5Checksum covers. */
  md5Base64: string;
  count: number;
  compressedBytes: number;
  rawBytes: number;
  /**
   * The file's records as DynamoDB JSON lines (an ION file re-encoded), when small enough to keep: verified text the
   * main thread turns into items page by page. Text, not objects, because handing objects between threads (structured
   * clone) is slower than JSON.parse, while text moves for free (a transferred buffer).
   */
  text?: Uint8Array;
  /**
   * Every line is in the form `isPlainItemLine` accepts (true for files AWS writes, and for an ION file's re-encoded
   * text): decoding then skips the binary walk of lines without binary.
   */
  plain: boolean;
}

/**
 * One full pass over a file: MD5 of the stored bytes, gunzip (which also checks gzip's own CRC-32 and length), and
 * every line decoded and counted. Nothing from the file reaches a target before this pass succeeds, so a damaged file
 * is refused whole.
 */
export async function scanFile(input: ScanInput): Promise<ScanResult> {
  const hash = createHash('md5');
  let compressedBytes = 0;
  let rawBytes = 0;
  let count = 0;
  let plain = true;
  // DYNAMODB_JSON: keep the decompressed chunks as they are; ION: keep the re-encoded lines.
  let kept: Buffer[] | undefined = [];
  let keptJson: string[] | undefined = input.format === 'ION' ? [] : undefined;
  const source = input.path
    ? createReadStream(input.path, { highWaterMark: 1 << 20 })
    : Readable.from([Buffer.from(input.bytes!.buffer, input.bytes!.byteOffset, input.bytes!.byteLength)]);
  // A full-export DynamoDB JSON line in the form AWS writes is checked on its bytes, without being parsed (the main
  // thread parses it once, when its items are used); any other line goes through the strict decoder.
  const lines =
    input.format === 'DYNAMODB_JSON' && input.mode === 'item'
      ? LineSplitter.ofBytes((buf, start, end, lineNo) => {
          if (!isPlainItemLine(buf, start, end)) {
            decodeAt(input.format, buf.toString('utf8', start, end), input.mode, lineNo);
            plain = false;
          }
          count++;
        })
      : new LineSplitter((line, lineNo) => {
          const record = decodeAt(input.format, line, input.mode, lineNo);
          count++;
          // Change lines aren't checked by isPlainItemLine; an ION file's re-encoded lines are plain by construction.
          if (input.format !== 'ION') plain = false;
          if (keptJson) keptJson.push(recordToJsonLine(record));
        });
  // A file already in memory whose text will be kept anyway is inflated in one call: no stream hops, and the text is
  // kept as the one buffer zlib wrote instead of a copy of its chunks (with the other cuts, ~0.78× the verify pass's
  // CPU: BENCHMARKS.md, "Export decode").
  const whole = input.bytes && input.bytes.byteLength > 0 ? gunzipWhole(input.bytes, input.keepLimitBytes) : undefined;
  if (whole) {
    lines.push(whole);
    lines.end();
    const text = keptJson ? ownedBytes([Buffer.from(keptJson.join(''))]) : ownArrayBuffer(whole);
    const md5Base64 = hash.update(input.bytes!).digest('base64');
    return { md5Base64, count, compressedBytes: input.bytes!.byteLength, rawBytes: whole.length, plain, text };
  }
  // Hash the compressed bytes as they stream past on the way into gunzip.
  const tapped = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      compressedBytes += chunk.length;
      done(null, chunk);
    },
  });
  source.on('error', (err: Error) => tapped.destroy(err));
  source.pipe(tapped);
  try {
    if (await isEmpty(input)) {
      // An empty object (AWS writes empty files for empty partitions): no gzip stream to open.
      for await (const chunk of tapped) void chunk;
    } else {
      // Large output chunks: one stream hop per 256 KiB instead of per 16 KiB.
      const gunzip = createGunzip({ chunkSize: 256 * 1024 });
      tapped.on('error', (err: Error) => gunzip.destroy(err));
      tapped.pipe(gunzip);
      for await (const chunk of gunzip as AsyncIterable<Buffer>) {
        rawBytes += chunk.length;
        if (rawBytes > input.keepLimitBytes) kept = keptJson = undefined;
        kept?.push(chunk);
        lines.push(chunk);
      }
    }
    lines.end();
  } finally {
    source.destroy();
    tapped.destroy();
  }
  const text = keptJson ? ownedBytes([Buffer.from(keptJson.join(''))]) : kept ? ownedBytes(kept) : undefined;
  return { md5Base64: hash.digest('base64'), count, compressedBytes, rawBytes, plain, ...(text ? { text } : {}) };
}

/**
 * The whole decompressed text, or undefined when it would be larger than `limit` (gzip's trailer says so, or zlib
 * stops at the limit): the caller then streams the file. Damaged input throws zlib's error, as the stream does.
 */
function gunzipWhole(bytes: Uint8Array, limit: number): Buffer | undefined {
  // ISIZE, the last 4 bytes of a gzip member: its length mod 2^32. Only a hint (several members, or over 4 GiB).
  const n = bytes.byteLength;
  if (n >= 4 && Buffer.from(bytes.buffer, bytes.byteOffset, n).readUInt32LE(n - 4) > limit) return undefined;
  try {
    return gunzipSync(bytes, { maxOutputLength: Math.max(1, Math.min(limit, bufferLimits.MAX_LENGTH)) });
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') return undefined;
    throw err;
  }
}

/** The buffer itself when it is the whole of its ArrayBuffer (transferable as is), else a copy that is. */
function ownArrayBuffer(buf: Buffer): Uint8Array {
  return buf.byteOffset === 0 && buf.buffer.byteLength === buf.length ? buf : ownedBytes([buf]);
}

/**
 * One buffer with an ArrayBuffer of its own, so it can be transferred to another thread (small Buffers share a pooled
 * ArrayBuffer, and transferring that would detach the pool).
 */
export function ownedBytes(chunks: Uint8Array[]): Uint8Array {
  // Unpooled and not zero-filled: every byte is written below, and a memset of a whole file's text is not free.
  const out: Uint8Array = Buffer.allocUnsafeSlow(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** A record back as a DynamoDB JSON line (what DYNAMODB_JSON exports hold), ending in \n. */
export function recordToJsonLine(r: ExportRecord): string {
  if (r.Item) return `${JSON.stringify({ Item: toDdbJson(r.Item) })}\n`;
  const out: Record<string, unknown> = {};
  if (r.writeTimestampMicros !== undefined) out['Metadata'] = { WriteTimestampMicros: { N: r.writeTimestampMicros } };
  if (r.Keys) out['Keys'] = toDdbJson(r.Keys);
  if (r.OldImage) out['OldImage'] = toDdbJson(r.OldImage);
  if (r.NewImage) out['NewImage'] = toDdbJson(r.NewImage);
  return `${JSON.stringify(out)}\n`;
}

/** ION lines → verified DynamoDB JSON text (the worker side of streaming a large ION file). */
export function ionLinesToJson(lines: string[], mode: DecodeMode, firstLine: number): Uint8Array {
  return ownedBytes([Buffer.from(lines.map((line, i) => recordToJsonLine(decodeAt('ION', line, mode, firstLine + i))).join(''))]);
}

/**
 * The main-thread side: records of verified DynamoDB JSON text, `pageSize` at a time from record `fromLine`. Only
 * the text is held; items are built page by page.
 */
export function* jsonTextPages(text: Uint8Array, mode: DecodeMode, fromLine: number, pageSize: number, plain = false): Generator<ExportRecord[]> {
  const buf = Buffer.from(text.buffer, text.byteOffset, text.byteLength);
  const starts: number[] = [];
  const ends: number[] = [];
  new LineSplitterOffsets(buf, (s, e) => {
    starts.push(s);
    ends.push(e);
  });
  for (let at = fromLine; at < starts.length; at += pageSize) {
    const page: ExportRecord[] = [];
    const stop = Math.min(starts.length, at + pageSize);
    let i = at;
    try {
      for (; i < stop; i++) page.push(decodeVerifiedLine(buf.toString('utf8', starts[i], ends[i]), mode, plain));
    } catch (err) {
      throw lineError(err, i);
    }
    yield page;
  }
}

/** Offsets of the non-blank lines of a buffer (same rules as LineSplitter, so record numbers agree). */
class LineSplitterOffsets {
  constructor(buf: Buffer, onLine: (start: number, end: number) => void) {
    let start = 0;
    while (start < buf.length) {
      let nl = buf.indexOf(10, start);
      if (nl === -1) nl = buf.length;
      let stop = nl;
      if (stop > start && buf[stop - 1] === 13) stop--;
      let first = start;
      while (first < stop && (buf[first] === 32 || buf[first] === 9)) first++;
      if (first < stop) onLine(first, stop);
      start = nl + 1;
    }
  }
}

async function isEmpty(input: ScanInput): Promise<boolean> {
  if (input.bytes) return input.bytes.byteLength === 0;
  return (await stat(input.path!)).size === 0;
}

/** Decodes a batch of lines (already split, from a verified file); `firstLine` numbers them for errors. */
export function decodeLines(format: ExportFormat, lines: string[], mode: DecodeMode, firstLine: number): ExportRecord[] {
  return lines.map((line, i) => decodeAt(format, line, mode, firstLine + i));
}

/** Decodes a batch of DynamoDB JSON lines of a file `scanFile` has verified: parsed once, not checked again. */
export function decodeVerifiedLines(lines: string[], mode: DecodeMode, firstLine: number, plain = false): ExportRecord[] {
  const out: ExportRecord[] = [];
  let i = 0;
  try {
    for (; i < lines.length; i++) out.push(decodeVerifiedLine(lines[i]!, mode, plain));
  } catch (err) {
    throw lineError(err, firstLine + i);
  }
  return out;
}

function decodeAt(format: ExportFormat, line: string, mode: DecodeMode, lineNo: number): ExportRecord {
  try {
    return decodeLine(format, line, mode);
  } catch (err) {
    throw lineError(err, lineNo);
  }
}

/** A decoding failure, numbered with its record. */
function lineError(err: unknown, lineNo: number): LineDecodeError {
  if (err instanceof LineDecodeError) return new LineDecodeError(err.message, lineNo);
  return new LineDecodeError(String((err as Error)?.message ?? err), lineNo);
}

/**
 * Splits decompressed bytes into lines. `\n` never occurs inside a multi-byte UTF-8 sequence, so splitting bytes is
 * safe; each line is checked to be valid UTF-8 (toString would otherwise replace bad bytes with U+FFFD silently).
 * Blank lines are skipped; record numbers count non-blank lines, which is what a cursor's `line` means.
 */
export class LineSplitter {
  private carry: Buffer | undefined;
  private lineNo = 0;
  private readonly onBytes: (buf: Buffer, start: number, end: number, lineNo: number) => void;

  constructor(onLine: (line: string, lineNo: number) => void, onBytes?: (buf: Buffer, start: number, end: number, lineNo: number) => void) {
    this.onBytes = onBytes ?? ((buf, start, end, lineNo) => onLine(buf.toString('utf8', start, end), lineNo));
  }

  /** A splitter that hands each (UTF-8-checked) line over as a byte range instead of a string. */
  static ofBytes(onBytes: (buf: Buffer, start: number, end: number, lineNo: number) => void): LineSplitter {
    return new LineSplitter(() => {}, onBytes);
  }

  push(chunk: Buffer): void {
    let start = 0;
    if (this.carry) {
      // Only the line that spans the two chunks is joined: the rest of the chunk is read where it is.
      const nl = chunk.indexOf(10);
      if (nl === -1) {
        this.carry = Buffer.concat([this.carry, chunk]);
        return;
      }
      const joined = Buffer.concat([this.carry, chunk.subarray(0, nl)]);
      this.carry = undefined;
      this.emit(joined, 0, joined.length);
      start = nl + 1;
    }
    // One UTF-8 check for all the whole lines of the chunk; only when it fails is each line checked, to number the bad one.
    const last = chunk.lastIndexOf(10);
    const utf8 = last > start && isUtf8(chunk.subarray(start, last));
    for (let nl = chunk.indexOf(10, start); nl !== -1; nl = chunk.indexOf(10, start)) {
      this.emit(chunk, start, nl, utf8);
      start = nl + 1;
    }
    if (start < chunk.length) {
      // Copy the tail so the (possibly large) chunk it came from can be freed.
      this.carry = Buffer.from(chunk.subarray(start));
    }
  }

  end(): void {
    if (this.carry) this.emit(this.carry, 0, this.carry.length);
    this.carry = undefined;
  }

  private emit(buf: Buffer, start: number, end: number, utf8Checked = false): void {
    let stop = end;
    if (stop > start && buf[stop - 1] === 13) stop--;
    let first = start;
    while (first < stop && (buf[first] === 32 || buf[first] === 9)) first++;
    if (first === stop) return;
    const lineNo = this.lineNo++;
    if (!utf8Checked && !isUtf8(buf.subarray(first, stop))) throw new LineDecodeError('the line is not valid UTF-8', lineNo);
    this.onBytes(buf, first, stop, lineNo);
  }
}

/**
 * Streams the lines of a (verified) file without decoding them, in batches — for files too large to keep decoded
 * in memory; the batches are decoded by the worker pool. Skips the first `fromLine` records (a resumed cursor).
 */
export async function* streamLineBatches(
  input: { path?: string; bytes?: Uint8Array },
  fromLine: number,
  batchSize: number,
  signal?: AbortSignal,
): AsyncGenerator<{ firstLine: number; lines: string[] }> {
  const source = input.path
    ? createReadStream(input.path, { highWaterMark: 1 << 20 })
    : Readable.from([Buffer.from(input.bytes!.buffer, input.bytes!.byteOffset, input.bytes!.byteLength)]);
  const gunzip = source.pipe(createGunzip());
  source.on('error', (err: Error) => gunzip.destroy(err));
  let batch: string[] = [];
  let firstLine = fromLine;
  const ready: { firstLine: number; lines: string[] }[] = [];
  const splitter = new LineSplitter((line, lineNo) => {
    if (lineNo < fromLine) return;
    if (batch.length === 0) firstLine = lineNo;
    batch.push(line);
    if (batch.length >= batchSize) {
      ready.push({ firstLine, lines: batch });
      batch = [];
    }
  });
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      if (signal?.aborted) return;
      splitter.push(chunk);
      while (ready.length > 0) yield ready.shift()!;
    }
    splitter.end();
    while (ready.length > 0) yield ready.shift()!;
    if (batch.length > 0) yield { firstLine, lines: batch };
  } finally {
    gunzip.destroy();
    source.destroy();
  }
}
