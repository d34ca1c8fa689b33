import { Worker } from 'node:worker_threads';
import type { WorkerInit } from './protocol.js';

/**
 * Starts a backfill worker thread the way this module itself was loaded. From the installed package (dist/, built
 * JavaScript) the entry is the compiled backfill-worker.js next to this file. From source under tsx (`node --import
 * tsx`: the tests, `npm run bench -- --cli tsx`), Node 20 loads a worker's entry before the inherited `--import` hooks
 * apply to it, so a .ts entry fails with ERR_UNKNOWN_FILE_EXTENSION: a one-line bootstrap registers tsx in the thread
 * first, then imports the .ts entry.
 */
export function startWorker(init: WorkerInit): Worker {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new Worker(new URL('./backfill-worker.js', here), { workerData: init });
  const entry = new URL('./backfill-worker.ts', here).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(bootstrap, { eval: true, workerData: init });
}
