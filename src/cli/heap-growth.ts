import v8 from 'node:v8';

/**
 * How far V8 may grow the heap past what survived the last full GC, in percent.
 *
 * V8 sizes the heap by how cheap collection looks, not by what the program keeps: in a backfill, whose pages in flight
 * stay under ~60 MB live, it let the heap reach 190 MB between full collections and the process 350 MB of RSS. The
 * default grows it by up to 4× the live size. Measured on a 50k-item backfill: 50% held RSS at ~215 MB for 10–15% more
 * CPU in this process; 20% held ~195 MB but cost 35% more CPU (BENCHMARKS.md).
 */
export const HEAP_GROWING_PERCENT = 50;

/** Flags with which the user already chose the heap's size or growth; theirs win. */
const USER_HEAP_FLAGS = /--(max-old-space-size|max-heap-size|heap-growing-percent|max_old_space_size|heap_growing_percent)\b/;

/**
 * Applies HEAP_GROWING_PERCENT unless the user set heap flags (on the command line or in NODE_OPTIONS). V8 reads this
 * flag each time it sets the next collection's limit, so setting it after start-up takes effect; on a node whose V8
 * ignores it, nothing changes but memory use.
 */
export function limitHeapGrowth(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env['NODE_OPTIONS'] ?? ''): boolean {
  if (USER_HEAP_FLAGS.test(execArgv.join(' ')) || USER_HEAP_FLAGS.test(nodeOptions)) return false;
  v8.setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  return true;
}
