import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { LineDecodeError } from './export-errors.js';
import { ionLinesToJson, scanFile, type ScanInput, type ScanResult } from './file-decoder.js';
import type { DecodeMode } from './export-record.js';

export type DecodeTask = { kind: 'scan'; input: ScanInput } | { kind: 'ionToJson'; mode: DecodeMode; lines: string[]; firstLine: number };

export interface WorkerRequest {
  id: number;
  task: DecodeTask;
}

export type WorkerReply =
  | { id: number; ok: true; result: ScanResult | Uint8Array }
  | { id: number; ok: false; error: { message: string; decode: boolean; line?: number } };

interface Job {
  task: DecodeTask;
  resolve: (value: ScanResult | Uint8Array) => void;
  reject: (err: unknown) => void;
}

interface Slot {
  worker: Worker;
  job?: Job;
}

/** Worker threads to use by default: every core but the main thread's, at least one, at most eight. */
export function defaultDecodeWorkers(): number {
  return Math.max(1, Math.min(8, availableParallelism() - 1));
}

/**
 * A small pool of decode worker threads. Tasks queue until a worker is free; workers start lazily and are unref'd
 * while idle, so an idle pool never keeps the process alive. With `size: 0` everything runs in-thread (tests,
 * benchmarks' single-core baseline).
 */
export class DecodePool {
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private nextId = 1;
  private closed = false;

  constructor(readonly size: number = defaultDecodeWorkers()) {}

  scan(input: ScanInput): Promise<ScanResult> {
    return this.submit({ kind: 'scan', input }) as Promise<ScanResult>;
  }

  /** Decodes ION lines and returns them as verified DynamoDB JSON text (cheap for the main thread to parse). */
  ionToJson(mode: DecodeMode, lines: string[], firstLine: number): Promise<Uint8Array> {
    return this.submit({ kind: 'ionToJson', mode, lines, firstLine }) as Promise<Uint8Array>;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.reject(new Error('decode pool closed'));
    await Promise.all(this.slots.splice(0).map((s) => s.worker.terminate()));
  }

  private submit(task: DecodeTask): Promise<ScanResult | Uint8Array> {
    if (this.closed) return Promise.reject(new Error('decode pool closed'));
    if (this.size <= 0) return runInThread(task);
    return new Promise((resolve, reject) => {
      this.queue.push({ task, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let slot = this.slots.find((s) => !s.job);
      if (!slot && this.slots.length < this.size) slot = this.spawn();
      if (!slot) return;
      const job = this.queue.shift()!;
      slot.job = job;
      slot.worker.ref();
      slot.worker.postMessage({ id: this.nextId++, task: job.task } satisfies WorkerRequest);
    }
  }

  private spawn(): Slot {
    const worker = startWorker();
    const slot: Slot = { worker };
    worker.on('message', (reply: WorkerReply) => {
      const job = slot.job;
      slot.job = undefined;
      worker.unref();
      if (job) {
        if (reply.ok) job.resolve(reply.result);
        else job.reject(reply.error.decode ? new LineDecodeError(reply.error.message, reply.error.line) : new Error(reply.error.message));
      }
      this.dispatch();
    });
    const fail = (err: Error): void => {
      // A crashed worker (out of memory, a bug): fail its task, replace it, keep serving the queue.
      const job = slot.job;
      slot.job = undefined;
      const i = this.slots.indexOf(slot);
      if (i >= 0) this.slots.splice(i, 1);
      job?.reject(err);
      if (!this.closed) this.dispatch();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => {
      if (this.slots.includes(slot)) fail(new Error(`decode worker exited with code ${code}`));
    });
    worker.unref();
    this.slots.push(slot);
    return slot;
  }
}

async function runInThread(task: DecodeTask): Promise<ScanResult | Uint8Array> {
  if (task.kind === 'scan') return scanFile(task.input);
  return ionLinesToJson(task.lines, task.mode, task.firstLine);
}

/**
 * From built JavaScript the worker is decode-worker.js next to this file. From TypeScript sources (tests run through
 * tsx) a worker doesn't inherit tsx's loader, so a tiny bootstrap registers it before importing the .ts entry.
 */
function startWorker(): Worker {
  if (import.meta.url.endsWith('.ts')) {
    const entry = new URL('./decode-worker.ts', import.meta.url).href;
    return new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`, { eval: true });
  }
  return new Worker(new URL('./decode-worker.js', import.meta.url));
}

let shared: DecodePool | undefined;

/** One pool per process, shared by every export source (their partitions run concurrently). */
export function sharedDecodePool(): DecodePool {
  shared ??= new DecodePool();
  return shared;
}
