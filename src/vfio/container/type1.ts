/**
 * The type1 IOMMU driver's container-level operations (drivers/vfio/vfio_iommu_type1.c):
 * open (`VFIO_SET_IOMMU`), attaching and detaching groups, the release that unpins everything,
 * and its answers to `VFIO_CHECK_EXTENSION`.
 *
 * Every group attached is backed by an IOMMU domain (the model has no mediated devices), so a
 * mapping is pinned and charged as it is made, and a new domain only adds mappings to what is
 * already pinned (`vfio_iommu_replay()` takes the pages from the domain that has them).
 */
import { Fail, fail } from '../../model/fail.ts';
import { injected } from '../../model/fault-injection.ts';
import { OrderedMap } from '../../model/ordered-map.ts';
import { U64_MAX } from '../../model/ranges.ts';
import type { DeviceModel, Range, World } from '../../model/world.ts';
import { uncharge } from './locked-vm.ts';
import { acceptedFlags, hasOlder } from '../../kernel/profile.ts';
import { VFIO_DMA_UNMAP_FLAG_ALL, VFIO_DMA_UNMAP_FLAG_VADDR } from '../uapi.ts';
import { groupMsiIsolated } from '../msi.ts';
import { groupOf } from '../store.ts';
import type { Type1, Type1Domain, VfioDma, VfioGroup } from '../state.ts';
import { aperConflict, aperExpand, aperResize, resvConflict, resvExclude, resvRefresh } from './type1-iova.ts';

export const VFIO_TYPE1_IOMMU = 1n;
export const VFIO_TYPE1v2_IOMMU = 3n;
export const VFIO_DMA_CC_IOMMU = 4n;
export const VFIO_UNMAP_ALL = 9n;
export const VFIO_UPDATE_VADDR = 10n;
/** `VFIO_TYPE1_NESTING_IOMMU`, retired in 6.13 (`__VFIO_RESERVED_TYPE1_NESTING_IOMMU`). */
const VFIO_TYPE1_NESTING_IOMMU = 6n;

/**
 * `vfio_iommu_type1_check_extension()`; `iommu` is null when the container has no driver yet.
 * No domain the model makes enforces cache coherency (as the compat path answers), and there
 * are no mediated devices to turn UPDATE_VADDR off. `world` gives the release: the nesting type
 * was offered until 6.13, UNMAP_ALL and UPDATE_VADDR from 5.12.
 */
export function type1Extension(world: World, iommu: Type1 | null, arg: bigint): bigint {
  switch (arg) {
    case VFIO_TYPE1_IOMMU:
    case VFIO_TYPE1v2_IOMMU:
      return 1n;
    // Offered by the releases whose UNMAP_DMA takes the flag.
    case VFIO_UNMAP_ALL:
      return acceptedFlags(world.config.kernel, 'VFIO_IOMMU_UNMAP_DMA', VFIO_DMA_UNMAP_FLAG_ALL) === 0n ? 0n : 1n;
    case VFIO_TYPE1_NESTING_IOMMU:
      return hasOlder(world.config.kernel, 'type1-offers-nesting') ? 1n : 0n;
    case VFIO_UPDATE_VADDR:
      return iommu === null || acceptedFlags(world.config.kernel, 'VFIO_IOMMU_UNMAP_DMA', VFIO_DMA_UNMAP_FLAG_VADDR) === 0n ? 0n : 1n;
    case VFIO_DMA_CC_IOMMU:
      return iommu === null || iommu.domains.length > 0 ? 0n : 1n;
    default:
      return 0n;
  }
}

/**
 * `vfio_iommu_type1_open()`: the `struct vfio_iommu` is allocated (an injection point, ENOMEM)
 * before the type is read; TYPE1 is v1, TYPE1v2 (and the nesting type, which checks offer only
 * before 6.13) v2.
 */
export function type1Open(world: World, arg: bigint): Fail | Type1 {
  const nomem = injected('ENOMEM', 'vfio_iommu_type1_open');
  if (nomem !== null) return nomem;
  if (arg !== VFIO_TYPE1_IOMMU && arg !== VFIO_TYPE1v2_IOMMU && arg !== VFIO_TYPE1_NESTING_IOMMU) return fail('EINVAL', 'vfio_iommu_type1_open', 'not a type1 IOMMU type');
  return {
    v2: arg !== VFIO_TYPE1_IOMMU,
    domains: [],
    iovaList: [],
    dmas: OrderedMap.empty(),
    dmaAvail: world.vfio.config.dmaEntryLimit,
    vaddrInvalid: 0,
    pgsizeBitmap: U64_MAX & ~(world.config.pageSize - 1n),
    dirtyTracking: false,
    charged: OrderedMap.empty(),
  };
}

/** The models of a group's devices, in header order. */
const modelsOf = (world: World, group: VfioGroup): DeviceModel[] =>
  group.devices.map((i) => {
    const dev = world.devices[i];
    if (dev === undefined) throw new Error(`[iommufd-model] group ${group.id} names no header device ${i}`);
    return dev.model;
  });

/** `iommu_get_group_resv_regions()`: every device's reserved regions. */
const regionsOf = (world: World, group: VfioGroup): Range[] => modelsOf(world, group).flatMap((m) => m.reserved);

/** `vfio_update_pgsize_bitmap()`: what every domain offers, sizes below PAGE_SIZE shown as PAGE_SIZE. */
function pgsizeBitmap(world: World, domains: readonly Type1Domain[]): bigint {
  const { pageSize } = world.config;
  let bitmap = U64_MAX;
  for (const d of domains) bitmap &= d.pgsizeBitmap;
  const pageMask = U64_MAX & ~(pageSize - 1n);
  return (bitmap & ~pageMask) !== 0n ? (bitmap & pageMask) | pageSize : bitmap;
}

