/**
 * A type1 container's usable IOVA ranges (`iova_list` of vfio_iommu_type1.c): the intersection
 * of its domains' apertures less its groups' reserved regions, as the kernel's list functions
 * build it, step for step, so that their corner cases are the kernel's too. The list is short
 * (one range per reserved region), so it is an array.
 */
import { firstIntersecting } from '../../model/ranges.ts';
import type { Range } from '../../model/world.ts';
import type { IovaRange, Type1 } from '../state.ts';

/** A mapping overlapping `[start, last]` (`vfio_find_dma()`). */
const dmaWithin = (iommu: Type1, start: bigint, last: bigint): boolean => firstIntersecting(iommu.dmas, start, last) !== undefined;

/**
 * `vfio_iommu_aper_conflict()`: a new aperture misses every usable range, or leaves out a
 * mapping below or above it.
 */
export function aperConflict(iommu: Type1, aperture: IovaRange): boolean {
  const list = iommu.iovaList;
  const first = list[0];
  const last = list[list.length - 1];
  if (first === undefined || last === undefined) return false;
  if (aperture.start > last.last || aperture.last < first.start) return true;
  if (aperture.start > first.start && dmaWithin(iommu, first.start, aperture.start - 1n)) return true;
  return aperture.last < last.last && dmaWithin(iommu, aperture.last + 1n, last.last);
}

/**
 * `vfio_iommu_aper_resize()`: the list cut to a new aperture. A range whose last IOVA is the
 * new start is dropped, not cut to one IOVA, as the kernel's `start < node->end` has it.
 */
export function aperResize(list: readonly IovaRange[], start: bigint, end: bigint): IovaRange[] {
  if (list.length === 0) return [{ start, last: end }];
  const out: IovaRange[] = [];
  let i = 0;
  for (; i < list.length; i++) {
    const node = list[i] as IovaRange;
    if (start < node.start) break;
    if (start < node.last) {
      out.push({ start, last: node.last });
      i++;
      break;
    }
  }
  for (; i < list.length; i++) out.push(list[i] as IovaRange);
  const kept: IovaRange[] = [];
  for (const node of out) {
    if (end > node.last) kept.push(node);
    else if (end > node.start) kept.push({ start: node.start, last: end });
  }
  return kept;
}

/** `vfio_iommu_resv_conflict()`: a reserved region overlaps a mapping. */
export const resvConflict = (iommu: Type1, regions: readonly Range[]): boolean => regions.some((r) => dmaWithin(iommu, r.start, r.last));

/** `vfio_iommu_resv_exclude()`: the list less the reserved regions; null when nothing is left (EINVAL). */
export function resvExclude(list: readonly IovaRange[], regions: readonly Range[]): IovaRange[] | null {
  let out = [...list];
  for (const r of regions) {
    const next: IovaRange[] = [];
    for (const n of out) {
      if (r.start > n.last || r.last < n.start) {
        next.push(n);
        continue;
      }
      if (r.start > n.start) next.push({ start: n.start, last: r.start - 1n });
      if (r.last < n.last) next.push({ start: r.last + 1n, last: n.last });
    }
    out = next;
  }
  return out.length === 0 ? null : out;
}

/**
 * `vfio_iommu_aper_expand()`: after a domain goes, the first range starts and the last ends
 * where the remaining domains' apertures meet.
 */
export function aperExpand(iommu: Type1, list: readonly IovaRange[]): IovaRange[] {
  const first = list[0];
  const lastNode = list[list.length - 1];
  if (first === undefined || lastNode === undefined) return [...list];
  let start = 0n;
  let end = (1n << 64n) - 1n;
  for (const d of iommu.domains) {
    if (d.aperture.start > start) start = d.aperture.start;
    if (d.aperture.last < end) end = d.aperture.last;
  }
  const out = [...list];
  out[0] = { start, last: first.last };
  out[out.length - 1] = { start: (out[out.length - 1] as IovaRange).start, last: end };
  return out;
}

/**
 * `vfio_iommu_resv_refresh()`: after a group goes, the list rebuilt between its first start
 * and last end, less the reserved regions of the groups left; null (keep the old list) when
 * the list is empty or nothing would be left.
 */
export function resvRefresh(list: readonly IovaRange[], regions: readonly Range[]): IovaRange[] | null {
  const first = list[0];
  const last = list[list.length - 1];
  if (first === undefined || last === undefined) return null;
  return resvExclude([{ start: first.start, last: last.last }], regions);
}
