/**
 * The hardware side of attaching a group to a HWPT (`iommufd_hwpt_attach_device()`,
 * `iommufd_hwpt_replace_device()`, `iommufd_hwpt_detach_device()` of device.c and what the
 * IOMMU core and the driver do under them): PASID compatibility, the domain's driver, the
 * mock driver's attach rules, and the attach handle that page faults are reported through.
 */
import { Fail, fail } from '../../model/fail.ts';
import { autoRespond } from '../eventq/fault.ts';
import { IOMMU_TEST_PASID_RESERVED, MOCK_FLAGS_DEVICE_NO_DIRTY } from '../selftest/mock.ts';
import { mustGet, putObject } from '../main/object-refs.ts';
import { revise } from '../../model/revise.ts';
import type { Ctx, Device, HwptNested, HwptPaging } from '../../model/world.ts';

export const IOMMU_NO_PASID = 0;

export type Hwpt = HwptPaging | HwptNested;

/** A driver failure that leaves state behind: the mock's PASID 1024 latch is cleared as it fails. */
export class DriverFault {
  constructor(
    readonly fail: Fail,
    readonly ctx: Ctx,
  ) {}
}

export function hwptOf(ctx: Ctx, id: number): Hwpt {
  const h = ctx.objects.get(id);
  if (h?.type !== 'hwpt_paging' && h?.type !== 'hwpt_nested') throw new Error(`[iommufd-model] no HWPT ${id}`);
  return h;
}

/** The driver that owns the HWPT's domain (`domain->owner`). */
export const hwptIommu = (h: Hwpt): string => (h.type === 'hwpt_paging' ? h.domain.iommu : h.iommu);

/** `find_hwpt_paging()`: the HWPT itself, or a nested one's parent (its vIOMMU's for vIOMMU-owned ones). */
export function pagingOf(ctx: Ctx, h: Hwpt): HwptPaging {
  return h.type === 'hwpt_paging' ? h : mustGet(ctx, h.parent, 'hwpt_paging');
}

/** `dev->iommu->max_pasids`: a mock device always has the `pasid-num-bits` property (0 → 1 PASID). */
export function maxPasids(dev: Device): bigint {
  if (dev.model.kind === 'mock' || dev.model.maxPasidLog2 > 0) return 1n << BigInt(dev.model.maxPasidLog2);
  return 0n;
}

/** The HWPT the group has attached at `pasid`, if any. */
export function groupHwpt(group: readonly Device[], pasid: number): number | undefined {
  for (const d of group) {
    const h = d.attached.get(pasid);
    if (h !== undefined) return h;
  }
  return undefined;
}

/** `iommufd_hwpt_pasid_compat()`. */
function pasidCompat(ctx: Ctx, group: readonly Device[], hwpt: Hwpt, pasid: number): Fail | null {
  if (pasid === IOMMU_NO_PASID) {
    const others = group.some((d) => [...d.attached.keys()].some((p) => p !== IOMMU_NO_PASID));
    return !hwpt.pasidCompat && others ? fail('EINVAL') : null;
  }
  if (!hwpt.pasidCompat) return fail('EINVAL');
  const rid = groupHwpt(group, IOMMU_NO_PASID);
  return rid !== undefined && !hwptOf(ctx, rid).pasidCompat ? fail('EINVAL') : null;
}

/**
 * The driver's `attach_dev` for every device of the group. The mock refuses a dirty-tracking
 * domain on a NO_DIRTY device (EINVAL), and a vIOMMU-owned nested domain for a device with no
 * VDEVICE on that vIOMMU (ENOENT); it remembers the vIOMMU and virtual id for vEVENTs.
 */
function attachDev(ctx: Ctx, group: readonly Device[], hwpt: Hwpt | null): Fail | Ctx {
  let next = ctx;
  for (const dev of group) {
    if (dev.model.kind !== 'mock') continue;
    if (hwpt?.type === 'hwpt_paging' && hwpt.domain.dirtyTracking && (dev.model.mockFlags & MOCK_FLAGS_DEVICE_NO_DIRTY) !== 0n) {
      return fail('EINVAL');
    }
    let mockViommu: Device['mockViommu'] = null;
    if (hwpt?.type === 'hwpt_nested' && hwpt.viommu !== null) {
      const vdev = dev.vdevice === null ? undefined : ctx.objects.get(dev.vdevice);
      if (vdev?.type !== 'vdevice' || vdev.viommu !== hwpt.viommu) return fail('ENOENT');
      mockViommu = { viommu: hwpt.viommu, virtId: vdev.virtId };
    }
    const current = mustGet(next, dev.id, 'device');
    next = putObject(
      next,
      revise(current, (d) => {
        d.mockViommu = mockViommu;
      }),
    );
  }
  return next;
}

/**
 * The driver's `set_dev_pasid` for every device of the group that has PASIDs (a null `hwpt` is
 * the blocked domain). The mock fails every second set of PASID 1024 (ENOMEM), clearing its
 * latch as it fails; setting the blocked domain clears it too.
 */
