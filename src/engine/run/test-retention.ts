import type { TableClients } from '../../aws/clients.js';
import { ShortRetentionStreams } from '../../sources/stream/short-retention.js';
import { sdkStreamsApi, type StreamsApi } from '../../sources/stream/streams-api.js';
import type { SourceState } from '../../state/migration-state.js';

/**
 * TEST ONLY (RunOptions.testStreamRetentionMs): per source, a streams API whose records live `retentionMs` instead of
 * 24 h (sources/stream/short-retention.ts), so a test can outlast the retention in seconds. Forward replication reads
 * through it; the runbook starts and stops its trimming with the run.
 */
export class TestRetention {
  private readonly apis: Record<string, ShortRetentionStreams> = {};

  constructor(
    readonly retentionMs: number,
    sources: Record<string, SourceState>,
    clients: Record<string, TableClients>,
  ) {
    for (const [name, src] of Object.entries(sources)) {
      if (src.stream.streamArn !== '')
        this.apis[name] = new ShortRetentionStreams(sdkStreamsApi(clients[name]!.streams), src.stream.streamArn, retentionMs);
    }
  }

  api(source: string): StreamsApi | undefined {
    return this.apis[source];
  }

  start(): void {
    for (const api of Object.values(this.apis)) api.start();
  }

  stop(): void {
    for (const api of Object.values(this.apis)) api.stop();
  }
}
