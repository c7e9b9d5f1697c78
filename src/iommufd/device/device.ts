/**
 * Bound devices and their attachments (`drivers/iommu/iommufd/device.c`, spec §6.3-6.7):
 * attach to a HWPT (paging or nested) or to an IOAS (finding or creating its automatic HWPT),
 * replace, detach, unbind. Devices of one IOMMU group share one attachment per PASID; a mock
 * device is its own group. The hardware side (driver, PASID rules, handles) is attach-hw.ts.
 */
import { putContext } from '../main/context.ts';
import { initialRecord, nextRecord } from '../../../machines/adapter.ts';
import { deviceMachine } from '../../../machines/device.machine.ts';
import {
  DriverFault,
  IOMMU_NO_PASID,
  attachHardware,
  detachHardware,
  pagingOf,
  replaceHardware,
} from './attach-hw.ts';
import { groupHwpt, groupOf, hwptOf } from './group.ts';
import { type Call, type Choices, type Result, partial, refuse } from '../../model/command.ts';
import { Fail, fail } from '../../model/fail.ts';
import { addDomain, destroyHwptPaging, newHwptPaging } from '../hw-pagetable/hw-pagetable.ts';
import { reserve, unreserve } from '../io-pagetable/io-pagetable.ts';
import { allocId } from '../main/object-table.ts';
import { adjustUsers, dropObject, liveObject, mustGet, putObject } from '../main/object-refs.ts';
import { OrderedMap } from '../../model/ordered-map.ts';
import { keepForFallback, revise } from '../../model/revise.ts';
import { removeVdevice } from '../viommu/viommu.ts';
import type { Ctx, Device, DeviceModel, Domain, Ioas, World } from '../../model/world.ts';

/** `IOMMU_TEST_DEV_CACHE_DEFAULT`: what each of a mock device's four cache entries starts as. */
const DEV_CACHE_DEFAULT = 0xbaddadn;

export const deviceOwner = (deviceId: number): string => `dev:${deviceId}`;

/** An attach or replace refused: by a check, or by a driver that kept some state as it failed. */
export type Refusal = Fail | DriverFault;

export const isRefusal = (r: unknown): r is Refusal => r instanceof Fail || r instanceof DriverFault;

/** The answer to a refused attach: a driver fault keeps the driver state it left behind. */
export function refusal(call: Call, r: Refusal): Result {
  return r instanceof Fail ? refuse(call, r) : partial(putContext(call.world, r.ctx), r.fail);
}

/** `iommufd_device_bind()`: a DEVICE object for the device, its id a free choice. */
export function bindDevice(
  ctx: Ctx,
  choices: Choices,
  field: string,
  modelFor: (id: number) => DeviceModel,
): Fail | { ctx: Ctx; device: Device } {
  const id = allocId(ctx.objects, choices, field);
  if (id instanceof Fail) return id;
  const device: Device = {
    type: 'device',
    id,
    lifecycle: initialRecord(deviceMachine),
    model: modelFor(id),
    attached: OrderedMap.empty(),
    cache: [DEV_CACHE_DEFAULT, DEV_CACHE_DEFAULT, DEV_CACHE_DEFAULT, DEV_CACHE_DEFAULT],
    vdevice: null,
    mockViommu: null,
    pasid1024Armed: false,
    handles: OrderedMap.empty(),
    nextHandle: 1,
  };
  return { ctx: putObject(ctx, device), device };
}

function withIopt(ctx: Ctx, ioas: Ioas, iopt: Ioas['iopt']): Ctx {
  if (iopt === ioas.iopt) return ctx;
  return putObject(
    ctx,
    revise(ioas, (d) => {
      d.iopt = iopt;
    }),
  );
}

