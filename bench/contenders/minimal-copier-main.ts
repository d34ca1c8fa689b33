/**
 * The minimal copier (minimal-copier.ts) as its own process, for the client-ceiling section: its CPU is then measured
 * apart from the benchmark's. `--transform FILE` maps each item as a hand-written copier with a transform would: the
 * SDK's unmarshall (numbers wrapped, never floats), the function, marshall. Prints one JSON line: items copied, the copy's
 * wall seconds (and its start and end, epoch ms), the process's CPU seconds (user + system) during the copy and in all.
 */
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import { marshall, unmarshall, type NativeAttributeValue } from '@aws-sdk/util-dynamodb';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { benchClient } from '../lib/local.js';
import { minimalCopy } from './minimal-copier.js';

type Native = Record<string, NativeAttributeValue>;

const { values } = parseArgs({
  options: {
    endpoint: { type: 'string' },
    source: { type: 'string' },
    target: { type: 'string' },
    segments: { type: 'string' },
    'write-concurrency': { type: 'string' },
    'page-size': { type: 'string' },
    transform: { type: 'string' },
  },
  strict: true,
});

let map: ((item: Record<string, AttributeValue>) => Record<string, AttributeValue>) | undefined;
if (values.transform) {
  const mod = (await import(pathToFileURL(path.resolve(values.transform)).href)) as { default: (item: Native) => Native };
  const fn = mod.default;
  map = (item) => marshall(fn(unmarshall(item, { wrapNumbers: true })), { removeUndefinedValues: true }) as Record<string, AttributeValue>;
}
const client = benchClient(values.endpoint!);
const cpu0 = process.cpuUsage();
const startedAt = Date.now();
const t0 = performance.now();
const items = await minimalCopy(client, values.source ?? 'source', values.target!, {
  segments: Number(values.segments ?? 8),
  writeConcurrency: Number(values['write-concurrency'] ?? 16),
  pageSize: Number(values['page-size'] ?? 1000),
  ...(map ? { map } : {}),
});
const seconds = (performance.now() - t0) / 1000;
const endedAt = Date.now();
const cpu = process.cpuUsage(cpu0);
const whole = process.cpuUsage();
client.destroy();
process.stdout.write(
  `${JSON.stringify({ items, seconds, startedAt, endedAt, cpuSeconds: (cpu.user + cpu.system) / 1e6, processCpuSeconds: (whole.user + whole.system) / 1e6 })}\n`,
);
