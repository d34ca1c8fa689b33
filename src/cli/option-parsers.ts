import { InvalidArgumentError } from 'commander';

/** Option parser: a whole number of at least `min` (commander reports anything else, exit 2). */
export function wholeNumber(value: string, min: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected a whole number, at least ${min}`);
  return n;
}

/** Option parser: a TCP port, 0 (any free port) to 65535. */
export function portNumber(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) throw new InvalidArgumentError('a port number from 0 to 65535');
  return n;
}
