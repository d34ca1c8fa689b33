/**
 * Runs the REAL synthesized backfill state machine (the Amazon States Language that `dynashift deploy --synth` puts in
 * the template) with aws-local-stepfunctions, an ASL interpreter, in this process:
 *
 * - the definition comes from `synthesizeMigration` (src/cdk/synth.ts), its CloudFormation tokens resolved to fake
 *   ARNs (`resolveDefinition`), and is checked with asl-validator first (`validateDefinition`);
 * - every Lambda task (a function ARN, or `arn:aws:states:::lambda:invoke`) runs the export its function's `Handler`
 *   in the template names (`index.backfillSegment` → `handlers.backfillSegment`), with a Lambda-like context whose
 *   remaining time counts down from the function's timeout; past it, the task fails with `Sandbox.Timedout`, as Lambda
 *   reports it. Errors reach Retry/Catch under their `name`, as Lambda's Node.js runtime reports `errorType`;
 * - `arn:aws:states:::aws-sdk:lambda:updateEventSourceMapping` (which the interpreter cannot call) runs `enableMapping`
 *   with the mapping the `Uuid` names, so the test starts its stream driver exactly where the definition enables it;
 *   other SDK integrations must be given in `sdk` (`"<service>:<action>"`), or the run refuses;
 * - a Distributed Map's `ItemReader` (which the interpreter ignores: it would map over the state input) is emulated
 *   by the harness: `s3:getObject` (ReaderConfig.InputType JSON or JSONL, MaxItems) and `s3:listObjectsV2` through the
 *   `s3` client given, or by a reader in `itemReaders` (by Map state name);
 * - every task input and result is held to Step Functions' 256 KiB payload limit (`States.DataLimitExceeded`), which
 *   the interpreter does not enforce.
 *
 * What the interpreter runs differently from Step Functions, and how the tests cover it, is listed by
 * `interpreterGaps(definition)` and in docs/aws.md ("How it is tested"). In short: a DISTRIBUTED Map's children run as
 * inline iterations of one execution (not child executions), `Label`, `ResultWriter` and `ProcessorConfig` are
 * ignored, `ToleratedFailurePercentage` must be 0 (the interpreter fails the Map on the first failed child), a Retry's
 * pause is time-compressed (`retryDelayMs`), IAM is not evaluated, and a Task without `TimeoutSeconds` gets the
 * interpreter's 60 s instead of none (the harness's Lambda timeout is the bound that matters).
 *
 * @example
 * const run = await runBackfillStateMachine({
 *   config,
 *   handlers: createBackfillTasks({ config, stateTable, stateClient }),
 *   enableMapping: () => startPolling(),
 *   lambdaTimeoutMs: 3_000,
 * });
 * run.output; run.invocations; run.events;
 */
import { randomUUID } from 'node:crypto';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import aslValidator from 'asl-validator';
import { StateMachine } from 'aws-local-stepfunctions';
import type { ResolvedConfig } from '../../src/config/resolved-config.js';
import { synthesizeMigration } from '../../src/cdk/synth.js';
import type { LambdaContext } from '../../src/runners/lambda/types.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
/** An execution event of the interpreter (its type is not exported by name). */
export type EventLog = ReturnType<StateMachine['run']>['eventLogs'] extends AsyncGenerator<infer E> ? E : never;
export type Json = any;
export type AslState = Record<string, Json>;
export interface AslDefinition {
  StartAt: string;
  States: Record<string, AslState>;
  TimeoutSeconds?: number;
  Comment?: string;
  [field: string]: Json;
}

/** A Lambda handler as the bundle exports it. */
export type LambdaHandler = (event: Json, context: LambdaContext) => Promise<Json>;

export interface TemplateFunction {
  logicalId: string;
  arn: string;
  /** The export the function runs: `index.backfillSegment` → `backfillSegment`. */
  handler: string;
  timeoutSeconds: number;
}

export interface TemplateMapping {
  logicalId: string;
  /** What `Ref` of the mapping resolves to (its UUID on AWS). */
  uuid: string;
  /** The config's source name whose stream it reads (the construct makes mapping i for the i-th source). */
  source?: string;
}

export interface SynthesizedMachine {
  template: Record<string, Json>;
  definition: AslDefinition;
  functions: TemplateFunction[];
  mappings: TemplateMapping[];
}

