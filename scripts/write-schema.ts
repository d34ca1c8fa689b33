// Writes schema/dynashift.schema.json (for editors: "$schema": "./node_modules/dynashift/schema/dynashift.schema.json")
// from the same zod schema the loader validates with, so the two can't drift.
import { writeFileSync } from 'node:fs';
import { z } from 'zod';
import { jsonConfigSchema } from '../src/config/schema.js';

const schema = {
  ...z.toJSONSchema(jsonConfigSchema, { target: 'draft-7', unrepresentable: 'any' }),
  $id: 'https://github.com/dynashift/dynashift/schema/dynashift.schema.json',
  title: 'dynashift migration config',
};
writeFileSync(new URL('../schema/dynashift.schema.json', import.meta.url), `${JSON.stringify(schema, null, 2)}\n`);
console.log('wrote schema/dynashift.schema.json');
