import { parentPort } from 'node:worker_threads';
import { LineDecodeError } from './export-errors.js';
import { ionLinesToJson, scanFile } from './file-decoder.js';
import type { WorkerReply, WorkerRequest } from './decode-pool.js';

/**
 * Entry point of a decode worker thread: gunzip, checksum and line decoding run here so several cores decode export
 * files in parallel while the main thread writes. One task at a time (the pool never sends a second before the reply).
 */
const port = parentPort;
if (!port) throw new Error('decode-worker.ts must run as a worker thread');

port.on('message', (msg: WorkerRequest) => {
  void run(msg).then((reply) => {
    // The text moves to the main thread without a copy.
    const bytes = reply.ok ? (reply.result instanceof Uint8Array ? reply.result : reply.result.text) : undefined;
    port.postMessage(reply, bytes ? [bytes.buffer as ArrayBuffer] : []);
  });
});

async function run(msg: WorkerRequest): Promise<WorkerReply> {
  try {
    if (msg.task.kind === 'scan') return { id: msg.id, ok: true, result: await scanFile(msg.task.input) };
    const { mode, lines, firstLine } = msg.task;
    return { id: msg.id, ok: true, result: ionLinesToJson(lines, mode, firstLine) };
  } catch (err) {
    return {
      id: msg.id,
      ok: false,
      error: {
        message: (err as Error)?.message ?? String(err),
        decode: err instanceof LineDecodeError,
        ...(err instanceof LineDecodeError && err.line !== undefined ? { line: err.line } : {}),
      },
    };
  }
}
