/**
 * A backfill worker thread's entry (engine/workers/worker-pool.ts starts it). It owns its SDK clients — the source's
 * Scan, and a sink per target opened with the same driver code as the main thread's — and does the CPU work of the
 * backfill: it decodes pages, runs the transform and marshals the writes. The state, the snapshot gate, the failure
 * policy and the budgets stay in the main thread, reached through MainLink.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadConfig, loadTransformModule } from '../../config/load-config.js';
import type { ResolvedConfig } from '../../config/resolved-config.js';
import { systemClock } from '../../core/clock.js';
import { RateMeter } from '../../core/rate-limiter.js';
import { ItemMapper, type Transform } from '../../core/transform.js';
import { callDeltas } from '../../aws/call-stats.js';
import { clientsFor, destroyClients } from '../../aws/clients.js';
import { roleFor } from '../../aws/errors.js';
import { driverFor } from '../../sinks/drivers.js';
import type { Sink } from '../../sinks/sink.js';
import { ScanSource } from '../../sources/scan/scan-source.js';
import type { MapFailure } from '../../core/protocol.js';
import type { RejectedWrite } from '../../sinks/sink.js';
import type { Landed } from '../failure-policy.js';
import { MainLink } from './main-link.js';
import type { ToWorker, TransformRef, WorkerInit } from './protocol.js';
import { toThreadError } from './thread-error.js';
import { copyPartitionInWorker, type WorkerCopyDeps } from './worker-copy.js';

const port = parentPort!;
const init = workerData as WorkerInit;
const link = new MainLink(port);
const stop = new AbortController();

async function loadTransform(ref: TransformRef): Promise<Transform | undefined> {
  if (ref.kind === 'module') return loadTransformModule(ref.path);
  if (ref.kind === 'config') return (await loadConfig(ref.configPath)).transform;
  return undefined;
}

async function open(): Promise<{ deps: WorkerCopyDeps; close: () => Promise<void> }> {
  const config = init.config as ResolvedConfig;
  const transform = await loadTransform(init.transform);
  const mapper = new ItemMapper({
    targets: init.targetKeys,
    ...(transform ? { transform } : {}),
    ...(config.singleTarget ? { singleTarget: config.singleTarget } : {}),
  });
  const sinks: Record<string, Sink> = {};
  for (const [name, target] of Object.entries(config.targets)) {
    sinks[name] = (await driverFor(target)).open(name, target, {
      keySchema: init.targetKeys[name]!,
      concurrency: init.writeConcurrency,
      ...(config.guard ? { guard: config.guard } : {}),
      ...(init.budgetedTargets.includes(name) ? { writeBudget: link.budget(name) } : {}),
    });
  }
  const clients = clientsFor(config.sources[init.source]!, roleFor('source', init.source, config.sources[init.source]!));
  const source = new ScanSource({
    name: init.source,
    client: clients.dynamodb,
    table: init.table,
    totalSegments: init.totalSegments,
    pageSize: config.backfill.pageSize,
    consistentRead: config.backfill.consistentRead,
    limiter: link.readLimiter(),
    meter: new RateMeter(systemClock),
  });
  const failures = {
    handle: async (mapFailures: MapFailure[], rejected: RejectedWrite[]): Promise<void> => {
      if (mapFailures.length === 0 && rejected.length === 0) return;
      await link.request({ op: 'failures', mapFailures, rejected });
    },
    landed: async (_stage: string, _source: string, landed: () => Landed[], mapFailures: MapFailure[], rejected: RejectedWrite[]): Promise<void> => {
      if (!init.trackLanded) return;
      await link.request({ op: 'landed', keys: landed(), mapFailures, rejected });
    },
  };
  const deps: WorkerCopyDeps = {
    source,
    link,
    log: link.logger(),
    gated: init.gated,
    ...(init.skipExpired ? { skipExpired: init.skipExpired } : {}),
    mapper,
    sourceName: init.source,
    sourceKeySchema: init.sourceKeySchema,
    sinks,
    failures,
    callsSince: callDeltas(() => ({
      source: clients.calls,
      ...Object.fromEntries(Object.entries(sinks).map(([name, sink]) => [name, sink.callStats])),
    })),
  };
  const close = async (): Promise<void> => {
    destroyClients(clients);
    for (const sink of Object.values(sinks)) await sink.close?.();
  };
  return { deps, close };
}

const opened = open();
opened.then(
  () => link.post({ type: 'ready' }),
  (err: unknown) => link.post({ type: 'failed', error: toThreadError(err) }),
);

port.on('message', (msg: ToWorker) => {
  if (link.settle(msg)) return;
  if (msg.type === 'stop') stop.abort();
  else if (msg.type === 'copy') {
    void opened
      .then(({ deps }) => copyPartitionInWorker(deps, msg.partition, msg.cursor, stop.signal))
      .then(
        () => link.post({ type: 'partitionEnded', id: msg.id }),
        (err: unknown) => link.post({ type: 'partitionEnded', id: msg.id, error: toThreadError(err) }),
      );
  } else if (msg.type === 'close') {
    void opened
      .then(({ close }) => close())
      .catch(() => {})
      .finally(() => {
        link.post({ type: 'closed' });
        // Ends this thread only (not the process). Its port keeps the thread alive otherwise.
        process.exit(0);
      });
  }
});
