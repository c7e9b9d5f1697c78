/**
 * The package's own version, read from its package.json: one level up from `src/` when run
 * from source, two from `dist/src/` when built.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';

export function packageVersion(): string {
  for (const up of ['..', '../..']) {
    const file = resolve(import.meta.dirname, up, 'package.json');
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown };
    if (pkg.name === 'iommufd-model' && typeof pkg.version === 'string') return pkg.version;
  }
  return 'unknown';
}
