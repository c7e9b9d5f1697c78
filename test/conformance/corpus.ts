/** Where the kernel selftest's conformance traces live: `../shared/conformance` beside the project. */
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const CONFORMANCE_DIR = resolve(import.meta.dirname, '../../../shared/conformance');

export function conformanceTraces(): string[] {
  return readdirSync(CONFORMANCE_DIR)
    .filter((f) => f.endsWith('.jsonl'))
    .sort()
    .map((f) => join(CONFORMANCE_DIR, f));
}
