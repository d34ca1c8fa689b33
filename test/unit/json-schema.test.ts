import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { jsonConfigSchema } from '../../src/config/schema.js';

test('the committed JSON Schema matches the config validator (run `npm run schema` after changing the config)', () => {
  const committed = JSON.parse(readFileSync(new URL('../../schema/dynashift.schema.json', import.meta.url), 'utf8'));
  const fresh = z.toJSONSchema(jsonConfigSchema, { target: 'draft-7', unrepresentable: 'any' }) as Record<string, unknown>;
  assert.deepEqual(committed.properties, fresh.properties);
  assert.deepEqual(committed.required ?? [], fresh.required ?? []);
  assert.equal(committed.additionalProperties, false, 'unknown fields must be rejected by editors too');
});