/** `iopt_table_enforce_dev_resv_regions()`: the devices' reserved regions into the IOAS. */
function reserveRegions(ctx: Ctx, devices: readonly Device[], ioasId: number): Fail | Ctx {
  const ioas = mustGet(ctx, ioasId, 'ioas');
  let iopt = ioas.iopt;
  for (const dev of devices) {
    for (const r of dev.model.reserved) {
      const next = reserve(iopt, { start: r.start, last: r.last, owner: deviceOwner(dev.id) });
      if (next instanceof Fail) return next;
      iopt = next;
    }
  }
  return withIopt(ctx, ioas, iopt);
}

function unreserveRegions(ctx: Ctx, devices: readonly Device[], ioasId: number): Ctx {
  const ioas = mustGet(ctx, ioasId, 'ioas');
  let iopt = ioas.iopt;
  for (const dev of devices) iopt = unreserve(iopt, deviceOwner(dev.id));
  return withIopt(ctx, ioas, iopt);
}

/**
 * `iommufd_hw_pagetable_attach()`: attach one device (at one PASID) to a HWPT. The RID's
 * reserved regions go into the IOAS of the HWPT's paging parent; only the group's first
 * device makes the hardware attach.
 */
function doAttach(ctx: Ctx, devId: number, pasid: number, hwptId: number): Refusal | Ctx {
  const dev = mustGet(ctx, devId, 'device');
  const hwpt = hwptOf(ctx, hwptId);
  const group = groupOf(ctx, dev);
  if (dev.attached.has(pasid)) return fail('EBUSY', 'iommufd_hw_pagetable_attach', 'device already attached at this pasid');
  const current = groupHwpt(group, pasid);
  if (current !== undefined && current !== hwptId) return fail('EINVAL', 'iommufd_hw_pagetable_attach', 'group attached to another hwpt');
  let next = ctx;
  if (pasid === IOMMU_NO_PASID) {
    const reserved = reserveRegions(next, [dev], pagingOf(ctx, hwpt).ioas);
    if (reserved instanceof Fail) return reserved;
    next = reserved;
  }
  if (current === undefined) {
    const hw = attachHardware(next, group, dev, pasid, hwpt);
    if (isRefusal(hw)) return hw;
    next = hw;
  }
  const now = mustGet(next, devId, 'device');
  const attached = revise(now, (d) => {
    d.attached = now.attached.set(pasid, hwptId);
    d.lifecycle = nextRecord(deviceMachine, now.lifecycle, { type: 'ATTACH' });
  });
  return adjustUsers(putObject(next, attached), hwptId, 'USER_GET');
}

/**
 * `iommufd_device_do_replace()`: move the group's attachment at `pasid` to another HWPT.
 * Returns the HWPT it left (null when it was already there), still to be put by the caller.
 */
function doReplace(ctx: Ctx, devId: number, pasid: number, hwptId: number): Refusal | { ctx: Ctx; old: number | null } {
  const dev = mustGet(ctx, devId, 'device');
  const group = groupOf(ctx, dev);
  const old = groupHwpt(group, pasid);
  if (old === undefined) return fail('EINVAL', 'iommufd_device_do_replace', 'nothing attached at this pasid');
  if (!dev.attached.has(pasid)) return fail('EINVAL', 'iommufd_device_do_replace', 'device not attached at this pasid');
  if (old === hwptId) return { ctx, old: null };
  const hwpt = hwptOf(ctx, hwptId);
  const moving = group.filter((d) => d.attached.get(pasid) === old);
  const newIoas = pagingOf(ctx, hwpt).ioas;
  const oldIoas = pagingOf(ctx, hwptOf(ctx, old)).ioas;
  const moveRegions = pasid === IOMMU_NO_PASID && newIoas !== oldIoas;
  let next = ctx;
  if (moveRegions) {
    const reserved = reserveRegions(next, moving, newIoas);
    if (reserved instanceof Fail) return reserved;
    next = reserved;
  }
  const hw = replaceHardware(next, group, dev, pasid, hwpt);
  if (isRefusal(hw)) return hw;
  next = moveRegions ? unreserveRegions(hw, moving, oldIoas) : hw;
  for (const d of moving) {
    const now = mustGet(next, d.id, 'device');
    next = putObject(
      next,
      revise(now, (x) => {
        x.attached = now.attached.set(pasid, hwptId);
      }),
    );
  }
  next = adjustUsers(next, hwptId, 'USER_GET', moving.length);
  return { ctx: adjustUsers(next, old, 'USER_PUT', moving.length), old };
}

