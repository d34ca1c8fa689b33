/**
 * A throwaway PostgreSQL cluster for tests: initdb into a temp folder, started with pg_ctl on a free loopback port
 * (listen_addresses=127.0.0.1, its unix socket inside the folder too), password authentication over TCP so tests can
 * check the password never leaks, durability off for speed. Stopped and deleted on teardown.
 *
 * Needs the server binaries of Debian's `postgresql` package (/usr/lib/postgresql/<version>/bin). initdb refuses to
 * run as root, so as root the cluster is created and run by the `postgres` system user (which the package creates)
 * through `runuser`.
 */
import { after, before } from 'node:test';
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestPostgres {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;
  /** postgres://user:password@127.0.0.1:port/postgres */
  readonly connectionString: string;
  stop(): Promise<void>;
}

const INSTALL_HINT =
  'install the server with `apt-get install -y postgresql` (Debian/Ubuntu; .ci/run does this), or point DYNASHIFT_PG_BIN at a folder holding initdb and pg_ctl';
const USER = 'dynashift';

/** The newest /usr/lib/postgresql/<version>/bin that has initdb and pg_ctl (or DYNASHIFT_PG_BIN). */
export function findPostgresBin(): string {
  const explicit = process.env.DYNASHIFT_PG_BIN;
  if (explicit) {
    if (!existsSync(join(explicit, 'initdb'))) throw new Error(`DYNASHIFT_PG_BIN=${explicit} holds no initdb: ${INSTALL_HINT}`);
    return explicit;
  }
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => /^\d+(\.\d+)?$/.test(v))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  for (const v of versions) {
    const bin = join(root, v, 'bin');
    if (existsSync(join(bin, 'initdb')) && existsSync(join(bin, 'pg_ctl'))) return bin;
  }
  throw new Error(`PostgreSQL server binaries not found under ${root}/*/bin: ${INSTALL_HINT}`);
}

export async function startPostgres(): Promise<TestPostgres> {
  const bin = findPostgresBin();
  const dir = mkdtempSync(join(baseDir(), 'dynashift-pg-'));
  const data = join(dir, 'data');
  const asUser = runAs(dir);
  const password = randomBytes(12).toString('hex');
  const pwfile = join(dir, 'pwfile');
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  asUser.own(pwfile);
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  try {
    await asUser.run(join(bin, 'initdb'), [
      '-D',
      data,
      '-U',
      USER,
      `--pwfile=${pwfile}`,
      '--auth-local=trust',
      '--auth-host=scram-sha-256',
      '-E',
      'UTF8',
      '--locale=C',
      '--no-sync',
    ]);
  } catch (err) {
    cleanup();
    throw err;
  }
  let port = 0;
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    const options = [
      `-p ${port}`,
      `-k ${dir}`,
      '-c listen_addresses=127.0.0.1',
      '-c fsync=off',
      '-c synchronous_commit=off',
      '-c full_page_writes=off',
      '-c max_connections=300',
    ].join(' ');
    try {
      await asUser.run(join(bin, 'pg_ctl'), ['-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '60', '-o', options, 'start']);
      break;
    } catch (err) {
      // Another process may take the port between the probe and the bind; try another one.
      if (attempt >= 3) {
        const log = existsSync(join(dir, 'server.log')) ? readFileSync(join(dir, 'server.log'), 'utf8').split('\n').slice(-15).join('\n') : '';
        cleanup();
        throw new Error(`${(err as Error).message}\nserver log:\n${log}`);
      }
    }
  }
  let stopped = false;
  const stopNow = (): void => {
    if (stopped) return;
    stopped = true;
    spawnSync(
      asUser.command(join(bin, 'pg_ctl'))[0]!,
      [...asUser.command(join(bin, 'pg_ctl')).slice(1), '-D', data, '-m', 'immediate', '-w', 'stop'],
      { stdio: 'ignore' },
    );
    cleanup();
  };
  // A test process that dies without running its hooks must not leave a postmaster behind.
  process.once('exit', stopNow);
  return {
    host: '127.0.0.1',
    port,
    user: USER,
    password,
    database: 'postgres',
    connectionString: `postgres://${USER}:${password}@127.0.0.1:${port}/postgres`,
    async stop() {
      process.removeListener('exit', stopNow);
      if (stopped) return;
      stopped = true;
      await asUser.run(join(bin, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop']).catch(() => {});
      cleanup();
    },
  };
}

/** One cluster per test file, started in `before` and stopped in `after`. Call at the top level of a test file. */
export function withPostgres(): { readonly server: TestPostgres } {
  let server: TestPostgres | undefined;
  before(
    async () => {
      server = await startPostgres();
    },
    { timeout: 90_000 },
  );
  after(async () => {
    await server?.stop();
  });
  return {
    get server() {
      if (!server) throw new Error('PostgreSQL is not running: use it inside a test or hook');
      return server;
    },
  };
}

interface RunAs {
  command(file: string): string[];
  run(file: string, args: string[]): Promise<void>;
  own(path: string): void;
}

/** As root: hand the folder to the `postgres` user and run every server command through runuser. */
function runAs(dir: string): RunAs {
  if (process.getuid?.() !== 0) {
    return { command: (file) => [file], run: (file, args) => exec(file, args), own: () => {} };
  }
  let uid: number;
  let gid: number;
  try {
    uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  } catch {
    throw new Error(`running as root, initdb needs the "postgres" system user, which is missing: ${INSTALL_HINT}`);
  }
  chownSync(dir, uid, gid);
  chmodSync(dir, 0o700);
  return {
    command: (file) => ['runuser', '-u', 'postgres', '--', file],
    run: (file, args) => exec('runuser', ['-u', 'postgres', '--', file, ...args]),
    own: (path) => chownSync(path, uid, gid),
  };
}

/**
 * Where the cluster folder goes. As root the `postgres` user must be able to reach it, so a private TMPDIR (mode 700)
 * is passed over for /tmp; a short path also keeps the unix socket path under its ~107-byte limit.
 */
function baseDir(): string {
  const base = tmpdir();
  if (process.getuid?.() !== 0) return base;
  return (statSync(base).mode & 0o001) !== 0 ? base : '/tmp';
}

function exec(file: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd: '/', timeout: 120_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args.join(' ')} failed: ${err.message}\n${stdout}\n${stderr}`));
      else resolve();
    });
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('could not pick a free port'))));
    });
  });
}
