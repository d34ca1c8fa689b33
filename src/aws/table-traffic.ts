import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { TableRefConfig } from '../config/schema.js';
import { regionProvider, tagErrorsWith } from './clients.js';
import type { ClientRole } from './errors.js';
import { withoutSdkLogging } from './sdk-logging.js';

/** The one CloudWatch call dynashift makes; tests stub it (DynamoDB Local has no CloudWatch). */
export interface MetricsClient {
  consumedCapacity(table: string, start: Date, end: Date): Promise<TrafficPoint[]>;
  /** Closes the SDK client's sockets; the caller that asked for this client calls it once done. */
  destroy?(): void;
}

export interface TrafficPoint {
  at: string;
  readUnits: number;
  writeUnits: number;
}

/** The CloudWatch SDK is loaded on the first query: most runs never ask (DynamoDB Local, an explicit rate). */
export function cloudWatchMetrics(ref: TableRefConfig, credentials?: CloudWatchClient['config']['credentials']): MetricsClient {
  const role: ClientRole = { side: 'source', setting: 'source', table: ref.table };
  let sdk: Promise<{ client: CloudWatchClient; GetMetricDataCommand: typeof import('@aws-sdk/client-cloudwatch').GetMetricDataCommand }> | undefined;
  const load = () =>
    (sdk ??= import('@aws-sdk/client-cloudwatch').then(({ CloudWatchClient, GetMetricDataCommand }) => ({
      client: tagErrorsWith(
        withoutSdkLogging(new CloudWatchClient({ region: regionProvider(ref, role), ...(credentials ? { credentials } : {}) })),
        role,
      ),
      GetMetricDataCommand,
    })));
  return {
    async consumedCapacity(table, start, end) {
      const { client, GetMetricDataCommand } = await load();
      const query = (id: string, metric: string) => ({
        Id: id,
        MetricStat: {
          Metric: { Namespace: 'AWS/DynamoDB', MetricName: metric, Dimensions: [{ Name: 'TableName', Value: table }] },
          Period: 60,
          Stat: 'Sum',
        },
      });
      const byTime = new Map<string, TrafficPoint>();
      let nextToken: string | undefined;
      do {
        const res = await client.send(
          new GetMetricDataCommand({
            StartTime: start,
            EndTime: end,
            NextToken: nextToken,
            MetricDataQueries: [query('reads', 'ConsumedReadCapacityUnits'), query('writes', 'ConsumedWriteCapacityUnits')],
          }),
        );
        for (const r of res.MetricDataResults ?? []) {
          (r.Timestamps ?? []).forEach((t, i) => {
            const at = t.toISOString();
            const p = byTime.get(at) ?? { at, readUnits: 0, writeUnits: 0 };
            if (r.Id === 'reads') p.readUnits += r.Values?.[i] ?? 0;
            else p.writeUnits += r.Values?.[i] ?? 0;
            byTime.set(at, p);
          });
        }
        nextToken = res.NextToken;
      } while (nextToken);
      return [...byTime.values()].sort((a, b) => a.at.localeCompare(b.at));
    },
    destroy: () =>
      void sdk?.then(
        ({ client }) => client.destroy(),
        () => {},
      ),
  };
}