// aws-local-stepfunctions 3 declares Node >= 22 and uses Promise.withResolvers (Node 22); the rest of what it uses
// (AbortSignal.any, structuredClone) is in Node 20, which dynashift supports. The one missing function, for tests only:
const promiseStatics = Promise as unknown as { withResolvers?: () => unknown };
promiseStatics.withResolvers ??= () => {
  let resolve!: (v: unknown) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
};

const REGION = 'us-east-1';
const ACCOUNT = '123456789012';
/** Step Functions' payload limit for a state's input or output (and a task's result). */
export const PAYLOAD_LIMIT_BYTES = 256 * 1024;

/**
 * Synthesizes the stack for `config` exactly as `dynashift deploy --synth` does and extracts the state machine.
 * Targets with a custom `endpoint` (DynamoDB Local in tests) are synthesized without it: `deploy` refuses endpoints,
 * and nothing in the definition depends on where a table is reached.
 */
export function synthesizeStateMachine(config: ResolvedConfig, opts: { codePath?: string } = {}): SynthesizedMachine {
  const targets = Object.fromEntries(
    Object.entries(config.targets).map(([name, t]) => {
      const { endpoint: _endpoint, ...rest } = t as typeof t & { endpoint?: string };
      return [name, rest];
    }),
  ) as ResolvedConfig['targets'];
  const { template } = synthesizeMigration({ config: { ...config, targets }, ...(opts.codePath ? { codePath: opts.codePath } : {}) });
  return { template, ...resolveDefinition(template, Object.keys(config.sources)) };
}

