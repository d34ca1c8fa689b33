import { setMaxListeners } from 'node:events';

/**
 * An AbortController whose signal a whole run (or a fan-out of tasks) listens to. Every in-flight request, backoff
 * sleep and queued write adds an abort listener while it waits, so write.concurrency 16 or a page's write batches
 * put dozens on one signal at once — by design, and each removed when it settles. Node's leak warning at 10 listeners
 * ("MaxListenersExceededWarning: Possible EventTarget memory leak") would be a false alarm on every such run.
 */
export function runController(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}

/** AbortSignal.any for run-wide signals, without the listener cap (see runController). */
export function anySignal(signals: AbortSignal[]): AbortSignal {
  const signal = AbortSignal.any(signals);
  setMaxListeners(0, signal);
  return signal;
}
