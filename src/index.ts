/**
 * dynashift's public API: the config helper and types for `dynashift.config.ts`, and the engine's building blocks
 * for runners other than the CLI.
 */
export { defineMigration, type MigrationDefinition } from './config/define.js';
export type { Item, Transform, TransformContext, TransformOutput } from './core/transform.js';
export { loadConfig } from './config/load-config.js';
export type { ResolvedConfig } from './config/resolved-config.js';
export { runMigration, type RunOptions, type RunResult } from './engine/migration.js';
export { buildPlan, type Plan } from './engine/plan.js';
export { runVerify } from './engine/verify/run-verify.js';
export type { VerifyOptions, VerifyResult } from './engine/verify/types.js';
export { changeWrites, backfillWrites, type MappedWrites } from './core/protocol.js';
export { ItemMapper } from './core/transform.js';
export type { ChangeRecord, ChangePage } from './core/change.js';
export type { WriteOp } from './core/write-op.js';
export type { Sink, SinkCapabilities, RejectedWrite } from './sinks/sink.js';
export type { BackfillSource, BackfillPage } from './sources/source.js';
export type { StateStore, DeadLetterEntry } from './state/state-store.js';
export { DynashiftError, PlanRefusedError, StreamGapError, type ErrorCode } from './errors.js';
