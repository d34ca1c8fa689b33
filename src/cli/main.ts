import { Command, Option } from 'commander';
import { createRequire } from 'node:module';
import { isDynashiftError } from '../errors.js';
import { classifyAwsError } from '../aws/errors.js';
import { portNumber, wholeNumber } from './option-parsers.js';

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

/**
 * Parses argv, runs one command and returns the exit code (0 ok, 1 failure, 2 refused config). Each command's module is
 * imported when it runs: a `run` between DynamoDB tables then never loads PostgreSQL, S3, CloudWatch or the dashboard.
 * With all of it loaded, the same copy took ~7% more CPU per item, for reasons not pinned down (BENCHMARKS.md, "What
 * the CLI loads, acted on").
 */
export async function main(argv: string[]): Promise<number> {
  let code = 0;
  const program = new Command('dynashift')
    .description('Move a live DynamoDB table to a new home with zero downtime and no data loss.')
    .version(version)
    .showHelpAfterError()
    .exitOverride();
  const configOption = () => new Option('-c, --config <file>', 'migration config (dynashift.config.ts or .json)').default('dynashift.config.ts');

  program
    .command('plan')
    .description('describe source, target, strategy and cost; refuse (exit 2) configs that cannot migrate safely')
    .addOption(configOption())
    .option('--json', 'print the plan as JSON')
    .option('--backfill <strategy>', 'override backfill.strategy: scan, none, touch, or export:<uri> (a folder or s3://bucket/prefix)')
    .action(async (o) => {
      code = await (await import('./commands/plan.js')).planCommand(o);
    });

  program
    .command('run')
    .description('create the target, back-fill it and apply the stream until stopped (SIGINT/SIGTERM) or in sync')
    .addOption(configOption())
    .option('--until-synced', 'exit 0 once the backfill is complete and the stream is applied up to its newest record')
    .option(
      '--rebackfill',
      'after a transform change: re-copy every item under the new transform, keeping the stream position (then verify --repair removes leftovers)',
    )
    .option(
      '--accept-transform',
      'after a transform change that only fixes items that failed: record the new transform and keep the items already written as they are (then verify checks them)',
    )
    .option('--backfill <strategy>', 'override backfill.strategy: scan, none, touch, or export:<uri> (a folder or s3://bucket/prefix)')
    .addOption(
      new Option('--on-error <mode>', 'items the transform or target reject: halt, or dead-letter and continue').choices(['halt', 'dead-letter']),
    )
    .addOption(new Option('--log-format <format>', 'log format').choices(['pretty', 'json']).default('pretty'))
    .option('--no-progress', 'no progress bar or progress lines')
    .option('--metrics-port <port>', 'serve Prometheus metrics on /metrics and a live dashboard on / at this port (0: any free port)', portNumber)
    .option('--metrics-host <address>', 'address the metrics port listens on (0.0.0.0 in a container)', '127.0.0.1')
    .action(async (o) => {
      code = await (await import('./commands/run.js')).runCommand(o);
    });

  program
    .command('status')
    .description('phase, backfill progress, per-shard lag and dead letters (works while a run is going on)')
    .addOption(configOption())
    .option('--json', 'print the status as JSON')
    .action(async (o) => {
      code = await (await import('./commands/status.js')).statusCommand(o);
    });

  const cutover = program.command('cutover').description('move reads, then writes, to the target (asks the running `dynashift run`)');
  const quiet = () =>
    new Option('--quiet-seconds <n>', 'how long the old side must be quiet before replication switches direction').argParser((v) => parseInt(v, 10));
  const timeout = (defaultSeconds: number) =>
    new Option('--timeout-seconds <n>', `how long to wait for the running migration to answer (default ${defaultSeconds})`).argParser((v) =>
      wholeNumber(v, 1),
    );
  cutover
    .command('reads')
    .description('record that reads move to the target (requires the target in sync)')
    .addOption(configOption())
    .option('--force', 'even if not caught up or items are dead-lettered')
    .addOption(timeout(60))
    .action(async (o) => {
      code = await (await import('./commands/cutover.js')).controlCommand('cutover-reads', o);
    });
  cutover
    .command('writes')
    .description('make the target the system of record; the source then follows it by reverse replication')
    .addOption(configOption())
    .option('--no-reverse', 'no reverse replication (no rollback possible; needs no inverse transform)')
    .addOption(quiet())
    .option('--force', 'from phase in-sync, skipping `cutover reads`')
    .addOption(timeout(60))
    .action(async (o) => {
      code = await (await import('./commands/cutover.js')).controlCommand('cutover-writes', o);
    });

  program
    .command('rollback')
    .description('move the recorded phase back one step (writes, then reads, back to the source)')
    .addOption(configOption())
    .addOption(quiet())
    .option('--force', 'even when the source was not kept current (--no-reverse)')
    .addOption(timeout(60))
    .action(async (o) => {
      code = await (await import('./commands/cutover.js')).controlCommand('rollback', o);
    });

  program
    .command('finish')
    .description('stop replication; with --delete-source, delete the source table after a CloudWatch traffic check')
    .addOption(configOption())
    .option('--delete-source', 'delete the source table(s) once they show no traffic')
    .option('--yes', 'do not ask for confirmation')
    .option('--force', 'finish before `cutover writes`, or delete despite traffic / missing metrics')
    .addOption(quiet())
    .addOption(new Option('--window-minutes <n>', 'CloudWatch window to check for traffic').argParser((v) => parseInt(v, 10)).default(60))
    .addOption(timeout(300))
    .action(async (o) => {
      code = await (await import('./commands/cutover.js')).finishCommand(o);
    });

  const deadLetters = program
    .command('dead-letters')
    .description('items the transform or a target rejected: list them, retry them from the source, or discard them');
  deadLetters
    .command('list')
    .description('one line per dead-lettered source item (unresolved only, unless --all); works while a run is going on')
    .addOption(configOption())
    .option('--all', 'also show resolved entries')
    .option('--json', 'print as JSON')
    .action(async (o) => {
      code = await (await import('./commands/dead-letters.js')).deadLettersListCommand(o);
    });
  deadLetters
    .command('retry')
    .description("re-read each item with a consistent GetItem and apply it with the protocol's write rules (no run may be active)")
    .argument('[ids...]', 'dead-letter ids (from `list`; a unique prefix is enough); default: every unresolved one')
    .addOption(configOption())
    .option(
      '--accept-transform',
      'the transform changed since the migration started (a fix for these items): record it, keeping the items already written as they are',
    )
    .option('--json', 'print the outcomes as JSON')
    .action(async (ids: string[], o) => {
      code = await (await import('./commands/dead-letters.js')).deadLettersRetryCommand(ids, o);
    });
  deadLetters
    .command('discard')
    .description('mark dead letters resolved without writing anything, with a reason (no run may be active)')
    .argument('[ids...]', 'dead-letter ids (from `list`; a unique prefix is enough)')
    .addOption(configOption())
    .requiredOption('--reason <text>', 'why these items need not reach the target (kept in the dead-letter file)')
    .option('--all', 'every unresolved dead letter')
    .action(async (ids: string[], o) => {
      code = await (await import('./commands/dead-letters.js')).deadLettersDiscardCommand(ids, o);
    });

  program
    .command('verify')
    .description('compare transform(source) with the target item by item (exit 0 identical, 1 not); --repair rewrites differences safely')
    .addOption(configOption())
    .option('--sample <n>', 'check about N random source items instead of every item (cannot see extra target items)', (v) => wholeNumber(v, 1))
    .option('--repair', 'rewrite persisting differences from the source with conditional writes that never clobber a newer change')
    .option('--report <file>', 'JSON report path (default: <stateDir>/verify-<timestamp>.json)')
    .option('--reverse', 'check the rollback direction: inverseTransform(target) against the source')
    .option('--recheck-rounds <n>', 're-reads of each difference before it is reported (default 3; 0: report what the scans saw)', (v) =>
      wholeNumber(v, 0),
    )
    .option('--recheck-delay <ms>', 'wait before the first re-read, doubling each round (default 2000)', (v) => wholeNumber(v, 0))
    .option('--concurrency <n>', 'segments scanned at once on each side (default: backfill.concurrency, at most 3)', (v) => wholeNumber(v, 1))
    .option('--json', 'print the result as JSON')
    .addOption(new Option('--log-format <format>', 'log format').choices(['pretty', 'json']).default('pretty'))
    .action(async (o) => {
      code = await (await import('./commands/verify.js')).verifyCommand(o);
    });

  program
    .command('deploy')
    .description(
      'bundle the AWS runner (Step Functions backfill + Lambda on the stream) with your config and transform, and build its stack: --synth prints the CloudFormation template, --out writes a cloud assembly for `cdk deploy`',
    )
    .addOption(configOption())
    .option('--synth', 'print the CloudFormation template (JSON) to stdout; needs no AWS credentials')
    .option('--out <dir>', 'write the cloud assembly to DIR (then: npx cdk deploy --app DIR)')
    .option(
      '--code <dir>',
      'use this folder of handlers and config you bundled yourself (default: deploy bundles them, with the transform, using esbuild)',
    )
    .option('--stack-name <name>', 'CloudFormation stack name (default Dynashift-<migration name>)')
    .action(async (o) => {
      code = await (await import('./commands/deploy.js')).deployCommand(o);
    });

  program
    .command('demo')
    .description('start DynamoDB Local, migrate a live sample table to a new key schema, and compare')
    .option('--items <n>', 'items in the sample table', (v) => parseInt(v, 10), 5000)
    .option('--writes-per-second <n>', 'rate of the live writer', (v) => parseInt(v, 10), 50)
    .option('--metrics-port <port>', 'serve the dashboard and /metrics for the demo migration; the writer then runs until Ctrl-C', portNumber)
    .option('--metrics-host <address>', 'address the metrics port listens on', '127.0.0.1')
    .action(async (o) => {
      code = await (await import('./commands/demo.js')).demoCommand(o);
    });

  try {
    await program.parseAsync(argv);
    return code;
  } catch (err) {
    return reportError(err, jsonLogs(argv));
  }
}

