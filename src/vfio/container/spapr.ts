/**
 * The SPAPR TCE IOMMU driver's container-level operations (drivers/vfio/vfio_iommu_spapr_tce.c,
 * as of Linux 6.11; the group rules are 6.4's table-group ops): open, attaching and detaching
 * groups, the release that gives everything back, `VFIO_IOMMU_SPAPR_TCE_GET_INFO`, and v1's
 * `VFIO_IOMMU_ENABLE` and `VFIO_IOMMU_DISABLE`.
 *
 * The PEs are PowerNV IODA2's (`pnv_pci_ioda2_ops`): their windows are made and dropped by the
 * container, v1's as v2's, starting with the default window the first group's attach leaves
 * pending. v1 charges its whole 32-bit window's pages at ENABLE, as the worst case of what it
 * may pin, and takes one group; v2 pre-registers memory instead and needs PEs that offer
 * dynamic windows.
 */
import { type Call, type Result, big, ok, partial, refuse } from '../../model/command.ts';
import { Fail, fail } from '../../model/fail.ts';
import type { World } from '../../model/world.ts';
import type { ContainerArg } from '../ioctl-arg.ts';
import { letGoOf, spaprMmOf } from '../prereg.ts';
import type { SpaprTce } from '../spapr-state.ts';
import type { VfioGroup } from '../state.ts';
import { capable, putSpapr, spaprOf } from '../store.ts';
import { charge, uncharge } from './locked-vm.ts';
import { OTHER_VERSION, WHERE, bindMm, firstPe, otherMm, readStruct } from './spapr-call.ts';
import { clearWindow } from './spapr-tces.ts';
import { freeTable } from './spapr-windows.ts';

const VFIO_SPAPR_TCE_IOMMU = 2n;
const VFIO_EEH = 5n;
const VFIO_SPAPR_TCE_v2_IOMMU = 7n;

const VFIO_IOMMU_SPAPR_INFO_DDW = 1n;
/** `offsetofend()` of `dma32_window_size` and of `ddw` in `struct vfio_iommu_spapr_tce_info`. */
const INFO_MINSZ = 16n;
const INFO_DDWSZ = 32n;
const U32_MAX = 0xffffffffn;

/** `tce_iommu_ioctl(VFIO_CHECK_EXTENSION)`: both types, and EEH (`eeh_enabled()`, on for the POWER hosts it runs on). */
export const spaprExtension = (arg: bigint): bigint => (arg === VFIO_SPAPR_TCE_IOMMU || arg === VFIO_SPAPR_TCE_v2_IOMMU || arg === VFIO_EEH ? 1n : 0n);

/** `tce_iommu_open()`: an empty container of either version. */
export function spaprOpen(arg: bigint): Fail | SpaprTce {
  if (arg !== VFIO_SPAPR_TCE_IOMMU && arg !== VFIO_SPAPR_TCE_v2_IOMMU) return fail('EINVAL', 'tce_iommu_open', 'not a SPAPR TCE IOMMU type');
  return { v2: arg === VFIO_SPAPR_TCE_v2_IOMMU, enabled: false, defWindowPending: false, lockedPages: 0n, mm: null, tables: [null, null], groups: [] };
}

/**
 * `tce_iommu_attach_group()`: a group with no PE is ENODEV; v2 needs a PE that offers dynamic
 * windows (EINVAL); v1 takes one group (EBUSY). The group takes the container's windows; the
 * first group, finding no window, leaves the default one pending.
 */
export function spaprAttach(iommu: SpaprTce, group: VfioGroup): Fail | SpaprTce {
  const where = 'tce_iommu_attach_group';
  if (group.pe === null) return fail('ENODEV', where, 'the group has no TCE table group');
  if (iommu.v2 && group.pe.maxDynamicWindows === 0n) return fail('EINVAL', where, 'a v2 container needs dynamic DMA windows');
  if (!iommu.v2 && iommu.groups.length > 0) return fail('EBUSY', where, 'a v1 container takes one group');
  const pending = iommu.defWindowPending || (iommu.groups.length === 0 && iommu.tables[0] === null);
  return { ...iommu, defWindowPending: pending, groups: [group.id, ...iommu.groups] };
}

/**
 * `tce_iommu_detach_group()`: the group leaves, and every window's TCEs are cleared before its
 * windows are unset on the group (`tce_iommu_release_ownership()`, since Linux 6.11: "Always
 * clear TCEs before unsetting the window"), whichever containers' devices still use them; the
 * windows and their tables stay with the container.
 */
export function spaprDetach(world: World, id: number, group: number): World {
  const next = clearWindow(clearWindow(world, id, 0), id, 1);
  const iommu = spaprOf(next, id);
  return putSpapr(next, id, { ...iommu, groups: iommu.groups.filter((g) => g !== group) });
}

