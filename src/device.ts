/**
 * Bound devices and their attachments (`drivers/iommu/iommufd/device.c`, spec §6.3-6.7):
 * attach to a HWPT or to an IOAS (finding or creating its automatic HWPT), replace, detach.
 * Devices of one IOMMU group share one attachment per PASID; a mock device is its own group.
 */
import { initialRecord, nextRecord } from '../machines/adapter.ts';
import { deviceMachine } from '../machines/device.machine.ts';
import type { Choices } from './command.ts';
import { Fail, fail } from './fail.ts';
import { addDomain, destroyHwptPaging, hwptUsers, newHwptPaging } from './hw-pagetable.ts';
import { reserve, unreserve } from './io-pagetable.ts';
import { allocId } from './object-table.ts';
import { OrderedMap } from './ordered-map.ts';
import { castDraft, revise } from './revise.ts';
import type { Ctx, Device, DeviceModel, Domain, HwptPaging, Ioas, World } from './world.ts';

export const IOMMU_NO_PASID = 0;
export const MOCK_FLAGS_DEVICE_NO_DIRTY = 1n;
/** `IOMMU_TEST_DEV_CACHE_DEFAULT`: what each of a mock device's four cache entries starts as. */
const DEV_CACHE_DEFAULT = 0xbaddadn;

export const deviceOwner = (deviceId: number): string => `dev:${deviceId}`;

/** `iommufd_device_bind()`: a DEVICE object for the device, its id a free choice. */
export function bindDevice(ctx: Ctx, choices: Choices, field: string, model: DeviceModel): { ctx: Ctx; device: Device } {
  const id = allocId(ctx.objects, choices, field);
  const device: Device = {
    type: 'device',
    id,
    lifecycle: initialRecord(deviceMachine),
    model: model.kind === 'mock' ? { ...model, group: `mock:${id}` } : model,
    attached: OrderedMap.empty(),
    cache: [DEV_CACHE_DEFAULT, DEV_CACHE_DEFAULT, DEV_CACHE_DEFAULT, DEV_CACHE_DEFAULT],
  };
  return { ctx: putObject(ctx, device), device };
}

function putObject(ctx: Ctx, obj: Device | HwptPaging | Ioas): Ctx {
  return revise(ctx, (d) => {
    d.objects = ctx.objects.set(obj.id, obj);
  });
}

function device(ctx: Ctx, id: number): Device {
  const d = ctx.objects.get(id);
  if (d?.type !== 'device') throw new Error(`[iommufd-model] no device ${id}`);
  return d;
}

function paging(ctx: Ctx, id: number): HwptPaging {
  const h = ctx.objects.get(id);
  if (h?.type !== 'hwpt_paging') throw new Error(`[iommufd-model] no paging HWPT ${id}`);
  return h;
}

/** The devices of `dev`'s group bound in this context. */
function groupOf(ctx: Ctx, dev: Device): Device[] {
  const out: Device[] = [];
  for (const obj of ctx.objects.values()) if (obj.type === 'device' && obj.model.group === dev.model.group) out.push(obj);
  return out;
}

/** The HWPT the group has attached at `pasid`, if any. */
function groupHwpt(group: readonly Device[], pasid: number): number | undefined {
  for (const d of group) {
    const h = d.attached.get(pasid);
    if (h !== undefined) return h;
  }
  return undefined;
}

/** `iommufd_device_attach_reserved_iova()`: the device's reserved regions into the IOAS. */
function reserveRegions(ctx: Ctx, devices: readonly Device[], ioasId: number): Fail | Ctx {
  const ioas = ctx.objects.get(ioasId);
  if (ioas?.type !== 'ioas') return ctx;
  let iopt = ioas.iopt;
  for (const dev of devices) {
    for (const r of dev.model.reserved) {
      const next = reserve(iopt, { start: r.start, last: r.last, owner: deviceOwner(dev.id) });
      if (next instanceof Fail) return next;
      iopt = next;
    }
  }
  if (iopt === ioas.iopt) return ctx;
  return putObject(
    ctx,
    revise(ioas, (d) => {
      d.iopt = castDraft(iopt);
    }),
  );
}

function unreserveRegions(ctx: Ctx, devices: readonly Device[], ioasId: number): Ctx {
  const ioas = ctx.objects.get(ioasId);
  if (ioas?.type !== 'ioas') return ctx;
  let iopt = ioas.iopt;
  for (const dev of devices) iopt = unreserve(iopt, deviceOwner(dev.id));
  if (iopt === ioas.iopt) return ctx;
  return putObject(
    ctx,
    revise(ioas, (d) => {
      d.iopt = castDraft(iopt);
    }),
  );
}