/** The state machine of a synthesized template, its tokens replaced by fake ARNs/UUIDs, with its functions and mappings. */
export function resolveDefinition(template: Record<string, Json>, sourceNames: string[] = []): Omit<SynthesizedMachine, 'template'> {
  const resources = template.Resources as Record<string, { Type: string; Properties: Record<string, Json> }>;
  const functions: TemplateFunction[] = [];
  const mappings: TemplateMapping[] = [];
  for (const [logicalId, r] of Object.entries(resources)) {
    if (r.Type === 'AWS::Lambda::Function') {
      functions.push({
        logicalId,
        arn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${logicalId}`,
        handler: String(r.Properties.Handler).replace(/^[^.]*\./, ''),
        timeoutSeconds: Number(r.Properties.Timeout ?? 3),
      });
    } else if (r.Type === 'AWS::Lambda::EventSourceMapping') {
      const index = /StreamMapping(\d+)/.exec(logicalId)?.[1];
      const source = index !== undefined ? sourceNames[Number(index)] : undefined;
      mappings.push({ logicalId, uuid: `00000000-0000-4000-8000-${String(mappings.length + 1).padStart(12, '0')}`, ...(source ? { source } : {}) });
    }
  }
  const machines = Object.values(resources).filter((r) => r.Type === 'AWS::StepFunctions::StateMachine');
  if (machines.length !== 1) throw new Error(`expected one state machine in the template, found ${machines.length}`);
  const resolve = (token: Json): string => {
    if (typeof token === 'string') return token;
    if (token.Ref === 'AWS::Partition') return 'aws';
    if (token.Ref === 'AWS::Region') return REGION;
    if (token.Ref === 'AWS::AccountId') return ACCOUNT;
    if (token.Ref === 'AWS::URLSuffix') return 'amazonaws.com';
    const mapping = mappings.find((m) => m.logicalId === token.Ref);
    if (mapping) return mapping.uuid;
    const getAtt = token['Fn::GetAtt'] as [string, string] | undefined;
    const fn = getAtt && getAtt[1] === 'Arn' ? functions.find((f) => f.logicalId === getAtt[0]) : undefined;
    if (fn) return fn.arn;
    throw new Error(`the definition holds a token the harness cannot resolve: ${JSON.stringify(token)}`);
  };
  const body = machines[0]!.Properties.DefinitionString as Json;
  const text = typeof body === 'string' ? body : (body['Fn::Join'] as [string, Json[]])[1].map(resolve).join('');
  return { definition: JSON.parse(text) as AslDefinition, functions, mappings };
}

/** asl-validator's verdict on the definition (JSONPaths and Task ARNs checked too). */
export function validateDefinition(definition: AslDefinition): { isValid: boolean; errors: string } {
  // asl-validator writes QueryLanguage into every state it checks: give it a copy.
  const { isValid, errorsText } = aslValidator(structuredClone(definition), { checkPaths: true, checkArn: true });
  return { isValid, errors: isValid ? '' : errorsText('\n') };
}

/** Every state of the definition, nested Map/Parallel states included, with the path of states that leads to it. */
export function allStates(
  definition: { States: Record<string, AslState> },
  path: string[] = [],
): { name: string; path: string[]; state: AslState }[] {
  const out: { name: string; path: string[]; state: AslState }[] = [];
  for (const [name, state] of Object.entries(definition.States)) {
    out.push({ name, path, state });
    const inner = state.ItemProcessor ?? state.Iterator;
    if (inner) out.push(...allStates(inner, [...path, name]));
    for (const branch of state.Branches ?? []) out.push(...allStates(branch, [...path, name]));
  }
  return out;
}

/**
 * What the definition uses that aws-local-stepfunctions (3.x) does not run as Step Functions would, one line each, so a
 * test can state (and assert) exactly what its run leaves out. Refused outright by `runBackfillStateMachine`: JSONata,
 * variables (`Assign`), `ItemBatcher`, a nonzero tolerated failure, and an ItemReader without a reader.
 */
export function interpreterGaps(definition: AslDefinition): string[] {
  const gaps: string[] = [];
  if (definition.QueryLanguage === 'JSONata') gaps.push('QueryLanguage JSONata: not supported (refused)');
  for (const { name, state } of allStates(definition)) {
    if (state.QueryLanguage === 'JSONata') gaps.push(`${name}: QueryLanguage JSONata: not supported (refused)`);
    if (state.Assign) gaps.push(`${name}: Assign (variables): not supported (refused)`);
    if (state.Type === 'Map') {
      const cfg = state.ItemProcessor?.ProcessorConfig;
      if (cfg?.Mode === 'DISTRIBUTED') {
        gaps.push(
          `${name}: ProcessorConfig ${JSON.stringify(cfg)} ignored: the children run as inline iterations of one execution, not as ${cfg.ExecutionType ?? 'STANDARD'} child executions`,
        );
      }
      if (state.Label !== undefined) gaps.push(`${name}: Label ignored (names the Map Run)`);
      if (state.ItemReader) gaps.push(`${name}: ItemReader ${state.ItemReader.Resource} not run by the interpreter: emulated by the harness`);
      if (state.ItemBatcher) gaps.push(`${name}: ItemBatcher: not supported (refused)`);
      if (state.ResultWriter) gaps.push(`${name}: ResultWriter ignored: the child results are not written to S3`);
      const tolerated = state.ToleratedFailurePercentage ?? state.ToleratedFailureCount;
      if (tolerated !== undefined) gaps.push(`${name}: ToleratedFailure ${tolerated} ignored: the first failed child fails the Map`);
    }
    if (state.Type === 'Task') {
      if (state.Credentials) gaps.push(`${name}: Credentials ignored`);
      if (state.HeartbeatSeconds !== undefined) gaps.push(`${name}: HeartbeatSeconds ignored`);
      if (state.TimeoutSeconds === undefined && state.TimeoutSecondsPath === undefined) {
        gaps.push(
          `${name}: no TimeoutSeconds: the interpreter times the task out after 60 s (Step Functions: never); the harness bounds it by the function's timeout`,
        );
      }
      const resource = String(state.Resource);
      if (resource.includes(':::aws-sdk:')) gaps.push(`${name}: SDK integration ${resource.replace(/^.*aws-sdk:/, '')}: emulated by the harness`);
    }
    if (state.Retry) gaps.push(`${name}: Retry pauses time-compressed (retryDelayMs), not IntervalSeconds × BackoffRate^n`);
  }
  return gaps;
}

/** One Lambda task invocation, as the harness saw it. */
export interface TaskInvocation {
  /** The Task state's name (inside a Map too) and the handler export it ran. */
  state: string;
  handler: string;
  requestId: string;
  event: Json;
  ok: boolean;
  /** The error's name (what Retry/Catch matched) when it failed. */
  error?: string;
  ms: number;
}

export interface InterceptedInvocation {
  state: string;
  handler: string;
  event: Json;
  context: LambdaContext & { awsRequestId: string; getRemainingTimeInMillis(): number };
}

