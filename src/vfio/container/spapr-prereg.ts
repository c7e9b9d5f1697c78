/**
 * `VFIO_IOMMU_SPAPR_REGISTER_MEMORY` and `VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY` (v2:
 * `tce_iommu_register_pages()`, `tce_iommu_unregister_pages()`), over the mm's regions of
 * prereg.ts.
 *
 * A region is named by its exact address and size: registering the one this container holds
 * is EBUSY, one another container of the mm holds is shared, and a range overlapping a region
 * otherwise is EINVAL. Unregistering needs the exact range of a region this container holds
 * (ENOENT: "bisecting is not supported"). It answers 0 even when TCEs still point into the
 * region: `mm_iommu_get()`'s extra reference lets the container's own put succeed, and the
 * last put's EBUSY is dropped; the region leaves the container but stays in the mm, pinned
 * and charged (docs/spapr-unregister-quirk.md).
 */
import { type Call, type Result, big, ok, partial, refuse } from '../../model/command.ts';
import { Fail, fail } from '../../model/fail.ts';
import { U64_MAX } from '../../model/ranges.ts';
import type { World } from '../../model/world.ts';
import type { ContainerArg } from '../ioctl-arg.ts';
import { letGoOf, newRegion, putRegion, regionKey, spaprMmOf } from '../prereg.ts';
import { putSpapr, spaprOf } from '../store.ts';
import { OTHER_VERSION, WHERE, bindMm, otherMm, readStruct } from './spapr-call.ts';

/** `offsetofend(struct vfio_iommu_spapr_register_memory, size)`. */
const MINSZ = 24n;

/** The range of a register or unregister: `flags` 0 (EINVAL), then page-aligned `vaddr` and `size` (EINVAL). */
function rangeOf(world: World, arg: ContainerArg, checkWrap: boolean, where: string): Fail | { vaddr: bigint; entries: bigint } {
  const struct = readStruct(arg, MINSZ);
  if (struct instanceof Fail) return struct;
  if (big(struct, 'flags') !== 0n) return fail('EINVAL', WHERE, 'flags is not 0');
  const vaddr = big(struct, 'vaddr');
  const size = big(struct, 'size');
  const mask = world.config.pageSize - 1n;
  if (((vaddr | size) & mask) !== 0n || (checkWrap && vaddr + size > U64_MAX)) return fail('EINVAL', where, 'vaddr or size not page aligned, or the range wraps');
  return { vaddr, entries: size / world.config.pageSize };
}

/**
 * `VFIO_IOMMU_SPAPR_REGISTER_MEMORY`: binds the mm first (kept whatever follows), then
 * `tce_iommu_register_pages()`. Success enables the container for MAP and UNMAP.
 */
export function spaprRegister(call: Call, id: number, arg: ContainerArg): Result {
  const iommu = spaprOf(call.world, id);
  const refused = otherMm(iommu, call.process.pid) ?? (iommu.v2 ? null : OTHER_VERSION);
  if (refused !== null) return refuse(call, refused);
  const pid = call.process.pid;
  let world = bindMm(call.world, id, pid);
  const range = rangeOf(world, arg, true, 'tce_iommu_register_pages');
  if (range instanceof Fail) return partial(world, range);
  const key = regionKey(range.vaddr, range.entries);
  const region = spaprMmOf(world, pid).regions.get(key);
  if (region?.holders.includes(id) === true && !world.config.bugs.has('spapr-register-twice')) {
    return partial(world, fail('EBUSY', 'tce_iommu_register_pages', 'this container registered the range already'));
  }
  if (region !== undefined) {
    world = putRegion(world, pid, key, { ...region, used: region.used + 1, holders: [id, ...region.holders] });
  } else {
    const made = newRegion(world, call.process, range.vaddr, range.entries, id);
    if (made instanceof Fail) return partial(world, made);
    world = made;
  }
  return ok(putSpapr(world, id, { ...spaprOf(world, id), enabled: true }));
}

/** `VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY`: EPERM before any mm is bound, then `tce_iommu_unregister_pages()`. */
export function spaprUnregister(call: Call, id: number, arg: ContainerArg): Result {
  const iommu = spaprOf(call.world, id);
  const refused = otherMm(iommu, call.process.pid) ?? (iommu.v2 ? null : OTHER_VERSION) ?? (iommu.mm === null ? fail('EPERM', WHERE, 'no mm is bound yet') : null);
  if (refused !== null) return refuse(call, refused);
  const range = rangeOf(call.world, arg, false, 'tce_iommu_unregister_pages');
  if (range instanceof Fail) return refuse(call, range);
  const pid = iommu.mm as number;
  const key = regionKey(range.vaddr, range.entries);
  const region = spaprMmOf(call.world, pid).regions.get(key);
  if (region === undefined) return refuse(call, fail('ENOENT', 'mm_iommu_get', 'no region has exactly this address and size'));
  if (!region.holders.includes(id)) return refuse(call, fail('ENOENT', 'tce_iommu_unregister_pages', 'this container did not register the region'));
  return ok(letGoOf(call.world, pid, key, id));
}
