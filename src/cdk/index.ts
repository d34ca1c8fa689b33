/**
 * The AWS deployment of a dynashift migration as a CDK construct. Import it from your CDK app; aws-cdk-lib and
 * constructs are peer dependencies of this entry point only (the rest of dynashift never loads them).
 */
export {
  DynashiftMigration,
  type DynashiftMigrationProps,
  type DynashiftSourceProps,
  type DynashiftTableProps,
  type DynashiftTargetProps,
} from './dynashift-migration.js';
export { BackfillStateMachine } from './backfill-state-machine.js';
export { MigrationAlarms } from './alarms.js';
export { synthesizeMigration, type SynthOptions, type SynthResult } from './synth.js';