export interface RunOptions {
  config: ResolvedConfig;
  /** The real handlers by export name (what the bundle's index exports): e.g. `createBackfillTasks({...})`. */
  handlers: Record<string, LambdaHandler | undefined>;
  /** The SDK integration `lambda:updateEventSourceMapping` with `Enabled: true`: start delivering that mapping. */
  enableMapping?: (mapping: TemplateMapping) => void | Promise<void>;
  /** Other SDK integrations, by `"<service>:<action>"`, given the task's Parameters. */
  sdk?: Record<string, (parameters: Json) => Promise<Json>>;
  /** Readers for a Map's ItemReader, by Map state name; default: s3:getObject / s3:listObjectsV2 through `s3`. */
  itemReaders?: Record<string, (itemReader: Json, mapInput: Json) => Promise<Json[]>>;
  s3?: S3Client;
  /**
   * Wraps every Lambda task invocation: call `invoke()` to run the real handler, or don't (a crash), or run another
   * container's handler. Throw an error whose `name` is what Lambda would report (e.g. `Lambda.Unknown` for a killed
   * runtime) to fail the task.
   */
  intercept?: (inv: InterceptedInvocation, invoke: () => Promise<Json>) => Promise<Json>;
  /** Each function's timeout, in ms; default the template's `Timeout`. A tiny one keeps a killed invocation's lease short. */
  lambdaTimeoutMs?: number | ((fn: TemplateFunction) => number);
  /**
   * The pause before a Retry, by state and retrier; default IntervalSeconds / 30 (time compressed, no backoff), at
   * most 1 s. A lease-guarded retry must still outlast the lease: keep MaxAttempts × pause above it.
   */
  retryDelayMs?: (state: string, retrier: Json) => number;
  /** The execution input (Step Functions: whatever `start-execution` is given). Default `{}`. */
  input?: Json;
  /** The definition to run instead of synthesizing one from `config` (e.g. to check a deliberately broken one). */
  machine?: SynthesizedMachine;
}

export interface RunResult {
  machine: SynthesizedMachine;
  /** The execution's output; undefined when it failed (then `error` is set). */
  output?: Json;
  error?: { name: string; message: string };
  events: EventLog[];
  invocations: TaskInvocation[];
  /** StateRetried events, by state name. */
  retries: Record<string, number>;
  /** The mappings the definition enabled, in order. */
  enabled: TemplateMapping[];
}

class LambdaError extends Error {
  constructor(
    override readonly name: string,
    message: string,
  ) {
    super(message);
  }
}

const bytes = (v: Json): number => Buffer.byteLength(JSON.stringify(v ?? null), 'utf8');

/**
 * Runs one execution of the synthesized state machine to its end and returns what happened. A failed execution
 * resolves with `error` set (the test asserts on it); a harness-level problem (an unmapped resource, an unsupported
 * field) throws.
 */