/** `error [CODE]: what happened` and `  fix: what to change`; an AWS SDK error is classified first (side, setting). */
function reportError(err: unknown, json: boolean): number {
  const e = err as { code?: string; exitCode?: number };
  if (typeof e.code === 'string' && e.code.startsWith('commander.')) {
    return e.code === 'commander.helpDisplayed' || e.code === 'commander.version' ? 0 : 2;
  }
  const classified = classifyAwsError(err);
  if (classified) err = classified;
  if (isDynashiftError(err)) {
    if (json) writeJsonError(err.code, err.message, err.hint, err.side);
    else {
      process.stderr.write(`error [${err.code}]: ${err.message}\n`);
      if (err.hint) process.stderr.write(`  fix: ${err.hint}\n`);
    }
    return err.exitCode;
  }
  const name = (err as Error)?.name ?? 'Error';
  if (json) {
    writeJsonError(
      name,
      (err as Error)?.message ?? String(err),
      'this failure is unexpected: rerun with DYNASHIFT_DEBUG=1 for its stack trace and report it',
    );
    return 1;
  }
  process.stderr.write(`error [${name}]: ${(err as Error)?.message ?? String(err)}\n`);
  process.stderr.write('  fix: this failure is unexpected: rerun with DYNASHIFT_DEBUG=1 for its stack trace and report it\n');
  if (process.env.DYNASHIFT_DEBUG) process.stderr.write(`${(err as Error)?.stack}\n`);
  return 1;
}

/** `--log-format json` (either spelling): errors too are JSON lines, like every other line on stderr. */
function jsonLogs(argv: string[]): boolean {
  const i = argv.indexOf('--log-format');
  return argv.includes('--log-format=json') || (i >= 0 && argv[i + 1] === 'json');
}

/** Shaped like the logger's records (pino: level 50 = error), with the code, the side and the fix as fields. */
function writeJsonError(code: string, message: string, hint: string | undefined, side?: string): void {
  process.stderr.write(
    `${JSON.stringify({ level: 50, time: Date.now(), code, ...(side ? { side } : {}), msg: message, ...(hint ? { fix: hint } : {}) })}\n`,
  );
}
