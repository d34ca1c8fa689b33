import { hostname } from 'node:os';
import { loadConfig } from '../../config/load-config.js';
import { strategyFor, type BackfillStrategyName } from '../../engine/strategies/registry.js';
import { FileStateStore } from '../../state/file-state-store.js';
import type { MigrationState } from '../../state/migration-state.js';
import { fmtLag } from '../progress.js';
import { openRunnerStore } from './runner-state.js';
import { runnerStatusReport } from './runner-status.js';

/** Reads the state folder only, so it works while a run is going on in another process. */
export async function statusCommand(flags: { config: string; json?: boolean }): Promise<number> {
  const config = await loadConfig(flags.config);
  let report: StatusReport;
  if (config.state) {
    // The AWS runner's migration: its state table, not the state folder.
    report = await runnerStatusReport(openRunnerStore(config), config);
  } else {
    const store = new FileStateStore(config.stateDir);
    report = statusReport(await store.load(), store);
  }
  if (flags.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else process.stdout.write(formatStatus(report, config.name));
  return 0;
}

export interface StatusReport {
  migration?: string;
  phase: string;
  running: boolean;
  runner?: { pid: number; host: string; heartbeatAgeSeconds: number; halt?: { code: string; message: string } };
  backfill: {
    source: string;
    table: string;
    strategy: string;
    segmentsDone: number;
    segments: number;
    items: number;
    complete: boolean;
    overtaken?: number;
  }[];
  stream: {
    source: string;
    shards: { shardId: string; parentShardId?: string; finished: boolean; checkpoint?: string; applied: number; lagMs?: number; state?: string }[];
  }[];
  lagMs?: number;
  caughtUp: boolean;
  deadLetters: number;
  deadLetterFile: string;
  safeToCutOver: boolean;
  reason: string;
  /** Which way changes flow now, and a pending switch. */
  direction?: 'forward' | 'reverse' | 'none';
  draining?: { from: string; to: string; since: string };
  cutover?: { readsAt?: string; writesAt?: string; finishedAt?: string };
  next: string;
  updatedAt?: string;
  /** A migration the AWS runner runs (config `state.table`): per source, its spool and stream handler evidence. */
  aws?: {
    stateTable: string;
    sources: {
      source: string;
      spool?: { mode: string; keys: number; transactions: number };
      recordsApplied: number;
      recordsSpooled: number;
      failedBatches: number;
      lagMs?: number;
      lastBatchAt?: string;
      lastSequenceNumber?: string;
      lastAppliedAt?: string;
      lastFailedAt?: string;
    }[];
  };
}

export function statusReport(state: MigrationState | undefined, store: FileStateStore): StatusReport {
  if (!state) {
    return {
      next: 'dynashift plan, then dynashift run',
      phase: 'not-started',
      running: false,
      backfill: [],
      stream: [],
      caughtUp: false,
      deadLetters: 0,
      deadLetterFile: store.deadLetterLocation(),
      safeToCutOver: false,
      reason: 'the migration has not started: run `dynashift run -c FILE`',
    };
  }
  const holder = store.holder();
  const live = state.progress;
  // From the dead-letter file, not state.json's copy: a retry or discard since the last run counts at once.
  const deadLetters = store.unresolvedDeadLetters();
  const heartbeatAge = state.runner ? (Date.now() - Date.parse(state.runner.heartbeatAt)) / 1000 : Infinity;
  const running = holder !== undefined;
  const shardLive = new Map((live?.stream.shards ?? []).map((s) => [`${s.source}/${s.shardId}`, s]));
  const backfill = Object.entries(state.sources).map(([source, s]) => ({
    source,
    table: s.table,
    strategy: s.backfill.strategy,
    segmentsDone: Object.values(s.backfill.partitions).filter((p) => p.done).length,
    segments: Object.keys(s.backfill.partitions).length,
    items: s.backfill.itemsWritten,
    complete: s.backfill.completedAt !== undefined,
    ...(s.backfill.overtaken ? { overtaken: s.backfill.overtaken } : {}),
  }));
  const stream = Object.entries(state.sources).map(([source, s]) => ({
    source,
    shards: Object.entries(s.stream.shards).map(([shardId, sh]) => {
      const l = shardLive.get(`${source}/${shardId}`);
      return {
        shardId,
        ...(sh.parentShardId ? { parentShardId: sh.parentShardId } : {}),
        finished: sh.finished,
        applied: sh.applied,
        ...(sh.checkpoint ? { checkpoint: sh.checkpoint } : {}),
        ...(l?.lagMs !== undefined ? { lagMs: l.lagMs } : {}),
        ...(l ? { state: l.state } : {}),
      };
    }),
  }));
  const caughtUp = running && live?.stream.caughtUp === true;
  const halted = state.runner?.halt;
  const reason = halted
    ? `the last run halted: [${halted.code}] ${halted.message}`
    : !backfill.every((b) => b.complete)
      ? 'the backfill is not complete'
      : !running
        ? 'no run is applying the stream now: start `dynashift run -c FILE` and wait until it is in sync'
        : !caughtUp
          ? 'the stream catch-up has not reached the newest record yet'
          : deadLetters > 0
            ? `${deadLetters} unresolved item(s) in the dead-letter file: see \`dynashift dead-letters list\``
            : 'backfill complete and the stream applied up to its newest record';
  const cut = state.cutover;
  const next = nextStep(state.phase, running, caughtUp && deadLetters === 0 && !halted, cut?.draining !== undefined, cut?.direction);
  return {
    next,
    ...(cut
      ? {
          direction: cut.direction,
          cutover: {
            ...(cut.readsAt ? { readsAt: cut.readsAt } : {}),
            ...(cut.writesAt ? { writesAt: cut.writesAt } : {}),
            ...(cut.finishedAt ? { finishedAt: cut.finishedAt } : {}),
          },
        }
      : {}),
    ...(cut?.draining ? { draining: { from: cut.draining.from, to: cut.draining.to, since: cut.draining.since } } : {}),
    migration: state.migration,
    phase: state.phase,
    running,
    ...(state.runner
      ? {
          runner: {
            pid: state.runner.pid,
            host: state.runner.host,
            heartbeatAgeSeconds: Math.round(heartbeatAge),
            ...(halted ? { halt: halted } : {}),
          },
        }
      : {}),
    backfill,
    stream,
    ...(live ? { lagMs: live.stream.lagMs } : {}),
    caughtUp,
    deadLetters,
    deadLetterFile: store.deadLetterLocation(),
    safeToCutOver: caughtUp && deadLetters === 0 && !halted,
    reason,
    updatedAt: state.updatedAt,
  };
}

function nextStep(phase: string, running: boolean, safe: boolean, draining: boolean, direction?: string): string {
  switch (phase) {
    case 'new':
    case 'backfilling':
    case 'catching-up':
      return running ? 'wait until the phase is in-sync' : 'run `dynashift run -c FILE`';
    case 'in-sync':
      return safe
        ? 'move reads: `dynashift cutover reads`'
        : running
          ? 'resolve the reason above'
          : 'start `dynashift run` (the target must keep following the source)';
    case 'reads-cutover':
      return draining
        ? 'wait: reverse replication is draining before forward replication resumes'
        : 'move writes: `dynashift cutover writes` (or `dynashift rollback` to move reads back)';
    case 'writes-cutover':
      return draining
        ? 'wait: source writes are draining before replication switches direction'
        : direction === 'reverse'
          ? 'the source follows the target; `dynashift finish` to end, or `dynashift rollback`'
          : '`dynashift finish` to end';
    case 'finished':
      return '`dynashift finish --delete-source` once nothing uses the old table';
    case 'exported':
      return 'load the export with ImportTable, then catch up with a migration to the imported table (backfill.strategy "export", export.uri, export.imported: true)';
    default:
      return '';
  }
}

export function formatStatus(r: StatusReport, name: string): string {
  const out = [
    `Migration ${r.migration ?? name}: phase ${r.phase}${r.aws ? ` (AWS runner, ${r.aws.stateTable})` : r.running ? ` (running, pid ${r.runner?.pid})` : ' (no run in progress)'}`,
  ];
  if (r.direction)
    out.push(`  replication: ${r.direction}${r.draining ? ` (draining ${r.draining.from} → ${r.draining.to} since ${r.draining.since})` : ''}`);
  if (r.cutover?.readsAt) out.push(`  reads moved at ${r.cutover.readsAt}`);
  if (r.cutover?.writesAt) out.push(`  writes moved at ${r.cutover.writesAt}`);
  for (const b of r.backfill) {
    out.push(
      `  backfill ${b.source} (${b.table}): ${!strategyFor(b.strategy as BackfillStrategyName).copiesSnapshot ? b.strategy : `${b.segmentsDone}/${b.segments} segments, ${b.items.toLocaleString('en-US')} items${b.overtaken ? `, ${b.overtaken.toLocaleString('en-US')} left to the stream (changed since read)` : ''}${b.complete ? ', complete' : ''}`}`,
    );
  }
  for (const s of r.stream) {
    for (const sh of s.shards) {
      out.push(
        `  stream ${s.source} ${sh.shardId}${sh.parentShardId ? ` (child of ${sh.parentShardId})` : ''}: ${sh.finished ? 'finished' : (sh.state ?? 'pending')}, ${sh.applied} records applied${sh.lagMs !== undefined ? `, lag ${fmtLag(sh.lagMs)}` : ''}`,
      );
    }
  }
  for (const a of r.aws?.sources ?? []) {
    if (a.spool) out.push(`  spool ${a.source}: ${a.spool.mode}, ${a.spool.keys.toLocaleString('en-US')} key(s) to replay`);
    out.push(
      `  stream ${a.source} (stream handler): ${a.recordsApplied.toLocaleString('en-US')} records applied, ${a.recordsSpooled.toLocaleString('en-US')} spooled${a.lagMs !== undefined ? `, lag ${fmtLag(a.lagMs)} at the last batch` : ''}${a.lastBatchAt ? ` (${a.lastBatchAt}${a.lastSequenceNumber ? `, sequence ${a.lastSequenceNumber}` : ''})` : ', no batch yet'}${a.failedBatches ? `, ${a.failedBatches} batch(es) returned for redelivery${a.lastFailedAt ? `, last at ${a.lastFailedAt}` : ''}` : ''}`,
    );
  }
  if (r.lagMs !== undefined) out.push(`  lag: ${fmtLag(r.lagMs)}`);
  out.push(`  dead letters: ${r.deadLetters} unresolved${r.deadLetters ? ` (${r.deadLetterFile}; \`dynashift dead-letters list\`)` : ''}`);
  out.push(`  safe to cut over: ${r.safeToCutOver ? 'yes' : 'no'} — ${r.reason}`);
  if (r.next) out.push(`  next: ${r.next}`);
  return `${out.join('\n')}\n`;
}
