/**
 * The state machine that `dynashift deploy --synth` synthesizes (the same synthesizeMigration, no AWS credentials) is
 * valid Amazon States Language by asl-validator, for each shape the construct builds (the spool, no spool, no
 * backfill), and every Lambda task in it runs a handler the stepfunctions entry point really exports. A definition
 * with a dangling transition is refused, so the check is not vacuous.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load-config.js';
import * as stepfunctions from '../../src/runners/stepfunctions/index.js';
import * as lambda from '../../src/runners/lambda/index.js';
import { allStates, synthesizeStateMachine, validateDefinition } from '../support/asl-interpreter.js';

async function configWith(extra: Record<string, unknown>) {
  const dir = mkdtempSync(join(tmpdir(), 'dynashift-asl-'));
  writeFileSync(join(dir, 'transform.mjs'), 'export default (item) => item;\n');
  writeFileSync(
    join(dir, 'dynashift.config.json'),
    JSON.stringify({
      name: 'orders-move',
      source: { table: 'Orders', region: 'eu-west-1' },
      target: { table: 'OrdersV2', region: 'eu-west-1' },
      transform: './transform.mjs',
      ...extra,
    }),
  );
  return loadConfig(join(dir, 'dynashift.config.json'));
}

const SHAPES: [string, Record<string, unknown>][] = [
  ['scan with the spool (the default)', { backfill: { concurrency: 3 } }],
  ['scan without the spool', { backfill: { concurrency: 3 }, stream: { duringBackfill: false } }],
  ['no backfill (strategy none)', { backfill: { strategy: 'none' } }],
];

for (const [shape, extra] of SHAPES) {
  test(`${shape}: the synthesized definition is valid ASL and each Lambda task runs an exported handler`, { timeout: 120_000 }, async () => {
    const machine = synthesizeStateMachine(await configWith(extra));
    const verdict = validateDefinition(machine.definition);
    assert.ok(verdict.isValid, verdict.errors);
    const exported = { ...lambda, ...stepfunctions } as Record<string, unknown>;
    const tasks = allStates(machine.definition).filter((s) => s.state.Type === 'Task');
    assert.ok(tasks.length >= 3);
    for (const { name, state } of tasks) {
      const fn = machine.functions.find((f) => f.arn === state.Resource);
      if (String(state.Resource).includes(':::aws-sdk:lambda:updateEventSourceMapping')) {
        assert.ok(
          machine.mappings.some((m) => m.uuid === state.Parameters.Uuid),
          `${name} enables a mapping of the template`,
        );
        continue;
      }
      assert.ok(fn, `${name}: its resource ${state.Resource} is a function of the template`);
      assert.equal(typeof exported[fn.handler], 'function', `${name} runs ${fn.handler}, which the entry points export`);
    }
  });
}

test('asl-validator refuses a definition whose Choice leads nowhere (the check bites)', { timeout: 120_000 }, async () => {
  const machine = synthesizeStateMachine(await configWith({}));
  const broken = structuredClone(machine.definition);
  broken.States.StreamMayStart!.Default = 'NoSuchState';
  const verdict = validateDefinition(broken);
  assert.equal(verdict.isValid, false);
  assert.match(verdict.errors, /NoSuchState/);
});