/**
 * The hardware attach of the group's first device (`iommufd_hwpt_attach_device()` and the
 * driver's attach): PASID compatibility, the IOMMU instance, and the mock's dirty-tracking rule.
 */
function hardwareAttach(group: readonly Device[], dev: Device, pasid: number, hwpt: HwptPaging): Fail | null {
  // iommufd_hwpt_pasid_compat()
  if (pasid === IOMMU_NO_PASID) {
    if (!hwpt.pasidCompat && group.some((d) => [...d.attached.keys()].some((p) => p !== IOMMU_NO_PASID))) {
      return fail('EINVAL');
    }
  } else {
    if (!hwpt.pasidCompat) return fail('EINVAL');
    if (pasid >= 2 ** dev.model.maxPasidLog2) return fail('EINVAL');
  }
  if (hwpt.domain.iommu !== dev.model.iommu) return fail('EINVAL');
  // mock_domain_nop_attach(): a dirty-tracking domain on a NO_DIRTY device.
  if (dev.model.kind === 'mock' && hwpt.domain.dirtyTracking && (dev.model.mockFlags & MOCK_FLAGS_DEVICE_NO_DIRTY) !== 0n) {
    return fail('EINVAL');
  }
  return null;
}

/** The RID's HWPT must also allow PASIDs before a PASID attaches beside it. */
function ridAllowsPasid(ctx: Ctx, group: readonly Device[], pasid: number): boolean {
  if (pasid === IOMMU_NO_PASID) return true;
  const rid = groupHwpt(group, IOMMU_NO_PASID);
  if (rid === undefined) return true;
  const h = ctx.objects.get(rid);
  return h?.type !== 'hwpt_paging' || h.pasidCompat;
}

/** `iommufd_hw_pagetable_attach()`: attach one device (at one PASID) to a paging HWPT. */
function doAttach(ctx: Ctx, devId: number, pasid: number, hwptId: number): Fail | Ctx {
  const dev = device(ctx, devId);
  const hwpt = paging(ctx, hwptId);
  const group = groupOf(ctx, dev);
  if (dev.attached.has(pasid)) return fail('EBUSY');
  const current = groupHwpt(group, pasid);
  if (current !== undefined && current !== hwptId) return fail('EINVAL');
  let next = ctx;
  if (pasid === IOMMU_NO_PASID) {
    const reserved = reserveRegions(next, [dev], hwpt.ioas);
    if (reserved instanceof Fail) return reserved;
    next = reserved;
  }
  if (current === undefined) {
    const refused = hardwareAttach(group, dev, pasid, hwpt) ?? (ridAllowsPasid(next, group, pasid) ? null : fail('EINVAL'));
    if (refused !== null) return refused;
  }
  const attached = revise(dev, (d) => {
    d.attached = dev.attached.set(pasid, hwptId);
    d.lifecycle = nextRecord(deviceMachine, dev.lifecycle, { type: 'ATTACH' });
  });
  return putObject(putObject(next, attached), hwptUsers(paging(next, hwptId), 'USER_GET'));
}

/**
 * `iommufd_device_do_replace()`: move the group's attachment at `pasid` to another HWPT.
 * Returns the HWPT it left (null when it was already there), still to be put by the caller.
 */
