/**
 * What SPAPR TCE charges to `locked_vm`, where the kernel keeps it (spapr-state.ts): per
 * container, v1's ENABLE and its windows' tables, to the container's mm; per mm, each
 * pre-registered region once, and the table charges a failed CREATE left behind.
 */
import type { SpaprMm, SpaprTce } from './spapr-state.ts';

/** Pages a SPAPR TCE container has charged to its mm. */
export function containerPages(iommu: SpaprTce): bigint {
  let pages = iommu.enabled && !iommu.v2 ? iommu.lockedPages : 0n;
  for (const table of iommu.tables) if (table !== null) pages += table.charged;
  return pages;
}

/** Pages charged to an mm for its pre-registered regions and its leaked table charges. */
export function mmPages(mm: SpaprMm): bigint {
  let pages = mm.leakedTablePages;
  for (const region of mm.regions.values()) pages += region.entries;
  return pages;
}
