/** Regenerates docs/kernel-versions.md from the change table (src/kernel/changes.ts). */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { kernelVersionsDoc } from './doc.ts';

const path = resolve(import.meta.dirname, '../../docs/kernel-versions.md');
writeFileSync(path, kernelVersionsDoc());
console.log(`wrote ${path}`);
