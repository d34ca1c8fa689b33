/**
 * The sink conformance suite (sink-conformance.ts) run against the files driver: a DynamoDB-JSON export in a local
 * folder. What this sink states: it is write-once — it takes the backfill's puts only, so deletes and stream changes
 * are refused (CONFIG_INVALID) instead of applied, the guard tests don't apply, and the crash scenario kills its runs
 * during the backfill with no live workload; it rejects items over 400 KB, as ImportTable would.
 *
 * Every target is read back independently of the sink: finalized, then its manifest and gzip data files are parsed
 * here, with nothing from src/ but types.
 *
 * Run: node --import tsx --test test/conformance/files.conformance.test.ts   (SEEDS=N for more crash seeds)
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { TargetConfig } from '../../src/config/schema.js';
import type { AttributeMap, KeySchema } from '../../src/core/item.js';
import { filesDriver } from '../../src/sinks/files/files-driver.js';
import type { FilesSink } from '../../src/sinks/files/files-sink.js';
import { sinkConformance, type ScenarioContext } from './sink-conformance.js';

let dir = '';
let tables = 0;
const opened: FilesSink[] = [];

/** A files target as a user writes it; small data files so that several are written and sealed. */
function filesTarget(table: string, uri: string, keySchema: KeySchema): TargetConfig {
  return { table, kind: 'files', keySchema, files: { uri, maxFileBytes: 64 * 1024 } } as unknown as TargetConfig;
}

/** DynamoDB JSON as an export holds it (binary as base64) → AttributeValue, written here from the format's spec. */
function fromExportJson(v: Record<string, unknown>): AttributeValue {
  const [type, value] = Object.entries(v)[0]!;
  switch (type) {
    case 'B':
      return { B: Buffer.from(value as string, 'base64') };
    case 'BS':
      return { BS: (value as string[]).map((b) => Buffer.from(b, 'base64')) };
    case 'L':
      return { L: (value as Record<string, unknown>[]).map(fromExportJson) };
    case 'M':
      return { M: fromExportItem(value as Record<string, Record<string, unknown>>) };
    default:
      return { [type]: value } as unknown as AttributeValue;
  }
}

function fromExportItem(item: Record<string, Record<string, unknown>>): AttributeMap {
  return Object.fromEntries(Object.entries(item).map(([k, v]) => [k, fromExportJson(v)]));
}

/** Every item of a finished export at `<uri>/AWSDynamoDB/<exportId>/`, through manifest-files.json. */
async function readExport(uri: string, exportId: string): Promise<AttributeMap[]> {
  const root = join(uri, 'AWSDynamoDB', exportId);
  const summary = JSON.parse(await readFile(join(root, 'manifest-summary.json'), 'utf8')) as { itemCount: number };
  const entries = (await readFile(join(root, 'manifest-files.json'), 'utf8'))
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as { itemCount: number; dataFileS3Key: string });
  const items: AttributeMap[] = [];
  for (const entry of entries) {
    // A local export folder is the "bucket": data file keys are relative to it.
    const lines = gunzipSync(await readFile(join(uri, entry.dataFileS3Key)))
      .toString('utf8')
      .split('\n')
      .filter((l) => l !== '');
    assert.equal(lines.length, entry.itemCount, `${entry.dataFileS3Key} holds the item count its manifest line says`);
    items.push(...lines.map((l) => fromExportItem((JSON.parse(l) as { Item: Record<string, Record<string, unknown>> }).Item)));
  }
  assert.equal(items.length, summary.itemCount, 'the summary counts every item of the data files');
  return items;
}

const crashRoot = (ctx: ScenarioContext) => join(dir, `crash-${ctx.seed}`);

sinkConformance({
  kind: 'files',
  async start() {
    dir = await mkdtemp(join(tmpdir(), 'dynashift-files-conformance-'));
  },
  async stop() {
    for (const s of opened) await s.close();
    await rm(dir, { recursive: true, force: true });
  },
  async openTarget(keySchema) {
    const table = `t${++tables}`;
    const uri = join(dir, 'contract', table);
    const target = filesTarget(table, uri, keySchema);
    const inspection = await filesDriver.inspect('t', target, {});
    if (inspection.refusals.length > 0) throw new Error(JSON.stringify(inspection.refusals));
    await filesDriver.prepare('t', target, inspection);
    const sink = filesDriver.open('t', target, { keySchema, concurrency: 4 }) as FilesSink;
    opened.push(sink);
    return {
      sink,
      readAll: async () => {
        await sink.finalize();
        return readExport(uri, table);
      },
      close: async () => {},
    };
  },
  // DynamoDB, and so ImportTable, refuse items over 400 KB (dynamodb-semantics §6).
  rejectableItem: (key) => ({ ...key, payload: { S: 'x'.repeat(410 * 1024) } }),
  guardsBySequence: 'write-once: a files target receives no stream changes, so there is nothing to order by sequence number',
  writeOnce: "a files target is write-once: it takes the backfill's puts, never deletes or stream changes",
  knownIssues: {
    // Found by this suite: a page the files sink has staged (acknowledged) is written again when the run is killed
    // before the 1-second ticker saves the cursor past it, so the resumed run appends its items a second time.
    'crash-resume': 'a SIGKILL between a staged page and the next state save makes the export hold those items twice',
  },
  cliTarget: (ctx, table, keySchema) => ({ table, kind: 'files', keySchema, files: { uri: crashRoot(ctx), maxFileBytes: 64 * 1024 } }),
  readTarget: (ctx, table) => readExport(crashRoot(ctx), table),
});
