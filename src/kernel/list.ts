/**
 * `--kernel list`: the releases the model has a profile for, each with the number of rows of the
 * change table it brought and the commit of its tag.
 */
import { CHANGES } from './changes.ts';
import { FIRST, NEWEST, RELEASES } from './releases.ts';

/** The rows each release brought, by release name. */
export function rowsPerRelease(): ReadonlyMap<string, number> {
  const counts = new Map<string, number>(RELEASES.map((r) => [r.name, 0]));
  for (const c of CHANGES) counts.set(c.release, (counts.get(c.release) ?? 0) + 1);
  return counts;
}

export function kernelList(): string {
  const counts = rowsPerRelease();
  const lines = ['release  rows  tag', ...RELEASES.map((r) => `${r.name.padEnd(7)}  ${String(counts.get(r.name) ?? 0).padStart(4)}  ${r.tag}`)];
  lines.push(`${CHANGES.length} rows over ${RELEASES.length} releases; a trace without env.kernel is judged as ${NEWEST}, one before ${FIRST} has no /dev/iommu`);
  return `${lines.join('\n')}\n`;
}
