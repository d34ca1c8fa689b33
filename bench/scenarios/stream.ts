/**
 * Stream apply: per run, a fresh DynamoDB Local whose source stream holds a backlog of changes (new items,
 * overwrites, deletes). dynashift (`run --until-synced`) back-fills the table's final state, then applies the whole
 * backlog (all of it is younger than its snapshot margin); only that stream phase is timed, from its "applying the
 * source stream" line to "in sync". The minimal reader+writer drains the same stream into a table pre-filled with the
 * same final state (untimed), so both replay onto the same contents. The first contender rotates from run to run.
 *
 * (The stream-only mode, backfill strategy "none", is refused by `plan` unless every item carries a TTL.)
 */
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { localClientConfig } from '../../src/local/dynamodb-local.js';
import { minimalDrain } from '../contenders/minimal-stream.js';
import { countItems, createTable } from '../lib/local.js';
import { minimalCopy } from '../contenders/minimal-copier.js';
import { rotate, warmUp, withLocal, type Ctx } from './common.js';
import { writeBacklog } from './common.js';
import { fmt } from './backfill.js';
import { dynashiftDrain, type DynashiftDrain } from './dynashift-runs.js';
import { withoutSdkLogging } from '../../src/aws/sdk-logging.js';
import type { CpuSplit } from '../lib/proc.js';

export interface StreamRun {
  run: number;
  order: string[];
  backlogWrites: number;
  dynashift: DynashiftDrain;
  minimal: { records: number; seconds: number; recordsPerSecond: number; cpu: CpuSplit };
  targetsMatch: boolean;
}

export async function streamRun(ctx: Ctx, run: number): Promise<StreamRun> {
  const { o } = ctx;
  return withLocal(ctx, `stream run ${run + 1}/${o.streamRuns}`, async (local, sampler) => {
    await warmUp(local, { streams: true });
    await createTable(local.client, 'source', 'NEW_AND_OLD_IMAGES');
    const t = Date.now();
    const writes = await writeBacklog(local.client, 'source', o.seed, o.streamRecords);
    ctx.log(`    backlog of ${writes.toLocaleString('en-US')} changes written in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    const arn = (await local.client.send(new DescribeTableCommand({ TableName: 'source' }))).Table!.LatestStreamArn!;
    const order = rotate(['dynashift', 'minimal'], run);
    const result: Partial<StreamRun> = { run, order, backlogWrites: writes };
    for (const who of order) {
      if (who === 'dynashift') {
        result.dynashift = await dynashiftDrain(ctx, local, sampler, { source: 'source', target: 'target_dynashift', settings: o.dynashift });
        ctx.log(
          `    dynashift      ${fmt(result.dynashift.recordsPerSecond)} records/s  (${result.dynashift.records} records, ${result.dynashift.seconds.toFixed(1)} s)`,
        );
      } else {
        const streams = withoutSdkLogging(new DynamoDBStreamsClient(localClientConfig(local.endpoint)));
        await createTable(local.client, 'target_minimal');
        await minimalCopy(local.client, 'source', 'target_minimal', { segments: 4, writeConcurrency: 16, pageSize: 1000 });
        const t0 = Date.now();
        const records = await minimalDrain(local.client, streams, arn, 'target_minimal', { writeConcurrency: o.minimalWriteConcurrency });
        const t1 = Date.now();
        streams.destroy();
        const seconds = (t1 - t0) / 1000;
        result.minimal = { records, seconds, recordsPerSecond: records / seconds, cpu: sampler.split(t0, t1) };
        ctx.log(`    minimal        ${fmt(result.minimal.recordsPerSecond)} records/s  (${records} records, ${seconds.toFixed(1)} s)`);
      }
    }
    const [a, b] = await Promise.all([countItems(local.client, 'target_dynashift'), countItems(local.client, 'target_minimal')]);
    result.targetsMatch = a === b && result.dynashift!.records === result.minimal!.records;
    if (!result.targetsMatch)
      ctx.log(
        `    ! targets differ: dynashift ${a} items / ${result.dynashift!.records} records, minimal ${b} items / ${result.minimal!.records} records`,
      );
    return result as StreamRun;
  });
}
