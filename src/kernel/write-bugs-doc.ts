/** Regenerates docs/release-bugs.md from the table of release bugs (src/kernel/release-bugs.ts). */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { releaseBugsDoc } from './bugs-doc.ts';

const path = resolve(import.meta.dirname, '../../docs/release-bugs.md');
writeFileSync(path, releaseBugsDoc());
console.log(`wrote ${path}`);
