import type { NativeAttributeValue } from '@aws-sdk/util-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { AttributeMap, KeySchema } from './item.js';
import { attributeType, extractKey, keyAttributeNames, keyId } from './item.js';

/**
 * An item as the transform sees it: plain JS values, with numbers as `NumberValue` (exact decimal strings — call
 * `.toString()`; never coerce to a JS number), binary as Uint8Array and sets as Set.
 */
export type Item = Record<string, NativeAttributeValue>;

export interface TransformContext {
  /** Name of the source the item comes from ('source' for a single-source migration). */
  source: string;
}

/**
 * One target: an item, several items, or null (or an empty list) to drop it. `undefined` is not a way to drop an item:
 * it is what a forgotten `return` produces, so it is rejected as TRANSFORM_OUTPUT_INVALID.
 */
export type TransformOutput = Item | Item[] | null;

/**
 * `item → item | item[] | null`. With several targets (`targets:` in the config) return an object keyed by target
 * name instead, e.g. `{ orders: item, lines: item.lines.map(...) }`; targets left out get nothing.
 */
export type Transform = (item: Item, ctx: TransformContext) => TransformOutput | Record<string, TransformOutput>;

export interface RoutedItem {
  target: string;
  item: AttributeMap;
  key: AttributeMap;
  keyId: string;
}

/** Why an item could not be mapped: a transform that threw, or an output the target can't take. */
export class MappingError extends Error {
  override readonly name = 'MappingError';
  readonly hint: string | undefined;
  constructor(
    readonly code: 'TRANSFORM_FAILED' | 'TRANSFORM_OUTPUT_INVALID' | 'TARGET_KEY_MISSING' | 'STREAM_RECORD_INCOMPLETE',
    message: string,
    options?: { cause?: unknown; hint?: string },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.hint = options?.hint;
  }
}

export interface ItemMapperOptions {
  transform?: Transform;
  /** Key schema of every target, by target name. */
  targets: Record<string, KeySchema>;
  /** Set when the config has a single `target:` — then the transform returns items, not a per-target object. */
  singleTarget?: string;
}

/** Applies the transform and routes its output to targets. Pure: no I/O, same code in the CLI and in Lambda. */
export class ItemMapper {
  private readonly targetNames: string[];

  constructor(private readonly opts: ItemMapperOptions) {
    this.targetNames = Object.keys(opts.targets);
    if (!opts.transform && !opts.singleTarget) {
      throw new Error('several targets need a transform that routes items to them');
    }
  }

  get hasTransform(): boolean {
    return this.opts.transform !== undefined;
  }

  /**
   * Whether a change of the item with this source key can move it to another target key (engine/targets.ts
   * keyCanMove, for one item): always with a transform; without one, when a target key attribute is not a source key
   * attribute. When it can't, the record's keys alone name the target item (a REMOVE needs no old image).
   */
  keyCanMove(sourceKey: AttributeMap): boolean {
    if (this.opts.transform) return true;
    return Object.values(this.opts.targets).some((schema) => keyAttributeNames(schema).some((n) => !(n in sourceKey)));
  }

  keySchemaOf(target: string): KeySchema | undefined {
    return this.opts.targets[target];
  }

  map(source: string, item: AttributeMap): RoutedItem[] {
    const { transform, singleTarget } = this.opts;
    if (!transform) return [this.route(singleTarget!, item)];

    let output: ReturnType<Transform>;
    try {
      output = transform(unmarshall(item, { wrapNumbers: true }) as Item, { source });
    } catch (err) {
      throw new MappingError('TRANSFORM_FAILED', `transform threw: ${describe(err)}`, { cause: err });
    }
    if (output instanceof Promise) {
      throw new MappingError('TRANSFORM_OUTPUT_INVALID', 'transform returned a Promise; it must be synchronous');
    }
    const routed: RoutedItem[] = [];
    if (singleTarget) {
      for (const out of asList(output as TransformOutput)) routed.push(this.route(singleTarget, this.toWire(out)));
      return routed;
    }
    if (output === undefined) throw undefinedOutput('');
    if (output === null) return routed;
    if (typeof output !== 'object' || Array.isArray(output)) {
      throw new MappingError(
        'TRANSFORM_OUTPUT_INVALID',
        `with several targets the transform must return an object keyed by target name (${this.targetNames.join(', ')})`,
      );
    }
    for (const [target, out] of Object.entries(output as Record<string, TransformOutput>)) {
      if (!(target in this.opts.targets)) {
        throw new MappingError(
          'TRANSFORM_OUTPUT_INVALID',
          `transform routed an item to unknown target "${target}"; targets are: ${this.targetNames.join(', ')}`,
        );
      }
      if (out === undefined) throw undefinedOutput(` for target "${target}"`);
      for (const one of asList(out)) routed.push(this.route(target, this.toWire(one)));
    }
    return routed;
  }

  private toWire(item: Item): AttributeMap {
    if (item === undefined) throw undefinedOutput(' in a list');
    if (typeof item !== 'object' || item === null || Array.isArray(item) || item instanceof Set || item instanceof Uint8Array) {
      throw new MappingError(
        'TRANSFORM_OUTPUT_INVALID',
        `transform returned ${kindOf(item)} where an item object was expected; return null (not inside a list) to leave an item out`,
      );
    }
    try {
      return marshall(item, { removeUndefinedValues: true }) as AttributeMap;
    } catch (err) {
      throw new MappingError('TRANSFORM_OUTPUT_INVALID', `transform output is not a valid DynamoDB item: ${describe(err)}`, { cause: err });
    }
  }

  private route(target: string, item: AttributeMap): RoutedItem {
    const schema = this.opts.targets[target]!;
    const key = extractKey(item, schema);
    if (!key) {
      const missing = keyAttributeNames(schema).filter((n) => !(n in item));
      throw new MappingError('TARGET_KEY_MISSING', `item for target "${target}" lacks key attribute ${missing.join(', ')}`);
    }
    for (const attr of [schema.partitionKey, schema.sortKey]) {
      if (!attr) continue;
      const actual = attributeType(key[attr.name]!);
      if (actual !== attr.type) {
        throw new MappingError(
          'TARGET_KEY_MISSING',
          `item for target "${target}" has key attribute ${attr.name} of type ${actual}; the target expects ${attr.type}`,
        );
      }
    }
    return { target, item, key, keyId: keyId(key, schema) };
  }
}

function asList(out: TransformOutput | undefined): Item[] {
  if (out === undefined) throw undefinedOutput('');
  if (out === null) return [];
  return Array.isArray(out) ? out : [out];
}

/** Only null leaves an item out; undefined is almost always a transform that forgot to `return`. */
function undefinedOutput(where: string): MappingError {
  return new MappingError(
    'TRANSFORM_OUTPUT_INVALID',
    `transform returned undefined${where} (a missing \`return\`?); return the item, a list of items, or null to leave it out`,
  );
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a nested array';
  if (value instanceof Set) return 'a Set';
  if (value instanceof Uint8Array) return 'binary';
  return typeof value === 'object' ? 'an object' : `a ${typeof value} (${JSON.stringify(value)})`;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
