import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { DynashiftError } from '../../errors.js';
import { FileStateStore } from '../../state/file-state-store.js';
import type { MigrationState, ProgressSnapshot } from '../../state/migration-state.js';
import { DASHBOARD_HTML } from './dashboard-page.js';
import { dashboardData } from './dashboard-data.js';
import { History } from './history.js';
import { MigrationMetrics } from './metrics.js';

export interface MonitorOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  migration: string;
  version: string;
  stateDir: string;
}

export interface Monitor {
  /** Where it listens, e.g. http://127.0.0.1:9464/ */
  url: string;
  /** Feed it each progress snapshot the run publishes. */
  onProgress(snapshot: ProgressSnapshot): void;
  close(): Promise<void>;
}

/** No script, style or image from anywhere but this page; the page only calls back to this server. */
const PAGE_CSP =
  "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'";

/**
 * `dynashift run --metrics-port`: Prometheus metrics on /metrics, the dashboard on /, its data on /api/status. Read-only:
 * only GET and HEAD are answered. Everything comes from the snapshots the run publishes and from the state folder.
 */
export async function startMonitor(opts: MonitorOptions): Promise<Monitor> {
  const store = new FileStateStore(opts.stateDir);
  const history = new History();
  const metrics = new MigrationMetrics({ migration: opts.migration, version: opts.version });
  let snapshot: ProgressSnapshot | undefined;

  const loadState = async (): Promise<MigrationState | undefined> => {
    try {
      return await store.load();
    } catch {
      return undefined; // unreadable for an instant: the snapshot still answers
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end('read-only\n');
      return;
    }
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path === '/metrics') {
      metrics.update(snapshot, await loadState());
      send(res, req, 200, metrics.contentType, await metrics.text());
    } else if (path === '/api/status') {
      const data = dashboardData({ migration: opts.migration, state: await loadState(), snapshot, store, history });
      send(res, req, 200, 'application/json; charset=utf-8', JSON.stringify(data));
    } else if (path === '/' || path === '/index.html') {
      send(res, req, 200, 'text/html; charset=utf-8', DASHBOARD_HTML, { 'content-security-policy': PAGE_CSP });
    } else {
      send(res, req, 404, 'text/plain; charset=utf-8', 'not found: try / (dashboard) or /metrics\n');
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`error: ${(err as Error).message}\n`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new DynashiftError('METRICS_PORT_UNAVAILABLE', `cannot serve metrics on ${opts.host}:${opts.port}: ${err.code ?? err.message}`, {
          hint:
            err.code === 'EADDRINUSE'
              ? `another process listens on port ${opts.port}: pick another --metrics-port`
              : `check --metrics-host ${opts.host} (an address of this machine, e.g. 127.0.0.1 or 0.0.0.0) and --metrics-port ${opts.port}`,
          cause: err,
        }),
      ),
    );
    server.listen(opts.port, opts.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    url: `http://${host}:${port}/`,
    onProgress(p) {
      snapshot = p;
      history.add(p);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function send(res: ServerResponse, req: IncomingMessage, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...headers });
  res.end(req.method === 'HEAD' ? undefined : body);
}
