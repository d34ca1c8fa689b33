/**
 * The null DynamoDB as its own process (so the client's CPU is measured alone): `node --import tsx
 * bench/null-dynamodb/main.ts --items N --seed S [--prebuild TOTAL_SEGMENTS:LIMIT,…]`. Prints one JSON line
 * `{"endpoint": …}` on stdout once it listens; stops on SIGTERM.
 */
import { parseArgs } from 'node:util';
import { ScanPages } from './pages.js';
import { NullDynamoDb } from './server.js';

const { values } = parseArgs({
  options: { items: { type: 'string' }, seed: { type: 'string' }, prebuild: { type: 'string' }, port: { type: 'string' } },
  strict: true,
});
const pages = new ScanPages(Number(values.items ?? 100_000), Number(values.seed ?? 42));
for (const pair of (values.prebuild ?? '').split(',').filter(Boolean)) {
  const [total, limit] = pair.split(':').map(Number);
  pages.prebuild(total!, limit!);
}
const server = new NullDynamoDb(pages);
const endpoint = await server.listen(Number(values.port ?? 0));
process.stdout.write(`${JSON.stringify({ endpoint, pid: process.pid })}\n`);
process.on('SIGTERM', () => {
  void server.close().then(() => process.exit(0));
});