/**
 * `iommufd_hw_pagetable_put()` after an attachment left a HWPT: an automatic HWPT that nothing
 * uses any more is destroyed with it.
 */
function releaseIfAuto(world: World, ctx: Ctx, hwptId: number): Ctx {
  const h = ctx.objects.get(hwptId);
  if (h?.type !== 'hwpt_paging' || !h.auto || h.lifecycle.context.users !== 1) return ctx;
  return destroyHwptPaging(world, ctx, h);
}

/** A paging domain for `dev` from its driver, with the given HWPT_ALLOC flags (0 for automatic ones). */
export type DomainAllocator = (model: DeviceModel, dirtyTracking: boolean) => Domain;

export interface PtRequest {
  readonly world: World;
  readonly choices: Choices;
  /** The output field a new automatic HWPT's id is recorded under. */
  readonly idField: string;
  readonly allocDomain: DomainAllocator;
}

type Changed = { ctx: Ctx; hwpt: number; old: number | null };

/**
 * `iommufd_device_auto_get_domain()`: try each automatic HWPT of the IOAS in creation order
 * (EINVAL: incompatible, try the next; other errors fail), else make a new one, attaching
 * first for an attach, filling first for a replace.
 */
function autoDomain(req: PtRequest, ctx: Ctx, devId: number, pasid: number, ioas: Ioas, mode: 'attach' | 'replace'): Refusal | Changed {
  for (const id of ioas.domains) {
    if (!mustGet(ctx, id, 'hwpt_paging').auto) continue;
    const r = mode === 'attach' ? doAttach(ctx, devId, pasid, id) : doReplace(ctx, devId, pasid, id);
    if (r instanceof Fail && r.errno === 'EINVAL') continue;
    if (isRefusal(r)) return r;
    return 'old' in r ? { ctx: r.ctx, hwpt: id, old: r.old } : { ctx: r, hwpt: id, old: null };
  }
  const dev = mustGet(ctx, devId, 'device');
  const id = allocId(ctx.objects, req.choices, req.idField);
  if (id instanceof Fail) return id;
  const hwpt = newHwptPaging(id, ioas.id, req.allocDomain(dev.model, false), {
    auto: true,
    nestParent: false,
    pasidCompat: false,
    fault: null,
  });
  const created = putObject(ctx, hwpt);
  if (mode === 'attach') {
    const attached = doAttach(created, devId, pasid, id);
    if (isRefusal(attached)) return attached;
    const filled = addDomain(req.world, attached, id);
    if (filled instanceof Fail) return filled;
    return { ctx: filled, hwpt: id, old: null };
  }
  const filled = addDomain(req.world, created, id);
  if (filled instanceof Fail) return filled;
  const replaced = doReplace(filled, devId, pasid, id);
  if (isRefusal(replaced)) return replaced;
  return { ctx: replaced.ctx, hwpt: id, old: replaced.old };
}

/** A driver fault keeps only the driver's own state change, on the context the command started from. */
function keepDriverState(ctx: Ctx, r: DriverFault): DriverFault {
  let next = ctx;
  for (const obj of r.ctx.objects.values()) {
    if (obj.type !== 'device') continue;
    const before = ctx.objects.get(obj.id);
    if (before?.type !== 'device' || before.pasid1024Armed === obj.pasid1024Armed) continue;
    next = putObject(
      next,
      revise(before, (d) => {
        d.pasid1024Armed = obj.pasid1024Armed;
      }),
    );
  }
  return new DriverFault(r.fail, next);
}

