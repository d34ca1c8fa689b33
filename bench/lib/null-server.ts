/** Starts the null DynamoDB (bench/null-dynamodb/) in its own process and talks to its control operations. */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { ROOT } from '../contenders/dynashift.js';
import type { NullStats } from '../null-dynamodb/server.js';

export interface NullServer {
  endpoint: string;
  pid: number;
  stats(): Promise<NullStats>;
  reset(): Promise<void>;
  stop(): Promise<void>;
}

export async function startNullServer(o: { items: number; seed: number; prebuild: { segments: number; pageSize: number }[] }): Promise<NullServer> {
  const args = ['--import', 'tsx', path.join(ROOT, 'bench/null-dynamodb/main.ts'), '--items', String(o.items), '--seed', String(o.seed)];
  if (o.prebuild.length) args.push('--prebuild', o.prebuild.map((p) => `${p.segments}:${p.pageSize}`).join(','));
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-20_000);
  });
  const endpoint = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n') && line) resolve((JSON.parse(line) as { endpoint: string }).endpoint);
    });
    child.on('exit', (code) => reject(new Error(`null DynamoDB exited (code ${code}) before listening:\n${stderr}`)));
  });
  const control = async (operation: 'Stats' | 'Reset'): Promise<NullStats> => {
    const res = await fetch(endpoint, { method: 'POST', headers: { 'x-amz-target': `NullDynamoDB.${operation}` }, body: '{}' });
    return (await res.json()) as NullStats;
  };
  return {
    endpoint,
    pid: child.pid!,
    stats: () => control('Stats'),
    reset: async () => {
      await control('Reset');
    },
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
