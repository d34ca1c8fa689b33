import { Agent, createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Rng } from '../../src/core/random.js';

/**
 * A fault-injecting HTTP proxy on loopback, in front of DynamoDB Local (tables and streams alike: both APIs share the
 * endpoint). Each request draws its fate from a seeded generator:
 * - throttle: a 400 with DynamoDB's throttling error body (ProvisionedThroughputExceededException, ThrottlingException
 *   or RequestLimitExceeded; ThrottlingException/LimitExceededException for Streams), not forwarded;
 * - 500 InternalServerError / 503 ServiceUnavailable, not forwarded;
 * - reset-before: the connection is destroyed before the request is forwarded (nothing applied);
 * - reset-after: the request is forwarded and fully answered by DynamoDB Local — so it was applied — and the
 *   connection is destroyed instead of replying (the client must retry a write that already landed);
 * - latency: forwarded after an added delay;
 * - ok: forwarded as is.
 * The request's bytes pass through untouched (the SDK's signature covers the Host header).
 */
export type Fault = 'throttle' | '500' | '503' | 'reset-before' | 'reset-after' | 'latency';
export const FAULTS: readonly Fault[] = ['throttle', '500', '503', 'reset-before', 'reset-after', 'latency'];

export interface FaultProxyOptions {
  upstream: string;
  rng: Rng;
  /** Share of requests that get a fault (split evenly over `faults`). */
  rate: number;
  faults?: readonly Fault[];
  /** Added latency range for `latency`, ms. */
  latencyMs?: [number, number];
}

export interface FaultProxy {
  endpoint: string;
  /** Requests seen, and how many got each fault. */
  stats: { requests: number } & Record<Fault, number>;
  /** Stop or resume injecting (e.g. for the final comparison run). */
  setRate(rate: number): void;
  close(): Promise<void>;
}

const THROTTLES_DDB = ['ProvisionedThroughputExceededException', 'ThrottlingException', 'RequestLimitExceeded'];
const THROTTLES_STREAMS = ['ThrottlingException', 'LimitExceededException'];

export async function startFaultProxy(opts: FaultProxyOptions): Promise<FaultProxy> {
  const upstream = new URL(opts.upstream);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const faults = opts.faults ?? FAULTS;
  const [minLatency, maxLatency] = opts.latencyMs ?? [50, 400];
  let rate = opts.rate;
  const stats = { requests: 0, throttle: 0, '500': 0, '503': 0, 'reset-before': 0, 'reset-after': 0, latency: 0 } as FaultProxy['stats'];
  const sockets = new Set<Socket>();
  const firstKind = Math.floor(opts.rng() * faults.length);
  let faulted = 0;
  let owed = 0;

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      stats.requests++;
      const target = String(req.headers['x-amz-target'] ?? '');
      // Which requests fail is random, but never falls more than two faults behind the rate (a pure coin left seed 8
      // at 4.7% of its 365 requests against 8%); which kind a fault is takes turns from a seeded start, so every kind
      // happens once there are as many faults as kinds (a random pick left the 500s out of seed 6).
      owed += rate;
      const faulty = opts.rng() < rate || owed >= 2;
      if (faulty) owed -= 1;
      const fault = faulty ? faults[(firstKind + faulted++) % faults.length]! : undefined;
      if (fault) stats[fault]++;
      const body = Buffer.concat(chunks);
      switch (fault) {
        case 'throttle': {
          const names = target.startsWith('DynamoDBStreams') ? THROTTLES_STREAMS : THROTTLES_DDB;
          return reply(res, 400, names[Math.floor(opts.rng() * names.length)]!, 'Rate of requests exceeds the allowed throughput (injected).');
        }
        case '500':
          return reply(res, 500, 'InternalServerError', 'Internal server error (injected).');
        case '503':
          return reply(res, 503, 'ServiceUnavailable', 'Service unavailable (injected).');
        case 'reset-before':
          return void req.socket.destroy();
        case 'reset-after':
          return forward(req, body, () => req.socket.destroy());
        case 'latency':
          return void setTimeout(() => forward(req, body, pipeTo(res)), minLatency + Math.floor(opts.rng() * (maxLatency - minLatency)));
        default:
          return forward(req, body, pipeTo(res));
      }
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  /** Sends the request upstream; `done` gets the complete answer (status, headers, body) or undefined on failure. */
  function forward(
    req: IncomingMessage,
    body: Buffer,
    done: (answer: { status: number; headers: Record<string, string | string[] | undefined>; body: Buffer } | undefined) => void,
  ): void {
    const up = httpRequest(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
        agent,
      },
      (upRes) => {
        const parts: Buffer[] = [];
        upRes.on('data', (c: Buffer) => parts.push(c));
        upRes.on('end', () => done({ status: upRes.statusCode ?? 502, headers: upRes.headers, body: Buffer.concat(parts) }));
        upRes.on('error', () => done(undefined));
      },
    );
    up.on('error', () => done(undefined));
    up.end(body);
  }

  function pipeTo(res: ServerResponse) {
    return (answer: { status: number; headers: Record<string, string | string[] | undefined>; body: Buffer } | undefined): void => {
      if (!answer) return void res.socket?.destroy();
      const headers = { ...answer.headers };
      delete headers['transfer-encoding'];
      headers['content-length'] = String(answer.body.length);
      res.writeHead(answer.status, headers);
      res.end(answer.body);
    };
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stats,
    setRate: (r) => {
      rate = r;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      agent.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function reply(res: ServerResponse, status: number, type: string, message: string): void {
  const body = JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${type}`, message });
  res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
