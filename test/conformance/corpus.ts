/** Where the kernel selftest's conformance traces live: vendored in `test/conformance/corpus/` (see its PROVENANCE.md). */
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const CONFORMANCE_DIR = resolve(import.meta.dirname, 'corpus');

export function conformanceTraces(): string[] {
  return readdirSync(CONFORMANCE_DIR)
    .filter((f) => f.endsWith('.jsonl'))
    .sort()
    .map((f) => join(CONFORMANCE_DIR, f));
}
