import type { ResolvedConfig } from '../config/resolved-config.js';
import { DynashiftError } from '../errors.js';
import { withClients } from '../aws/clients.js';
import { roleFor } from '../aws/errors.js';
import { differingAttributes } from '../core/equality.js';
import type { AttributeMap, KeySchema } from '../core/item.js';
import { ItemMapper } from '../core/transform.js';
import { inspectTable } from '../aws/inspect-table.js';
import { sinkKindOf } from '../sinks/drivers.js';
import { openStreamPosition } from '../sources/stream/open-position.js';
import { sdkStreamsApi } from '../sources/stream/streams-api.js';
import { skipToTip } from '../sources/stream/skip-to-tip.js';
import type { StreamState } from '../state/migration-state.js';

/**
 * Everything rollback needs, checked before writes move: an inverse transform that undoes the transform exactly, a
 * single source, and DynamoDB targets whose streams carry new and old images. Returns the reverse stream positions at
 * the targets' stream tips as of now: after every write dynashift made to the targets so far, before any application
 * write (the operator switches writers only once `cutover writes` answered).
 */
export async function prepareReverse(config: ResolvedConfig, samples: AttributeMap[], mapper: ItemMapper): Promise<Record<string, StreamState>> {
  const refuse = (message: string, hint: string) => new DynashiftError('CUTOVER_REFUSED', message, { hint, exitCode: 2 });
  if (!config.inverseTransform) {
    throw refuse(
      "rollback needs an inverse transform (target item → source item) to keep the old table current from the target's stream",
      'set "inverseTransform" in the config, or cut over without a way back: `dynashift cutover writes --no-reverse`',
    );
  }
  const sourceNames = Object.keys(config.sources);
  if (sourceNames.length !== 1) throw refuse('reverse replication into several merged sources is not supported', 'cut over with --no-reverse');
  const targetNames = Object.keys(config.targets);
  if (targetNames.length !== 1) {
    throw refuse(
      'the transform splits items into several targets, so one target item cannot rebuild a source item: it is not invertible',
      'cut over with --no-reverse',
    );
  }
  const sourceName = sourceNames[0]!;
  const targetName = targetNames[0]!;
  const inverse = reverseMapper(config, mapper.keySchemaOf(targetName)!, await sourceKeySchema(config));
  for (const item of samples) {
    const forward = mapper.map(sourceName, item);
    if (forward.length > 1) throw refuse('the transform turns one item into several, so it is not invertible', 'cut over with --no-reverse');
    if (forward.length === 0) continue; // filtered out: not in the target, nothing to rebuild
    const back = inverse.map(targetName, forward[0]!.item);
    const diff = back.length === 1 ? differingAttributes(item, back[0]!.item) : ['(item count)'];
    if (diff.length > 0) {
      throw refuse(
        `the inverse transform does not rebuild source items exactly (first mismatch on attributes ${diff.join(', ')} of ${JSON.stringify(forward[0]!.key)}): e.g. attributes the transform drops can't come back`,
        'fix inverseTransform so that inverse(transform(item)) equals item, or cut over with --no-reverse',
      );
    }
  }
  const positions: Record<string, StreamState> = {};
  for (const [name, target] of Object.entries(config.targets)) {
    if (!sinkKindOf(target).capabilities.changeStream)
      throw refuse(`target ${name} (${target.table}) has no change stream to replicate back from`, 'cut over with --no-reverse');
    positions[name] = await withClients(target, roleFor('target', name, target), async (clients) => {
      const info = await inspectTable(clients.dynamodb, target.table);
      if (!info.stream.enabled || info.stream.viewType !== 'NEW_AND_OLD_IMAGES') {
        throw refuse(
          `target table ${target.table} needs a NEW_AND_OLD_IMAGES stream for reverse replication (it has ${info.stream.enabled ? info.stream.viewType : 'none'})`,
          `enable it: aws dynamodb update-table --table-name ${target.table} --stream-specification StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES (or set target.create.streamViewType before the target is created)`,
        );
      }
      // The target's stream holds forward's own writes, among them the catch-up's replay of changes older than the
      // backfilled version (an item moved away and back). Replayed into the source they would roll items back and
      // delete them, so reverse replication starts after all of them.
      const since = Date.now();
      const api = sdkStreamsApi(clients.streams);
      const position = await openStreamPosition(api, info.stream.arn!, info.stream.viewType, since);
      await skipToTip({ api, state: position, source: name, since, pollIntervalMs: config.stream.pollIntervalMs });
      return position;
    });
  }
  return positions;
}

/** The reverse direction's mapper: target items through the inverse transform into the single source. */
export function reverseMapper(config: ResolvedConfig, _targetKey: KeySchema, sourceKey: KeySchema): ItemMapper {
  const sourceName = Object.keys(config.sources)[0]!;
  return new ItemMapper({ transform: config.inverseTransform!, targets: { [sourceName]: sourceKey }, singleTarget: sourceName });
}

async function sourceKeySchema(config: ResolvedConfig): Promise<KeySchema> {
  const [name, ref] = Object.entries(config.sources)[0]!;
  const info = await withClients(ref, roleFor('source', name, ref), (c) => inspectTable(c.dynamodb, ref.table));
  return info.keySchema!;
}
