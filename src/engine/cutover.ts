import { classifyAwsError } from '../aws/errors.js';
import { DynashiftError, type ErrorCode } from '../errors.js';
import type { ControlRequest } from '../state/control-channel.js';
import type { CutoverState, MigrationState, StreamState } from '../state/migration-state.js';
import { enterPhase } from './phase-machine.js';

/** How long a draining direction must see no new change before the switch. */
export const DEFAULT_QUIET_MS = 10_000;

export interface ControlContext {
  state: MigrationState;
  cut: CutoverState;
  caughtUp: boolean;
  direction: 'forward' | 'reverse' | 'none';
  /** Source items with an unresolved dead letter. */
  deadLetters: number;
  lagMs: number;
  /** Checks that rollback can work and opens the reverse stream positions (now, before writes reach the target). */
  openReverse(): Promise<Record<string, StreamState>>;
}

/**
 * The cutover state machine, applied by the runner to a live command:
 *
 *   in-sync ──cutover reads──▶ reads-cutover ──cutover writes──▶ writes-cutover ──finish──▶ finished
 *      ▲                          │    ▲                              │
 *      └────────rollback──────────┘    └───────────rollback───────────┘
 *
 * Moving writes drains forward replication (until the source is quiet) before reverse replication starts; rolling
 * writes back drains reverse before forward resumes. Returns what to tell the operator; never throws for a refusal.
 */