/**
 * `iommufd_device_change_pt()`: attach (or replace) the device at `pasid` to `ptId`: a HWPT
 * directly, an IOAS through its automatic HWPTs; any other object is EINVAL.
 */
export function changePt(
  req: PtRequest,
  ctx: Ctx,
  devId: number,
  pasid: number,
  ptId: number,
  mode: 'attach' | 'replace',
): Refusal | { ctx: Ctx; hwpt: number } {
  const pt = liveObject(ctx, ptId);
  if (pt === undefined) return fail('ENOENT', 'iommufd_get_object', 'no object with this id');
  // A driver fault goes back to `ctx`, and an automatic domain that does not fit tries the next.
  keepForFallback();
  let r: Refusal | Changed;
  if (pt.type === 'hwpt_paging' || pt.type === 'hwpt_nested') {
    if (mode === 'attach') {
      const a = doAttach(ctx, devId, pasid, ptId);
      r = isRefusal(a) ? a : { ctx: a, hwpt: ptId, old: null };
    } else {
      const a = doReplace(ctx, devId, pasid, ptId);
      r = isRefusal(a) ? a : { ctx: a.ctx, hwpt: ptId, old: a.old };
    }
  } else if (pt.type === 'ioas') {
    r = autoDomain(req, ctx, devId, pasid, pt, mode);
  } else {
    return fail('EINVAL', 'iommufd_device_change_pt', 'pt_id is neither a hwpt nor an IOAS');
  }
  if (r instanceof DriverFault) return keepDriverState(ctx, r);
  if (r instanceof Fail) return r;
  return { ctx: r.old === null ? r.ctx : releaseIfAuto(req.world, r.ctx, r.old), hwpt: r.hwpt };
}

/** `iommufd_device_detach()`: drop the attachment at `pasid` (a no-op when there is none). */
export function detach(world: World, ctx: Ctx, devId: number, pasid: number): Ctx {
  const dev = mustGet(ctx, devId, 'device');
  const hwptId = dev.attached.get(pasid);
  if (hwptId === undefined) return ctx;
  const hwpt = hwptOf(ctx, hwptId);
  const ioasId = pagingOf(ctx, hwpt).ioas;
  let next = putObject(
    ctx,
    revise(dev, (d) => {
      d.attached = dev.attached.delete(pasid);
      d.lifecycle = nextRecord(deviceMachine, dev.lifecycle, { type: 'DETACH' });
    }),
  );
  const group = groupOf(next, dev);
  if (groupHwpt(group, pasid) === undefined) next = detachHardware(next, group, pasid, hwpt);
  if (pasid === IOMMU_NO_PASID) next = unreserveRegions(next, [dev], ioasId);
  return releaseIfAuto(world, world.config.bugs.has('detach-keeps-hwpt-user') ? next : adjustUsers(next, hwptId, 'USER_PUT'), hwptId);
}

/**
 * `iommufd_device_unbind()` as VFIO does it: every PASID, then the RID, is detached; then the
 * DEVICE goes, and a VDEVICE still on it is destroyed leaving its id a tombstone
 * (`iommufd_device_remove_vdev()`).
 */
export function unbind(world: World, ctx: Ctx, devId: number): Ctx {
  let next = ctx;
  const pasids = [...mustGet(ctx, devId, 'device').attached.keys()];
  for (const pasid of [...pasids.filter((p) => p !== IOMMU_NO_PASID), ...pasids.filter((p) => p === IOMMU_NO_PASID)]) {
    next = detach(world, next, devId, pasid);
  }
  const vdev = mustGet(next, devId, 'device').vdevice;
  if (vdev !== null) next = removeVdevice(next, mustGet(next, vdev, 'vdevice'), true);
  return dropObject(next, devId);
}
