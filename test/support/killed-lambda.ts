/**
 * A Lambda runtime killed mid-write (SIGKILL-equivalent) for the interpreter-driven tests: a fresh container of the
 * backfill tasks (its own clients and sinks, as after a cold start) that dies inside its first target write — half of
 * that write's items land, then nothing it sends reaches DynamoDB (no checkpoint, no lease release) — and the error
 * Step Functions reports for it.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { ResolvedConfig } from '../../src/config/resolved-config.js';
import { createBackfillTasks, type BackfillTasks } from '../../src/runners/stepfunctions/tasks.js';
import type { Sink } from '../../src/sinks/sink.js';

/** Every request through `client` fails once `dead()` — a killed runtime sends nothing more. */
export function killableClient(client: DynamoDBClient, dead: () => boolean): DynamoDBClient {
  return new Proxy(client, {
    get(target, prop) {
      if (prop === 'send') {
        return (...args: unknown[]) =>
          dead() ? Promise.reject(new Error('the runtime was killed')) : (target.send as (...a: unknown[]) => Promise<unknown>)(...args);
      }
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

export class KilledRuntime extends Error {
  // What Step Functions reports for a Lambda whose runtime died (OOM, signal, timeout) on a direct function ARN.
  override readonly name = 'Lambda.Unknown';
}

/** The container's tasks, and a promise that settles when it dies (inside its first target write). */
export function doomedContainer(opts: { config: ResolvedConfig; stateTable: string; stateClient: DynamoDBClient; write: (line: string) => void }): {
  tasks: BackfillTasks;
  killed: Promise<void>;
} {
  let dead = false;
  let kill!: () => void;
  const killed = new Promise<void>((resolve) => {
    kill = () => {
      dead = true;
      resolve();
    };
  });
  const wrapSink = (sink: Sink): Sink => ({
    name: sink.name,
    capabilities: sink.capabilities,
    async write(ops, signal) {
      if (dead) throw new Error('the runtime was killed');
      const half = Math.ceil(ops.length / 2);
      await sink.write(ops.slice(0, half), signal);
      kill();
      throw new Error('the runtime was killed');
    },
  });
  const tasks = createBackfillTasks({
    config: opts.config,
    stateTable: opts.stateTable,
    stateClient: killableClient(opts.stateClient, () => dead),
    write: opts.write,
    timeBudgetMs: 1,
    wrapSink,
  });
  return { tasks, killed };
}
