import type {
  DescribeStreamCommandInput,
  DescribeStreamCommandOutput,
  GetRecordsCommandInput,
  GetRecordsCommandOutput,
  GetShardIteratorCommandInput,
  GetShardIteratorCommandOutput,
} from '@aws-sdk/client-dynamodb-streams';
import { DescribeStreamCommand, DynamoDBStreamsClient, GetRecordsCommand, GetShardIteratorCommand } from '@aws-sdk/client-dynamodb-streams';

/**
 * The three DynamoDB Streams calls the reader uses. The real client implements it; so does the in-memory stream model
 * the tests use to exercise shard splits and closes, which DynamoDB Local never produces.
 */
export interface StreamsApi {
  describeStream(input: DescribeStreamCommandInput): Promise<Pick<DescribeStreamCommandOutput, 'StreamDescription'>>;
  getShardIterator(input: GetShardIteratorCommandInput): Promise<Pick<GetShardIteratorCommandOutput, 'ShardIterator'>>;
  getRecords(input: GetRecordsCommandInput): Promise<Pick<GetRecordsCommandOutput, 'Records' | 'NextShardIterator'>>;
}

export function sdkStreamsApi(client: DynamoDBStreamsClient): StreamsApi {
  return {
    describeStream: (input) => client.send(new DescribeStreamCommand(input)),
    getShardIterator: (input) => client.send(new GetShardIteratorCommand(input)),
    getRecords: (input) => client.send(new GetRecordsCommand(input)),
  };
}