/**
 * `tce_iommu_release()`, once the last group went (whose detach cleared the TCEs): every
 * window's table freed (uncharged), every pre-registered region let go
 * (`tce_iommu_prereg_free()`, whose EBUSY only warns and leaves the region to the mm), then
 * v1's ENABLE charge given back.
 */
export function spaprRelease(world: World, id: number): World {
  let next = freeTable(freeTable(world, id, 0), id, 1);
  const { mm, enabled, lockedPages } = spaprOf(next, id);
  if (mm === null) return next;
  // Before 4b6fad7097f8 the regions were the mm's alone, put when it went.
  if (!next.config.bugs.has('spapr-release-keeps-prereg')) {
    for (const [key, region] of spaprMmOf(next, mm).regions) if (region.holders.includes(id)) next = letGoOf(next, mm, key, id);
  }
  return enabled ? uncharge(next, mm, lockedPages) : next;
}

/**
 * `VFIO_IOMMU_SPAPR_TCE_GET_INFO` (the number of `VFIO_IOMMU_GET_INFO`): the first group's
 * 32-bit window (`__u32` fields: the kernel truncates), and for v2 on a PE with dynamic
 * windows the DDW flag and `ddw` (page sizes, how many windows, levels), zero otherwise; `ddw`
 * is written when `argsz` covers it.
 */
export function spaprGetInfo(call: Call, id: number, arg: ContainerArg): Result {
  const iommu = spaprOf(call.world, id);
  const refused = otherMm(iommu, call.process.pid);
  if (refused !== null) return refuse(call, refused);
  const pe = firstPe(call.world, iommu);
  const struct = readStruct(arg, INFO_MINSZ);
  if (struct instanceof Fail) return refuse(call, struct);
  const ddw = iommu.v2 && pe.maxDynamicWindows !== 0n;
  const info = { flags: ddw ? VFIO_IOMMU_SPAPR_INFO_DDW : 0n, dma32_window_start: pe.tce32Start & U32_MAX, dma32_window_size: pe.tce32Size & U32_MAX };
  if (big(struct, 'argsz') < INFO_DDWSZ) return ok(call.world, info);
  const zero = { pgsizes: 0n, max_dynamic_windows_supported: 0n, levels: 0n };
  return ok(call.world, { ...info, ddw: ddw ? { pgsizes: pe.pgsizes, max_dynamic_windows_supported: pe.maxDynamicWindows, levels: pe.maxLevels } : zero });
}

/**
 * `VFIO_IOMMU_ENABLE` (v1, `tce_iommu_enable()`): once (EBUSY); a PE without a 32-bit window is
 * EPERM; the mm is bound, then the whole window's pages are charged to it (ENOMEM past
 * RLIMIT_MEMLOCK but with CAP_IPC_LOCK), whatever will be mapped.
 */
export function spaprEnable(call: Call, id: number): Result {
  const iommu = spaprOf(call.world, id);
  const refused = otherMm(iommu, call.process.pid) ?? (iommu.v2 ? OTHER_VERSION : null);
  if (refused !== null) return refuse(call, refused);
  if (iommu.enabled) return refuse(call, fail('EBUSY', 'tce_iommu_enable', 'the container is enabled already'));
  const { tce32Size } = firstPe(call.world, iommu);
  if (tce32Size === 0n) return refuse(call, fail('EPERM', 'tce_iommu_enable', 'the PE has no 32-bit window'));
  const pid = call.process.pid;
  const bound = bindMm(call.world, id, pid);
  const locked = tce32Size / call.world.config.pageSize;
  const charged = charge(bound, pid, locked, capable(call.process, 'CAP_IPC_LOCK'));
  if (charged instanceof Fail) return partial(bound, charged);
  return ok(putSpapr(charged, id, { ...spaprOf(charged, id), enabled: true, lockedPages: locked }));
}

/** `VFIO_IOMMU_DISABLE` (v1, `tce_iommu_disable()`): ENABLE's charge given back; 0 also when not enabled. */
export function spaprDisable(call: Call, id: number): Result {
  const iommu = spaprOf(call.world, id);
  const refused = otherMm(iommu, call.process.pid) ?? (iommu.v2 ? OTHER_VERSION : null);
  if (refused !== null) return refuse(call, refused);
  if (!iommu.enabled) return ok(call.world);
  return ok(uncharge(putSpapr(call.world, id, { ...iommu, enabled: false }), iommu.mm as number, iommu.lockedPages));
}

/** Any other ioctl: after the mm check, ENOTTY. */
export function spaprOther(call: Call, id: number): Result {
  return refuse(call, otherMm(spaprOf(call.world, id), call.process.pid) ?? fail('ENOTTY', WHERE, 'not an ioctl of the driver'));
}