function setDevPasid(ctx: Ctx, group: readonly Device[], pasid: number, hwpt: Hwpt | null): DriverFault | Ctx {
  let next = ctx;
  for (const dev of group) {
    if (maxPasids(dev) === 0n || dev.model.kind !== 'mock' || pasid !== IOMMU_TEST_PASID_RESERVED) continue;
    const current = mustGet(next, dev.id, 'device');
    const armed = hwpt !== null && !current.pasid1024Armed;
    next = putObject(
      next,
      revise(current, (d) => {
        d.pasid1024Armed = armed;
      }),
    );
    if (hwpt !== null && current.pasid1024Armed) return new DriverFault(fail('ENOMEM'), next);
  }
  return next;
}

/** The domain must be the device driver's (`domain_iommu_ops_compatible()`). */
const foreign = (dev: Device, hwpt: Hwpt): boolean => hwptIommu(hwpt) !== dev.model.iommu;

/** `iommu_attach_device_pasid()`'s checks before the driver: ops and the PASID range. */
function pasidRange(group: readonly Device[], dev: Device, hwpt: Hwpt, pasid: number): Fail | null {
  if (foreign(dev, hwpt)) return fail('EINVAL');
  for (const d of group) {
    const max = maxPasids(d);
    if (max > 0n && BigInt(pasid) >= max) return fail('EINVAL');
  }
  return null;
}

/** A new attach handle for `dev` at `pasid`, replacing whichever device of the group held the old one. */
function newHandle(ctx: Ctx, group: readonly Device[], devId: number, pasid: number): Ctx {
  let next = dropHandle(ctx, group, pasid);
  const dev = mustGet(next, devId, 'device');
  next = putObject(
    next,
    revise(dev, (d) => {
      d.handles = dev.handles.set(pasid, dev.nextHandle);
      d.nextHandle = dev.nextHandle + 1;
    }),
  );
  return next;
}

/** The group's attach handle at `pasid` (`iommu_attach_handle_get()`), as faults name it. */
export function handleOf(group: readonly Device[], pasid: number): { key: string; device: number } | null {
  for (const d of group) {
    const serial = d.handles.get(pasid);
    if (serial !== undefined) return { key: `${d.id}:${serial}`, device: d.id };
  }
  return null;
}

function dropHandle(ctx: Ctx, group: readonly Device[], pasid: number): Ctx {
  let next = ctx;
  for (const d of group) {
    if (!d.handles.has(pasid)) continue;
    const current = mustGet(next, d.id, 'device');
    next = putObject(
      next,
      revise(current, (x) => {
        x.handles = current.handles.delete(pasid);
      }),
    );
  }
  return next;
}

/** `iommufd_hwpt_attach_device()`: the group's first attachment at `pasid`. */
export function attachHardware(
  ctx: Ctx,
  group: readonly Device[],
  dev: Device,
  pasid: number,
  hwpt: Hwpt,
): Fail | DriverFault | Ctx {
  const next = setDomain(ctx, group, dev, pasid, hwpt, pasidRange(group, dev, hwpt, pasid));
  if (next instanceof Fail || next instanceof DriverFault) return next;
  return newHandle(next, group, dev.id, pasid);
}

/**
 * What attach and replace share: the PASID compatibility check, then the driver sets the
 * domain on the RID (another driver's domain is EINVAL) or on the PASID. `pasidLimit` is the
 * attach-only range check of the PASID (replace has none).
 */
function setDomain(
  ctx: Ctx,
  group: readonly Device[],
  dev: Device,
  pasid: number,
  hwpt: Hwpt,
  pasidLimit: Fail | null,
): Fail | DriverFault | Ctx {
  const compat = pasidCompat(ctx, group, hwpt, pasid);
  if (compat !== null) return compat;
  if (pasid === IOMMU_NO_PASID) return foreign(dev, hwpt) ? fail('EINVAL') : attachDev(ctx, group, hwpt);
  return pasidLimit ?? setDevPasid(ctx, group, pasid, hwpt);
}

/**
 * `iommufd_hwpt_replace_device()`: the group moves to `hwpt` at `pasid`; the faults queued on
 * the new HWPT's FAULT through the old handle are answered (the kernel passes the new HWPT).
 */
export function replaceHardware(
  ctx: Ctx,
  group: readonly Device[],
  dev: Device,
  pasid: number,
  hwpt: Hwpt,
): Fail | DriverFault | Ctx {
  const old = handleOf(group, pasid);
  let next = setDomain(ctx, group, dev, pasid, hwpt, foreign(dev, hwpt) ? fail('EINVAL') : null);
  if (next instanceof Fail || next instanceof DriverFault) return next;
  if (old !== null) next = autoRespond(next, hwpt.fault, old.key);
  return newHandle(next, group, dev.id, pasid);
}

/**
 * `iommufd_hwpt_detach_device()`: the group's last device leaves `pasid`. The RID goes to the
 * blocking domain (the mock forgets its vIOMMU), a PASID to the blocked domain, and the faults
 * still pending through the handle are answered.
 */
export function detachHardware(ctx: Ctx, group: readonly Device[], pasid: number, hwpt: Hwpt): Ctx {
  const handle = handleOf(group, pasid);
  let next: Fail | DriverFault | Ctx =
    pasid === IOMMU_NO_PASID ? attachDev(ctx, group, null) : setDevPasid(ctx, group, pasid, null);
  if (next instanceof Fail || next instanceof DriverFault) throw new Error('[iommufd-model] a blocking domain refused a device');
  if (handle !== null) next = autoRespond(next, hwpt.fault, handle.key);
  return dropHandle(next, group, pasid);
}