export async function applyControl(request: ControlRequest, ctx: ControlContext): Promise<ControlOutcome> {
  const { state, cut } = ctx;
  const force = request.options.force === true;
  const quietMs = request.options.quietMs ?? DEFAULT_QUIET_MS;
  const now = new Date().toISOString();
  switch (request.kind) {
    case 'cutover-reads': {
      if (state.phase !== 'in-sync' && !(force && state.phase === 'catching-up')) {
        return refuse(
          `reads can move only from phase in-sync (now ${state.phase})`,
          state.phase === 'catching-up'
            ? 'wait until `dynashift status` shows phase in-sync, or pass --force'
            : 'see `dynashift status` for the phase and the next step',
        );
      }
      if (!ctx.caughtUp && !force)
        return refuse(
          `the target is not caught up with the source stream (lag ${Math.round(ctx.lagMs / 1000)} s)`,
          'wait until `dynashift status` says safe to cut over, or pass --force',
        );
      if (ctx.deadLetters > 0 && !force) {
        return refuse(
          `${ctx.deadLetters} unresolved dead letter(s) (\`dynashift dead-letters list\`): the target is missing or behind on those items`,
          'a rerun after fixing the cause resolves the failures it applies again; for the rest stop this run, then `dynashift dead-letters retry` ' +
            '(re-reads each item from the source and applies it) or `dynashift dead-letters discard --reason TEXT`, and start the run again — or pass --force',
        );
      }
      const horizon = Object.values(state.sources ?? {})
        .map((s) => s.backfill.ttlHorizon)
        .filter((h): h is string => h !== undefined)
        .sort()
        .pop();
      if (horizon && Date.parse(horizon) > Date.now() && !force) {
        return refuse(
          `without a backfill the target is complete only once every pre-existing item has expired, at ${horizon}`,
          `wait until ${horizon}, or pass --force`,
        );
      }
      enterPhase(state, 'reads-cutover');
      cut.readsAt = now;
      return ok(
        'reads may now move to the target. dynashift keeps applying source writes to it. Next: move writes, then `dynashift cutover writes`.',
      );
    }
    case 'cutover-writes': {
      if (state.phase !== 'reads-cutover' && !(force && state.phase === 'in-sync')) {
        return refuse(
          `writes can move only after reads (phase reads-cutover; now ${state.phase})`,
          state.phase === 'in-sync'
            ? 'run `dynashift cutover reads` first (or pass --force to move both at once)'
            : 'run `dynashift cutover reads` first, once `dynashift status` shows phase in-sync',
        );
      }
      // Forward must have applied everything up to now (in particular the catch-up's replay of changes older than the
      // backfill) before the reverse position is taken at the target stream's tip, and before the application writes
      // the target: a lagging forward direction would overwrite those writes with older source versions.
      if (!ctx.caughtUp && !force)
        return refuse(
          `the target is not caught up with the source stream (lag ${Math.round(ctx.lagMs / 1000)} s)`,
          'wait until `dynashift status` says it is caught up, or pass --force',
        );
      if (request.options.noReverse) {
        cut.draining = { from: 'forward', to: 'none', since: now, quietMs };
        enterPhase(state, 'writes-cutover');
        cut.writesAt = now;
        return ok(
          'the target is now the system of record. Switch application writes to it: dynashift applies remaining source writes until the source is quiet, then stops. No reverse replication (--no-reverse): rollback will not be possible.',
        );
      }
      cut.reverse = await ctx.openReverse();
      cut.draining = { from: 'forward', to: 'reverse', since: now, quietMs };
      enterPhase(state, 'writes-cutover');
      cut.writesAt = now;
      return ok(
        `the target is now the system of record. Switch application writes to it now: dynashift applies remaining source writes until the source has been quiet for ${Math.round(quietMs / 1000)} s, then keeps the source current from the target's stream (reverse replication) so you can roll back.`,
      );
    }
    case 'rollback': {
      if (state.phase === 'writes-cutover') {
        if (cut.draining?.from === 'forward') {
          delete cut.draining;
          cut.direction = 'forward';
        } else if (cut.direction === 'reverse') {
          cut.draining = { from: 'reverse', to: 'forward', since: now, quietMs };
        } else if (!force) {
          return refuse(
            'writes were cut over with --no-reverse, so the source missed the writes made to the target since: rolling back would lose them',
            "pass --force to roll back anyway (then copy the target's newer writes to the source yourself)",
          );
        } else {
          cut.direction = 'forward';
        }
        enterPhase(state, 'reads-cutover');
        return ok(
          "writes may move back to the source now. dynashift applies the target's remaining writes to the source until the target is quiet, then resumes source → target replication. Reads stay on the target; `dynashift rollback` again moves them back.",
        );
      }
      if (state.phase === 'reads-cutover') {
        enterPhase(state, 'in-sync');
        return ok('reads may move back to the source; the target keeps following it.');
      }
      return refuse(
        `nothing to roll back in phase ${state.phase}`,
        'rollback undoes `cutover writes`, then `cutover reads`; see `dynashift status` for the phase',
      );
    }
    case 'finish': {
      if (state.phase !== 'writes-cutover' && !force)
        return refuse(
          `finish comes after \`cutover writes\` (now ${state.phase})`,
          'run `dynashift cutover writes` first, or pass --force to stop replication anyway',
        );
      cut.finishRequested = true;
      const running = cut.draining ? cut.draining.from : cut.direction;
      if (running === 'none') return ok('replication already stopped');
      cut.draining = { from: running, to: 'none', since: now, quietMs };
      return ok(
        `stopping replication once the ${running === 'forward' ? 'source' : 'target'} stream has been quiet for ${Math.round(quietMs / 1000)} s`,
      );
    }
  }
}

/** What the waiting command prints: a refusal has its code and a fix naming the step or flag. */
export interface ControlOutcome {
  ok: boolean;
  message: string;
  code?: ErrorCode;
  hint?: string;
}

/**
 * A control request that failed with an error rather than a refusal (applyControl threw): a typed error keeps its own
 * code and hint, an AWS SDK or network failure gets its classified code (ENDPOINT_UNREACHABLE, ACCESS_DENIED,
 * AWS_ERROR…), so an unreachable table is not reported as CUTOVER_REFUSED (which means "not in this phase or state").
 */
export function controlFailure(err: unknown, hint: string): ControlOutcome {
  const typed = err instanceof DynashiftError ? err : classifyAwsError(err);
  if (typed) return { ok: false, message: typed.message, code: typed.code, hint: typed.hint ?? hint };
  return { ok: false, message: `unexpected error: ${(err as Error)?.message ?? String(err)}`, code: 'AWS_ERROR', hint };
}

const ok = (message: string): ControlOutcome => ({ ok: true, message });
const refuse = (message: string, hint: string): ControlOutcome => ({ ok: false, message, code: 'CUTOVER_REFUSED', hint });
