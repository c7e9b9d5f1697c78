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
import { type Hwpt, groupHwpt, handleOf, hwptOf } from './group.ts';
import type { Ctx, Device, HwptPaging } from '../../model/world.ts';

export const IOMMU_NO_PASID = 0;

/** A driver failure that leaves state behind: the mock's PASID 1024 latch is cleared as it fails. */
export class DriverFault {
  constructor(
    readonly fail: Fail,
    readonly ctx: Ctx,
  ) {}
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

/** `iommufd_hwpt_pasid_compat()`. */
function pasidCompat(ctx: Ctx, group: readonly Device[], hwpt: Hwpt, pasid: number): Fail | null {
  if (pasid === IOMMU_NO_PASID) {
    const others = group.some((d) => [...d.attached.keys()].some((p) => p !== IOMMU_NO_PASID));
    return !hwpt.pasidCompat && others ? fail('EINVAL', 'iommufd_hwpt_pasid_compat', 'hwpt not pasid compatible and pasids attached') : null;
  }
  if (!hwpt.pasidCompat) return fail('EINVAL', 'iommufd_hwpt_pasid_compat', 'hwpt not pasid compatible');
  const rid = groupHwpt(group, IOMMU_NO_PASID);
  return rid !== undefined && !hwptOf(ctx, rid).pasidCompat ? fail('EINVAL', 'iommufd_hwpt_pasid_compat', 'rid hwpt not pasid compatible') : null;
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
      return fail('EINVAL', 'mock_domain_nop_attach', 'dirty tracking domain on a no-dirty device');
    }
    let mockViommu: Device['mockViommu'] = null;
    if (hwpt?.type === 'hwpt_nested' && hwpt.viommu !== null) {
      const vdev = dev.vdevice === null ? undefined : ctx.objects.get(dev.vdevice);
      if (vdev?.type !== 'vdevice' || vdev.viommu !== hwpt.viommu) {
        return fail('ENOENT', 'iommufd_viommu_get_vdev_id', 'no vdevice of the device on the viommu');
      }
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
    const wasArmed = current.pasid1024Armed;
    next = putObject(
      next,
      revise(current, (d) => {
        d.pasid1024Armed = hwpt !== null && !wasArmed;
      }),
    );
    if (hwpt !== null && wasArmed) {
      return new DriverFault(fail('ENOMEM', 'mock_domain_set_dev_pasid_nop', 'fake error on a second set of pasid 1024'), next);
    }
  }
  return next;
}

/** The domain must be the device driver's (`domain_iommu_ops_compatible()`). */
const foreign = (dev: Device, hwpt: Hwpt): boolean => hwptIommu(hwpt) !== dev.model.iommu;
const FOREIGN_DOMAIN = fail('EINVAL', 'domain_iommu_ops_compatible', 'domain of another iommu driver');

/** `iommu_attach_device_pasid()`'s checks before the driver: ops and the PASID range. */
function pasidRange(group: readonly Device[], dev: Device, hwpt: Hwpt, pasid: number): Fail | null {
  if (foreign(dev, hwpt)) return FOREIGN_DOMAIN;
  for (const d of group) {
    const max = maxPasids(d);
    if (max > 0n && BigInt(pasid) >= max) return fail('EINVAL', 'iommu_attach_device_pasid', 'pasid not below a device max_pasids');
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
  if (pasid === IOMMU_NO_PASID) return foreign(dev, hwpt) ? FOREIGN_DOMAIN : attachDev(ctx, group, hwpt);
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
  let next = setDomain(ctx, group, dev, pasid, hwpt, foreign(dev, hwpt) ? FOREIGN_DOMAIN : null);
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