function doReplace(ctx: Ctx, devId: number, pasid: number, hwptId: number): Fail | { ctx: Ctx; old: number | null } {
  const dev = device(ctx, devId);
  const group = groupOf(ctx, dev);
  const old = groupHwpt(group, pasid);
  if (old === undefined || !dev.attached.has(pasid)) return fail('EINVAL');
  if (old === hwptId) return { ctx, old: null };
  const hwpt = paging(ctx, hwptId);
  const oldHwpt = paging(ctx, old);
  const moving = group.filter((d) => d.attached.get(pasid) === old);
  let next = ctx;
  const ioasChanges = oldHwpt.ioas !== hwpt.ioas;
  if (pasid === IOMMU_NO_PASID && ioasChanges) {
    const reserved = reserveRegions(next, moving, hwpt.ioas);
    if (reserved instanceof Fail) return reserved;
    next = reserved;
  }
  const refused = hardwareAttach(group, dev, pasid, hwpt) ?? (ridAllowsPasid(next, group, pasid) ? null : fail('EINVAL'));
  if (refused !== null) return refused;
  if (pasid === IOMMU_NO_PASID && ioasChanges) next = unreserveRegions(next, moving, oldHwpt.ioas);
  for (const d of moving) {
    next = putObject(
      next,
      revise(d, (x) => {
        x.attached = d.attached.set(pasid, hwptId);
      }),
    );
  }
  let newHwpt = paging(next, hwptId);
  let oldAfter = paging(next, old);
  for (let i = 0; i < moving.length; i++) {
    newHwpt = hwptUsers(newHwpt, 'USER_GET');
    oldAfter = hwptUsers(oldAfter, 'USER_PUT');
  }
  return { ctx: putObject(putObject(next, newHwpt), oldAfter), old };
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

/**
 * `iommufd_device_auto_get_domain()`: try each automatic HWPT of the IOAS in creation order
 * (EINVAL: incompatible, try the next; other errors fail), else make a new one, attaching
 * first for an attach, filling first for a replace.
 */
function autoDomain(
  req: PtRequest,
  ctx: Ctx,
  devId: number,
  pasid: number,
  ioas: Ioas,
  mode: 'attach' | 'replace',
): Fail | { ctx: Ctx; hwpt: number; old: number | null } {
  for (const id of ioas.domains) {
    const h = paging(ctx, id);
    if (!h.auto) continue;
    const r = mode === 'attach' ? doAttach(ctx, devId, pasid, id) : doReplace(ctx, devId, pasid, id);
    if (r instanceof Fail) {
      if (r.errno === 'EINVAL') continue;
      return r;
    }
    return 'old' in r ? { ctx: r.ctx, hwpt: id, old: r.old } : { ctx: r, hwpt: id, old: null };
  }
  const dev = device(ctx, devId);
  const id = allocId(ctx.objects, req.choices, req.idField);
  const hwpt = newHwptPaging(id, ioas.id, req.allocDomain(dev.model, false), {
    auto: true,
    nestParent: false,
    pasidCompat: false,
    fault: null,
  });
  const created = putObject(ctx, hwpt);
  if (mode === 'attach') {
    const attached = doAttach(created, devId, pasid, id);
    if (attached instanceof Fail) return attached;
    const filled = addDomain(req.world, attached, id);
    if (filled instanceof Fail) return filled;
    return { ctx: filled, hwpt: id, old: null };
  }
  const filled = addDomain(req.world, created, id);
  if (filled instanceof Fail) return filled;
  const replaced = doReplace(filled, devId, pasid, id);
  if (replaced instanceof Fail) return replaced;
  return { ctx: replaced.ctx, hwpt: id, old: replaced.old };
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
): Fail | { ctx: Ctx; hwpt: number } {
  const pt = ctx.objects.get(ptId);
  if (pt === undefined) return fail('ENOENT');
  let r: Fail | { ctx: Ctx; hwpt: number; old: number | null };
  if (pt.type === 'hwpt_paging') {
    if (mode === 'attach') {
      const a = doAttach(ctx, devId, pasid, ptId);
      r = a instanceof Fail ? a : { ctx: a, hwpt: ptId, old: null };
    } else {
      const a = doReplace(ctx, devId, pasid, ptId);
      r = a instanceof Fail ? a : { ctx: a.ctx, hwpt: ptId, old: a.old };
    }
  } else if (pt.type === 'ioas') {
    r = autoDomain(req, ctx, devId, pasid, pt, mode);
  } else {
    return fail('EINVAL');
  }
  if (r instanceof Fail) return r;
  return { ctx: r.old === null ? r.ctx : releaseIfAuto(req.world, r.ctx, r.old), hwpt: r.hwpt };
}

/** `iommufd_device_detach()`: drop the attachment at `pasid` (a no-op when there is none). */
export function detach(world: World, ctx: Ctx, devId: number, pasid: number): Ctx {
  const dev = device(ctx, devId);
  const hwptId = dev.attached.get(pasid);
  if (hwptId === undefined) return ctx;
  const hwpt = paging(ctx, hwptId);
  let next = putObject(
    ctx,
    revise(dev, (d) => {
      d.attached = dev.attached.delete(pasid);
      d.lifecycle = nextRecord(deviceMachine, dev.lifecycle, { type: 'DETACH' });
    }),
  );
  if (pasid === IOMMU_NO_PASID) next = unreserveRegions(next, [dev], hwpt.ioas);
  next = putObject(next, hwptUsers(paging(next, hwptId), 'USER_PUT'));
  return releaseIfAuto(world, next, hwptId);
}

/** `iommufd_device_unbind()`: every attachment goes, then the DEVICE object. */
export function unbind(world: World, ctx: Ctx, devId: number): Ctx {
  let next = ctx;
  for (const pasid of [...device(ctx, devId).attached.keys()]) next = detach(world, next, devId, pasid);
  return revise(next, (d) => {
    d.objects = next.objects.delete(devId);
  });
}