export async function runBackfillStateMachine(opts: RunOptions): Promise<RunResult> {
  const machine = opts.machine ?? synthesizeStateMachine(opts.config);
  const verdict = validateDefinition(machine.definition);
  if (!verdict.isValid) throw new Error(`the synthesized definition is not valid ASL:\n${verdict.errors}`);
  const refused = interpreterGaps(machine.definition).filter((g) => g.endsWith('(refused)'));
  if (refused.length > 0) throw new Error(`the interpreter cannot run this definition:\n${refused.join('\n')}`);

  const invocations: TaskInvocation[] = [];
  const enabled: TemplateMapping[] = [];
  const localHandlers: Record<string, (input: Json) => Promise<Json>> = {};
  const retryOverrides: Record<string, number[]> = {};
  const definition = structuredClone(machine.definition);

  const lambdaTask = (stateName: string, fn: TemplateFunction, wrapped: boolean) => async (input: Json) => {
    const event = wrapped ? input.Payload : input;
    const handler = opts.handlers[fn.handler];
    if (!handler) throw new Error(`state ${stateName} invokes ${fn.logicalId}, whose handler export "${fn.handler}" was not given to the harness`);
    if (bytes(event) > PAYLOAD_LIMIT_BYTES) throw new LambdaError('States.DataLimitExceeded', `${stateName}: input over 256 KiB`);
    const timeoutMs = typeof opts.lambdaTimeoutMs === 'function' ? opts.lambdaTimeoutMs(fn) : (opts.lambdaTimeoutMs ?? fn.timeoutSeconds * 1000);
    const started = Date.now();
    const requestId = randomUUID();
    const context = {
      awsRequestId: requestId,
      functionName: fn.logicalId,
      getRemainingTimeInMillis: () => Math.max(0, started + timeoutMs - Date.now()),
    };
    const record: TaskInvocation = { state: stateName, handler: fn.handler, requestId, event, ok: false, ms: 0 };
    invocations.push(record);
    const invoke = (): Promise<Json> => handler(structuredClone(event), context);
    let timer: NodeJS.Timeout | undefined;
    try {
      const result = await Promise.race([
        opts.intercept ? opts.intercept({ state: stateName, handler: fn.handler, event, context }, invoke) : invoke(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new LambdaError('Sandbox.Timedout', `${fn.logicalId}: Task timed out after ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
      // What Lambda returns is JSON: undefined becomes null, class instances lose their prototypes.
      const json = JSON.parse(JSON.stringify(result ?? null));
      if (bytes(json) > PAYLOAD_LIMIT_BYTES) throw new LambdaError('States.DataLimitExceeded', `${stateName}: result over 256 KiB`);
      record.ok = true;
      return wrapped ? { ExecutedVersion: '$LATEST', StatusCode: 200, Payload: json } : json;
    } catch (err) {
      const e = err as Error;
      record.error = e.name || 'Error';
      // Lambda's Node.js runtime reports errorType = error.name and errorMessage; nothing else crosses over.
      throw new LambdaError(record.error, e.message);
    } finally {
      clearTimeout(timer);
      record.ms = Date.now() - started;
    }
  };

  const sdkTask = (stateName: string, integration: string) => async (parameters: Json) => {
    const given = opts.sdk?.[integration];
    if (given) return given(parameters);
    if (integration === 'lambda:updateEventSourceMapping') {
      const mapping = machine.mappings.find((m) => m.uuid === parameters.Uuid);
      if (!mapping) throw new Error(`${stateName}: no mapping with UUID ${parameters.Uuid} in the template`);
      if (parameters.Enabled !== true)
        throw new Error(`${stateName}: the harness emulates enabling a mapping only, got ${JSON.stringify(parameters)}`);
      if (!opts.enableMapping) throw new Error(`${stateName} enables mapping ${mapping.logicalId}: give the harness enableMapping`);
      enabled.push(mapping);
      await opts.enableMapping(mapping);
      return { UUID: mapping.uuid, State: 'Enabling' };
    }
    throw new Error(`${stateName} calls the SDK integration ${integration}, which the harness does not emulate: pass it in sdk`);
  };

  for (const { name, state } of allStates(definition)) {
    if (state.Retry) {
      retryOverrides[name] = (state.Retry as Json[]).map((r) =>
        opts.retryDelayMs ? opts.retryDelayMs(name, r) : Math.min(1000, ((r.IntervalSeconds ?? 1) * 1000) / 30),
      );
    }
    if (state.Type === 'Task') {
      const resource = String(state.Resource);
      const fn = machine.functions.find((f) => f.arn === resource);
      if (fn) {
        localHandlers[name] = lambdaTask(name, fn, false);
      } else if (/^arn:aws:states:::lambda:invoke$/.test(resource)) {
        const target = machine.functions.find((f) => f.arn === state.Parameters?.FunctionName);
        if (!target) throw new Error(`state ${name}: lambda:invoke of an unknown function ${JSON.stringify(state.Parameters?.FunctionName)}`);
        localHandlers[name] = lambdaTask(name, target, true);
      } else if (resource.includes(':::aws-sdk:')) {
        localHandlers[name] = sdkTask(name, resource.replace(/^.*:::aws-sdk:/, ''));
      } else {
        throw new Error(`state ${name}: the harness cannot run the resource ${resource}`);
      }
    }
  }
  emulateItemReaders(definition, localHandlers, opts);

  const sm = new StateMachine(definition as Json, { validationOptions: { noValidate: true } });
  const execution = sm.run(opts.input ?? {}, {
    overrides: { taskResourceLocalHandlers: localHandlers, retryIntervalOverrides: retryOverrides },
  });
  const events: EventLog[] = [];
  const collecting = (async () => {
    for await (const e of execution.eventLogs) events.push(e);
  })();
  let output: Json;
  let error: RunResult['error'];
  try {
    output = await execution.result;
  } catch (err) {
    const cause = ((err as { cause?: unknown }).cause ?? err) as Error;
    error = { name: cause.name, message: cause.message };
  }
  await collecting;
  const retries: Record<string, number> = {};
  for (const e of events) if (e.type === 'StateRetried') retries[e.state.name] = (retries[e.state.name] ?? 0) + 1;
  return { machine, ...(error ? { error } : { output }), events, invocations, retries, enabled };
}

/**
 * A Map's ItemReader, emulated: a Task state inserted before the Map reads the items and hands the Map
 * `{ input, items }`; the Map iterates `$.items` and passes `$.input` on (its ResultPath must be null).
 */
function emulateItemReaders(
  definition: { States: Record<string, AslState> },
  handlers: Record<string, (input: Json) => Promise<Json>>,
  opts: RunOptions,
): void {
  for (const [name, state] of Object.entries(definition.States)) {
    const inner = state.ItemProcessor ?? state.Iterator;
    if (inner) emulateItemReaders(inner, handlers, opts);
    if (state.Type !== 'Map' || !state.ItemReader) continue;
    if (state.ResultPath !== null || state.OutputPath !== undefined || state.ItemSelector || state.ItemsPath) {
      throw new Error(`Map ${name}: the harness emulates an ItemReader only on a Map with ResultPath null, no OutputPath, ItemSelector or ItemsPath`);
    }
    const reader = state.ItemReader;
    const readerName = `${name} (ItemReader)`;
    handlers[readerName] = async (input: Json) => {
      const given = opts.itemReaders?.[name];
      const items = given ? await given(reader, input) : await readS3Items(name, reader, input, opts.s3);
      return { input, items };
    };
    // The inserted state takes the Map's place: whatever pointed at the Map now points at it.
    const renamed = `${name} (Map)`;
    definition.States[readerName] = { Type: 'Task', Resource: 'arn:aws:lambda:us-east-1:123456789012:function:harness-item-reader', Next: renamed };
    const { ItemReader: _reader, ...map } = state;
    definition.States[renamed] = { ...map, ItemsPath: '$.items', OutputPath: '$.input' };
    delete definition.States[name];
    const retarget = (states: Record<string, AslState>, from: string, to: string): void => {
      for (const s of Object.values(states)) {
        if (s.Next === from) s.Next = to;
        if (s.Default === from) s.Default = to;
        for (const c of s.Choices ?? []) if (c.Next === from) c.Next = to;
        for (const c of s.Catch ?? []) if (c.Next === from) c.Next = to;
      }
    };
    retarget(definition.States, name, readerName);
    if ((definition as AslDefinition).StartAt === name) (definition as AslDefinition).StartAt = readerName;
  }
}

/** `Bucket.$`-style parameters resolved against the state input (simple `$.a.b` paths only). */
function resolveParameters(parameters: Json, input: Json): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries(parameters ?? {})) {
    if (!k.endsWith('.$')) {
      out[k] = v;
      continue;
    }
    const path = String(v);
    if (!/^\$(\.[A-Za-z0-9_]+)*$/.test(path)) throw new Error(`ItemReader parameter ${k}: the harness resolves plain $.a.b paths only, got ${path}`);
    out[k.slice(0, -2)] = path
      .split('.')
      .slice(1)
      .reduce((o: Json, p) => o?.[p], input);
  }
  return out;
}

async function readS3Items(map: string, reader: Json, input: Json, s3: S3Client | undefined): Promise<Json[]> {
  if (!s3) throw new Error(`Map ${map} reads its items with ${reader.Resource}: give the harness an s3 client (or itemReaders.${map})`);
  const p = resolveParameters(reader.Parameters, input);
  const max: number | undefined = reader.ReaderConfig?.MaxItems;
  let items: Json[];
  if (String(reader.Resource).endsWith(':::s3:getObject')) {
    const res = await s3.send(new GetObjectCommand({ Bucket: p.Bucket, Key: p.Key }));
    const text = await res.Body!.transformToString('utf8');
    const type = reader.ReaderConfig?.InputType;
    if (type === 'JSON') items = JSON.parse(text) as Json[];
    else if (type === 'JSONL')
      items = text
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Json);
    else throw new Error(`Map ${map}: ItemReader InputType ${type} is not emulated (JSON and JSONL are)`);
  } else if (String(reader.Resource).endsWith(':::s3:listObjectsV2')) {
    items = [];
    let token: string | undefined;
    do {
      const res = await s3.send(new ListObjectsV2Command({ Bucket: p.Bucket, Prefix: p.Prefix, ContinuationToken: token }));
      for (const o of res.Contents ?? [])
        items.push({ Key: o.Key, Size: o.Size, Etag: o.ETag, LastModified: o.LastModified?.toISOString(), StorageClass: o.StorageClass });
      token = res.NextContinuationToken;
    } while (token);
  } else {
    throw new Error(`Map ${map}: ItemReader ${reader.Resource} is not emulated`);
  }
  return max !== undefined ? items.slice(0, max) : items;
}
