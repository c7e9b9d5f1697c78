/** `npm run schema`: regenerates docs/trace-format.schema.json from the tables in this folder. */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { traceJsonSchemaText } from './schema.ts';

const path = resolve(import.meta.dirname, '../docs/trace-format.schema.json');
writeFileSync(path, traceJsonSchemaText());
console.log(`wrote ${path}`);
