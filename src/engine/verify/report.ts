import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { JsonlWriter, readJsonl } from './jsonl.js';
import { findingOf } from './findings.js';
import type { Suspect } from './suspect.js';
import type { DifferenceKind, TransformErrorFinding, VerifyResult } from './types.js';

/**
 * Writes the JSON report: the result's summary, then per category up to `limit` entries with the values verify last
 * read (expected = transform(source), actual = target) in DynamoDB JSON. Entries are streamed from the findings
 * spill file, so a large report never sits in memory.
 */
export async function writeReport(
  path: string,
  result: VerifyResult,
  findingsPath: string | undefined,
  extra: { migration: string; configPath: string },
): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const { missing: _m, extra: _e, differing: _d, transformErrors, ...summary } = result;
  const head = JSON.stringify({ tool: 'dynashift verify', migration: extra.migration, config: extra.configPath, ...summary }, null, 2);
  const out = new RawWriter(path);
  await out.write(`${head.slice(0, head.lastIndexOf('}')).trimEnd()},\n`);
  for (const kind of ['missing', 'extra', 'differing'] as DifferenceKind[]) {
    await out.write(`  ${JSON.stringify(kind)}: [`);
    let n = 0;
    if (findingsPath) {
      for await (const s of readJsonl<Suspect>(findingsPath)) {
        if (s.c !== kind) continue;
        if (n >= result.limit) break;
        await out.write(`${n++ ? ',' : ''}\n    ${JSON.stringify(entryOf(s))}`);
      }
    }
    await out.write(`${n ? '\n  ' : ''}],\n`);
  }
  await out.write(`  "transformErrors": ${entries(transformErrors)}\n}\n`);
  await out.close();
}

function entryOf(s: Suspect): Record<string, unknown> {
  return {
    ...findingOf(s),
    ...(s.d ? { attributes: s.d } : {}),
    ...(s.e ? { expected: s.e } : {}),
    ...(s.a ? { actual: s.a } : {}),
  };
}

function entries(list: TransformErrorFinding[]): string {
  return list.length ? `[\n${list.map((e) => `    ${JSON.stringify(e)}`).join(',\n')}\n  ]` : '[]';
}

/** JsonlWriter without the JSON: text pieces, written through one buffered stream. */
class RawWriter {
  private readonly inner: JsonlWriter<never>;
  constructor(path: string) {
    this.inner = new JsonlWriter(path, { truncate: true });
  }
  write(text: string): Promise<void> {
    return this.inner.writeRaw(text);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
