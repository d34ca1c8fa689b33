/**
 * A second reporter for `npm test`, beside TAP on stdout: once the run ends it writes every failed test (not the
 * TODO ones) with its file and the first lines of its error to stderr, so the end of a long CI log says what failed
 * and why without scrolling through 800 tests of TAP. Written synchronously at exit: `--test-force-exit` ends the
 * process before a reporter's last output would be flushed.
 */
import { writeSync } from 'node:fs';

const MAX_CHARS = 4000;

export default async function* failureSummary(source) {
  const failures = [];
  let printed = false;
  const print = () => {
    if (printed || failures.length === 0) return;
    printed = true;
    writeSync(2, `\nfailed tests (${failures.length}), with their errors:\n${failures.join('\n\n')}\n`);
  };
  process.once('exit', print);
  for await (const event of source) {
    if (event.type !== 'test:fail') continue;
    const data = event.data;
    if (data.todo !== undefined && data.todo !== false) continue;
    if (data.details?.type === 'suite') continue; // its failing tests are listed themselves
    const error = data.details?.error;
    const cause = error?.cause ?? error;
    const message = String(cause?.message ?? cause ?? 'unknown error');
    failures.push(`✖ ${data.name}\n  file: ${data.file ?? '?'}\n  ${message.slice(0, MAX_CHARS).replaceAll('\n', '\n  ')}`);
  }
  print();
}
