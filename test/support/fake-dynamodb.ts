import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A loopback HTTP server that answers like DynamoDB's JSON protocol, scripted per request: for unit tests of how the
 * SDK clients time out, retry and classify failures. (Integration tests use DynamoDB Local behind fault-proxy.ts.)
 */
export type FakeReply =
  | { kind: 'ok'; body: object }
  | { kind: 'error'; status: number; type?: string; message?: string }
  /** Accepts the request and never answers. */
  | { kind: 'freeze' }
  /** Closes the connection instead of answering. */
  | { kind: 'reset' };

export interface FakeDynamoDb {
  endpoint: string;
  /** The operations received, in order (from X-Amz-Target). */
  received: string[];
  close(): Promise<void>;
}

export async function startFakeDynamoDb(reply: (operation: string, n: number) => FakeReply | Promise<FakeReply>): Promise<FakeDynamoDb> {
  const received: string[] = [];
  const frozen = new Set<ServerResponse>();
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const operation =
        String(req.headers['x-amz-target'] ?? '')
          .split('.')
          .pop() ?? '';
      received.push(operation);
      const r = await reply(operation, received.length);
      if (r.kind === 'freeze') {
        frozen.add(res);
        return;
      }
      if (r.kind === 'reset') {
        req.socket.destroy();
        return;
      }
      const body =
        r.kind === 'ok'
          ? JSON.stringify(r.body)
          : JSON.stringify({
              __type: `com.amazonaws.dynamodb.v20120810#${r.type ?? 'InternalServerError'}`,
              message: r.message ?? r.type ?? 'error',
            });
      res.writeHead(r.kind === 'ok' ? 200 : r.status, { 'content-type': 'application/x-amz-json-1.0', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    received,
    close: async () => {
      for (const res of frozen) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
