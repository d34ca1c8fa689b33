import type { Clock } from './rate-limiter.js';
import { sleep } from './backoff.js';

export const systemClock: Clock = { now: () => Date.now(), sleep };
