/**
 * A Secrets Manager STUB for tests — not an emulator: Secrets Manager has no local equivalent here. It answers
 * GetSecretValue (the only call dynashift makes) over the service's JSON protocol on a loopback port, from a map of
 * secret id → value, and counts the calls so a test can check the secret is read once per container.
 */
import { createServer, type Server } from 'node:http';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

export interface SecretsStub {
  readonly endpoint: string;
  /** A client pointed at the stub (any credentials: the stub does not check signatures). */
  client(): SecretsManagerClient;
  /** GetSecretValue calls so far, by secret id. */
  readonly calls: Map<string, number>;
  stop(): Promise<void>;
}

export async function startSecretsStub(secrets: Record<string, string>): Promise<SecretsStub> {
  const calls = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const target = String(req.headers['x-amz-target'] ?? '');
      const reply = (status: number, body: unknown): void => {
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(JSON.stringify(body));
      };
      if (target !== 'secretsmanager.GetSecretValue') {
        reply(400, { __type: 'InvalidRequestException', message: `the stub answers GetSecretValue only, not ${target}` });
        return;
      }
      const { SecretId } = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as { SecretId?: string };
      const id = SecretId ?? '';
      calls.set(id, (calls.get(id) ?? 0) + 1);
      const value = secrets[id];
      if (value === undefined) {
        reply(400, { __type: 'ResourceNotFoundException', message: "Secrets Manager can't find the specified secret." });
        return;
      }
      reply(200, { ARN: id, Name: id, SecretString: value, VersionId: 'v1', VersionStages: ['AWSCURRENT'], CreatedDate: 0 });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const endpoint = `http://127.0.0.1:${port}`;
  const clients: SecretsManagerClient[] = [];
  return {
    endpoint,
    calls,
    client() {
      const c = new SecretsManagerClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'stub', secretAccessKey: 'stub' } });
      clients.push(c);
      return c;
    },
    async stop() {
      for (const c of clients) c.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
