import { z } from 'zod';
import { DynashiftError } from '../errors.js';
import type { MigrationState } from './migration-state.js';

/**
 * What a state document must hold to be resumed from: checked on every load, so a hand-edited or truncated state is
 * refused with STATE_CORRUPT instead of being half-understood. Objects are loose: fields added by later versions (or
 * written by earlier ones and no longer read) pass through untouched, so every state an earlier version wrote loads.
 */
const phase = z.enum(['new', 'backfilling', 'catching-up', 'in-sync', 'reads-cutover', 'writes-cutover', 'finished', 'exported']);

const shardSchema = z
  .object({
    parentShardId: z.string().optional(),
    checkpoint: z.string().regex(/^\d+$/, 'a sequence number (digits)').optional(),
    finished: z.boolean(),
    lastRecordAt: z.number().optional(),
    createdAfter: z.number().optional(),
    applied: z.number(),
  })
  .loose();

const streamSchema = z
  .object({
    streamArn: z.string(),
    viewType: z.string(),
    openedAt: z.string(),
    skipBefore: z.number().optional(),
    shards: z.record(z.string(), shardSchema),
  })
  .loose();

const partitionSchema = z
  .object({
    done: z.boolean(),
    cursor: z.unknown().optional(),
    items: z.number(),
  })
  .loose();

const backfillSchema = z
  .object({
    strategy: z.enum(['scan', 'none', 'export', 'touch']),
    startedAt: z.string().optional(),
    completedAt: z.string().optional(),
    partitions: z.record(z.string(), partitionSchema),
    itemsWritten: z.number(),
    bytesRead: z.number(),
  })
  .loose();

const direction = z.enum(['forward', 'reverse', 'none']);

export const migrationStateSchema = z
  .object({
    version: z.literal(1),
    migration: z.string(),
    configFingerprint: z.string(),
    createdAt: z.string(),
    updatedAt: z.string(),
    phase,
    sources: z.record(z.string(), z.object({ table: z.string(), backfill: backfillSchema, stream: streamSchema }).loose()),
    deadLetters: z.number().optional(),
    cutover: z
      .object({
        direction,
        draining: z.object({ from: direction, to: direction, since: z.string(), quietMs: z.number() }).loose().optional(),
        reverse: z.record(z.string(), streamSchema).optional(),
        history: z.array(z.object({ at: z.string(), event: z.string() }).loose()),
      })
      .loose()
      .optional(),
  })
  .loose();

const REQUIRED = ['version', 'migration', 'configFingerprint', 'createdAt', 'updatedAt', 'phase', 'sources'] as const;

/**
 * Parses a state document, or refuses it with STATE_CORRUPT naming the side (state), where it is and what is wrong.
 * `where` names the document: the path of state.json, or the DynamoDB store's state item.
 */
export function parseState(text: string, where: string, fix: string): MigrationState {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw corrupt(`state: ${where} is not valid JSON (${(err as Error).message})`, fix, where, err);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw corrupt(
      `state: ${where} is not a dynashift migration state — it holds ${Array.isArray(json) ? 'an array' : typeof json}, not an object`,
      fix,
      where,
    );
  }
  const missing = REQUIRED.filter((k) => !(k in json));
  if (missing.length > 0) {
    throw corrupt(`state: ${where} is not a dynashift migration state — missing ${missing.join(', ')}`, fix, where);
  }
  const parsed = migrationStateSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.slice(0, 5).map((i) => `${i.path.length > 0 ? i.path.join('.') : '(top level)'}: ${i.message}`);
    throw corrupt(
      `state: ${where} is not a dynashift migration state — ${problems.join('; ')}${parsed.error.issues.length > 5 ? '; …' : ''}`,
      fix,
      where,
    );
  }
  const state = parsed.data as unknown as MigrationState;
  state.deadLetters ??= 0;
  return state;
}

function corrupt(message: string, fix: string, where: string, cause?: unknown): DynashiftError {
  return new DynashiftError('STATE_CORRUPT', message, { hint: fix, details: { side: 'state', location: where }, ...(cause ? { cause } : {}) });
}