const attached = (iommu: Type1, group: number): boolean => iommu.domains.some((d) => d.groups.includes(group));

/**
 * `vfio_iommu_type1_attach_group()`, in the kernel's order: no mapping may have its vaddr
 * invalidated (EBUSY: the replay might have to pin), the group not already in (EINVAL), its
 * `struct vfio_iommu_group` and `struct vfio_domain` allocated (two injection points, ENOMEM:
 * the domain is made before the kernel looks for one to join), the domain's aperture must keep
 * every mapping (EINVAL), the group's reserved regions must miss every mapping (EINVAL) and
 * leave some IOVA (EINVAL), its MSIs must be isolated unless `allow_unsafe_interrupts` (EPERM).
 * A group behind the same IOMMU driver as a domain joins it. A failure frees all it made.
 */
export function type1Attach(world: World, iommu: Type1, group: VfioGroup): Fail | Type1 {
  const where = 'vfio_iommu_type1_attach_group';
  if (iommu.vaddrInvalid > 0) return fail('EBUSY', where, 'a mapping has its vaddr invalidated');
  if (attached(iommu, group.id)) return fail('EINVAL', where, 'the group is already attached');
  const nomem = injected('ENOMEM', where) ?? injected('ENOMEM', where);
  if (nomem !== null) return nomem;
  const [model] = modelsOf(world, group);
  if (model === undefined) throw new Error(`[iommufd-model] group ${group.id} has no device`);
  if (aperConflict(iommu, model.aperture)) return fail('EINVAL', 'vfio_iommu_aper_conflict', 'the aperture leaves out a mapping or every usable IOVA');
  const regions = regionsOf(world, group);
  if (resvConflict(iommu, regions)) return fail('EINVAL', 'vfio_iommu_resv_conflict', 'a reserved region overlaps a mapping');
  const list = resvExclude(aperResize(iommu.iovaList, model.aperture.start, model.aperture.last), regions);
  if (list === null) return fail('EINVAL', 'vfio_iommu_resv_exclude', 'no usable IOVA is left');
  if (!world.vfio.config.type1UnsafeInterrupts && !groupMsiIsolated(world, group.devices[0] as number)) {
    return fail('EPERM', where, 'no interrupt remapping and allow_unsafe_interrupts is off');
  }
  const joined = iommu.domains.findIndex((d) => d.iommu === model.iommu);
  if (joined >= 0) {
    const domain = iommu.domains[joined] as Type1Domain;
    const domains = iommu.domains.map((d, i) => (i === joined ? { ...domain, groups: [group.id, ...domain.groups] } : d));
    return { ...iommu, domains, iovaList: list };
  }
  const domain: Type1Domain = { iommu: model.iommu, pgsizeBitmap: model.pgsizeBitmap, aperture: model.aperture, groups: [group.id] };
  const domains = [domain, ...iommu.domains];
  return { ...iommu, domains, iovaList: list, pgsizeBitmap: pgsizeBitmap(world, domains) };
}

/**
 * `vfio_iommu_unmap_unpin_all()`: every mapping goes, its pins released and its charge given
 * back to the mm it was charged to (when that process still exists).
 */
export function unmapUnpinAll(world: World, iommu: Type1): { world: World; iommu: Type1 } {
  let next = world;
  for (const [pid, pages] of iommu.charged) next = uncharge(next, pid, pages);
  return {
    world: next,
    iommu: { ...iommu, dmas: OrderedMap.empty<bigint, VfioDma>(), dmaAvail: iommu.dmaAvail + BigInt(iommu.dmas.size), vaddrInvalid: 0, charged: OrderedMap.empty() },
  };
}

/**
 * `vfio_iommu_type1_detach_group()`: the group leaves its domain; the domain goes with its last
 * group, and with the last domain every mapping goes too. The usable IOVA is then rebuilt from
 * the domains and groups left (kept as it was when that leaves nothing).
 */
export function type1Detach(world: World, iommu: Type1, groupId: number): { world: World; iommu: Type1 } {
  const at = iommu.domains.findIndex((d) => d.groups.includes(groupId));
  const domain = iommu.domains[at];
  if (domain === undefined) return { world, iommu };
  let next = world;
  let out: Type1;
  let list: readonly Range[] = iommu.iovaList;
  const groups = domain.groups.filter((g) => g !== groupId);
  if (groups.length > 0) {
    out = { ...iommu, domains: iommu.domains.map((d, i) => (i === at ? { ...domain, groups } : d)) };
  } else {
    let kept = iommu;
    if (iommu.domains.length === 1) ({ world: next, iommu: kept } = unmapUnpinAll(world, iommu));
    const domains = iommu.domains.filter((_, i) => i !== at);
    out = { ...kept, domains, pgsizeBitmap: pgsizeBitmap(world, domains) };
    list = aperExpand(out, list);
  }
  const regions = out.domains.flatMap((d) => d.groups.flatMap((g) => regionsOf(world, groupOf(world, g))));
  const refreshed = resvRefresh(list, regions);
  return { world: next, iommu: refreshed === null ? out : { ...out, iovaList: refreshed } };
}

/** `vfio_iommu_type1_release()`: the last group went; whatever is still mapped is unpinned. */
export const type1Release = (world: World, iommu: Type1): World => unmapUnpinAll(world, iommu).world;
