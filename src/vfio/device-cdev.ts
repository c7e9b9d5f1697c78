/**
 * VFIO device cdev ioctls (drivers/vfio/device_cdev.c, drivers/vfio/iommufd.c, spec §3.23)
 * on a header device (`dev`): bind it to an iommufd, attach its RID or a PASID to a HWPT or
 * IOAS (replacing what is there), detach. A bound device holds the iommufd context alive.
 *
 * The same ioctls on a device fd from `VFIO_GROUP_GET_DEVICE_FD` (`df->group`) are the group
 * path's: BIND_IOMMUFD is EINVAL there, and ATTACH/DETACH, cdev-only, reach the device driver,
 * which knows neither (vfio-pci: ENOTTY).
 */
import { putContext } from '../iommufd/main/context.ts';
import type { Fields } from '../../events/types.ts';
import * as S from '../../events/structs.ts';
import { IOMMU_NO_PASID } from '../iommufd/device/attach-hw.ts';
import { type Call, type Result, big, num, ok, refuse } from '../model/command.ts';
import { changePt, detach, isRefusal, refusal } from '../iommufd/device/device.ts';
import { Fail, fail } from '../model/fail.ts';
import { fileOf } from '../mm/files.ts';
import { structIoctl } from '../iommufd/main/ioctl.ts';
import { revise } from '../model/revise.ts';
import { commit } from '../iommufd/main/object-refs.ts';
import { ptRequest } from '../iommufd/selftest/selftest-device.ts';
import type { Ctx, HeaderDevice, OpenFile, World } from '../model/world.ts';
import { cdevFileOf } from './cdev-file.ts';
import { bindOps } from './device-ops.ts';
import { attachEmulated, detachEmulated, isEmulated } from './emulated.ts';
import { acceptedFlags } from '../kernel/profile.ts';
import { msiBindRefusal } from './msi.ts';
import { groupOfDevice, groupOpens } from './store.ts';

export const VFIO_DEVICE_BIND_FLAG_TOKEN = 1n;
export const VFIO_DEVICE_ATTACH_PASID = 1n;
export const VFIO_DEVICE_DETACH_PASID = 1n;
/** `ida_alloc_range()` refuses ids above INT_MAX (ENOSPC). */
const INT_MAX = 0x7fffffffn;

export interface Target {
  readonly index: number;
  readonly device: HeaderDevice;
}

/** The event's fd when it is a device fd opened through a group. */
function groupDeviceFile(call: Call): (OpenFile & { readonly kind: 'vfio-device' }) | null {
  const file = call.event.fd === undefined ? undefined : fileOf(call.world, call.process, call.event.fd);
  return file?.kind === 'vfio-device' ? file : null;
}

/**
 * The header device the event is issued on: a group device fd's or an opened cdev's own (format
 * 1.1: `dev`, optional there, must name it), else the cdev of `dev`; an unknown name is not a
 * VFIO device (ENOTTY).
 */
export function targetOf(call: Call): Target | null {
  const file = groupDeviceFile(call) ?? cdevFileOf(call);
  const name = call.event.args?.fields['dev'];
  const index = file !== null ? file.device : call.world.devices.findIndex((d) => d.model.name === name);
  const device = call.world.devices[index];
  if (file?.kind === 'vfio-cdev' && name !== undefined && name !== device?.model.name) {
    throw new Error(`[iommufd-model] dev ${JSON.stringify(name)} is not the device of cdev fd ${call.event.fd} (${device?.model.name})`);
  }
  return device === undefined ? null : { index, device };
}

/**
 * Whether the device is bound through the event's cdev (`df->access_granted`): its opened cdev
 * file, or, for an event naming its device by `dev`, the fd number the bind was issued on.
 */
function boundHere(call: Call, device: HeaderDevice): boolean {
  const file = cdevFileOf(call);
  if (device.bound === null) return false;
  return file === null ? device.bound.fd === cdevOf(call) : device.bound.file === file.id;
}

/**
 * The device an ioctl other than BIND is issued on, when its fd may use it
 * (`vfio_device_fops_unl_ioctl()`: `df->access_granted`, else EINVAL): a device fd opened
 * through its group, or the cdev fd the device was bound through.
 */
export function grantedDevice(call: Call): Target | Result {
  const target = targetOf(call);
  if (target === null) return refuse(call, fail('ENOTTY', 'vfs_ioctl', 'the fd is not a vfio device cdev'));
  const file = groupDeviceFile(call);
  const granted = file !== null ? file.opened : boundHere(call, target.device) && groupOpens(call.world, target.index) === 0;
  return granted ? target : refuse(call, fail('EINVAL', 'vfio_device_fops_unl_ioctl', 'the fd was not granted access to the device'));
}

function withDevice(world: World, index: number, device: HeaderDevice): World {
  return revise(world, (d) => {
    if (world.devices[index] !== device) d.devices = world.devices.map((each, i) => (i === index ? device : each));
  });
}

/** The cdev fd an event is issued on (its `fd`): which `struct vfio_device_file` it names. */
const cdevOf = (call: Call): number | null => call.event.fd ?? null;

/**
 * `vfio_df_ioctl_bind_iommufd()`: argsz and trailing bytes by the extensible-struct rules; a
 * negative fd or unknown flags EINVAL; this cdev fd already bound EINVAL; a VF token (not
 * modelled: no device asks for one) EINVAL; the fd not open EBADF, not an iommufd EBADFD; the
 * device opened through another cdev fd EINVAL (`vfio_df_open()`); the group owned by another
 * context EPERM (`iommu_device_claim_dma_owner()`). One DEVICE id.
 */
export function bindIommufd(call: Call): Result {
  const target = targetOf(call);
  if (target === null) return refuse(call, fail('ENOTTY', 'vfs_ioctl', 'the fd is not a vfio device cdev'));
  return structIoctl(call, S.VFIO_DEVICE_BIND_IOMMUFD, (cmd) => {
    const fd = big(cmd, 'iommufd');
    if (fd < 0n || (big(cmd, 'flags') & ~acceptedFlags(call.world.config.kernel, 'VFIO_DEVICE_BIND_IOMMUFD', VFIO_DEVICE_BIND_FLAG_TOKEN)) !== 0n) {
      return refuse(call, fail('EINVAL', 'vfio_df_ioctl_bind_iommufd', 'negative iommufd or flags has unknown bits'));
    }
    if (groupDeviceFile(call) !== null) return refuse(call, fail('EINVAL', 'vfio_df_ioctl_bind_iommufd', 'a device fd from a group'));
    if ((groupOfDevice(call.world, target.index)?.opened ?? null) !== null) {
      return refuse(call, fail('EBUSY', 'vfio_device_block_group', 'the device\'s group is open'));
    }
    if (boundHere(call, target.device)) return refuse(call, fail('EINVAL', 'vfio_df_ioctl_bind_iommufd', 'this cdev fd is already bound'));
    if ((big(cmd, 'flags') & VFIO_DEVICE_BIND_FLAG_TOKEN) !== 0n) {
      return refuse(call, fail('EINVAL', 'vfio_df_check_token', 'a token for a device that takes none'));
    }
    const file = fileOf(call.world, call.process, Number(fd));
    if (file === undefined) return refuse(call, fail('EBADF', 'iommufd_ctx_from_fd', 'the fd is not open'));
    if (file.kind !== 'iommufd') return refuse(call, fail('EBADFD', 'iommufd_ctx_from_fd', 'the fd is not an iommufd'));
    if (target.device.bound !== null || groupOpens(call.world, target.index) > 0) {
      return refuse(call, fail('EINVAL', 'vfio_df_open', 'device opened through another cdev fd'));
    }
    const unsafe = msiBindRefusal(call.world, target.index);
    if (unsafe !== null) return refuse(call, unsafe);
    const owner = call.world.devices.find((d) => d.model.group === target.device.model.group && d.bound !== null);
    if (owner !== undefined && owner.bound?.ctx !== file.ctx) {
      return refuse(call, fail('EPERM', 'iommu_device_claim_dma_owner', 'the group is owned by another context'));
    }
    const ctx = call.world.contexts.get(file.ctx);
    if (ctx === undefined) throw new Error(`[iommufd-model] fd ${fd} holds a released context`);
    const bound = bindOps(target.device, ctx, call.choices, 'out_devid');
    const cdev = cdevFileOf(call);
    if (bound instanceof Fail) return refuse(call, bound);
    const held = revise(bound.ctx, (d) => {
      d.holders = bound.ctx.holders + 1;
    });
    const world = withDevice(putContext(call.world, held), target.index, {
      ...target.device,
      bound: { ctx: ctx.id, device: bound.id, fd: cdevOf(call), ...(cdev === null ? {} : { file: cdev.id }) },
    });
    return ok(world, { out_devid: BigInt(bound.id) });
  }, 'vfio_df_ioctl_bind_iommufd');
}

/**
 * The checks ATTACH and DETACH share: the device must be bound through this cdev fd (EINVAL,
 * before the argument is read), the fixed part copied (EFAULT) and large enough (EINVAL), flags known (EINVAL),
 * and with the PASID flag a driver that attaches PASIDs (an emulated device's does not:
 * EOPNOTSUPP) and the `pasid` member present (EINVAL).
 */
function ptArgs(
  call: Call,
  where: string,
  minsz: number,
  pasidFlag: bigint,
): { ctx: Ctx; devId: number; cmd: Fields; pasid: number | null } | Result {
  const target = targetOf(call);
  if (target === null) return refuse(call, fail('ENOTTY', 'vfs_ioctl', 'the fd is not a vfio device cdev'));
  const file = groupDeviceFile(call);
  if (file !== null) {
    if (!file.opened) return refuse(call, fail('EINVAL', 'vfio_device_fops_unl_ioctl', 'the device fd was not granted access'));
    return refuse(call, fail('ENOTTY', 'vfio_pci_core_ioctl', 'a cdev-only ioctl on a device fd from a group'));
  }
  const bound = target.device.bound;
  if (bound === null || !boundHere(call, target.device) || groupOpens(call.world, target.index) > 0) {
    return refuse(call, fail('EINVAL', 'vfio_device_fops_unl_ioctl', 'the cdev fd is not bound'));
  }
  const args = call.event.args;
  if (args === null) return refuse(call, fail('EFAULT', where, 'copy_from_user of a NULL argument'));
  if (args.size < minsz) return refuse(call, fail('EINVAL', where, 'argsz below minsz'));
  const cmd = args.fields;
  const flags = big(cmd, 'flags');
  const known = acceptedFlags(call.world.config.kernel, call.event.op, pasidFlag);
  if ((flags & ~known) !== 0n) return refuse(call, fail('EINVAL', where, 'flags has unknown bits'));
  let pasid: number | null = null;
  if ((flags & known) !== 0n) {
    if (isEmulated(target.device)) return refuse(call, fail('EOPNOTSUPP', where, 'the driver has no pasid op'));
    if (args.size < minsz + 4) return refuse(call, fail('EINVAL', where, 'argsz too small for pasid'));
    pasid = num(cmd, 'pasid');
  }
  const ctx = call.world.contexts.get(bound.ctx);
  if (ctx === undefined) throw new Error('[iommufd-model] a bound device outlived its context');
  return { ctx, devId: bound.device, cmd, pasid };
}

/**
 * `vfio_df_ioctl_attach_pt()` → `vfio_iommufd_physical_attach_ioas()` or
 * `_pasid_attach_ioas()`: attach, or replace when already attached there; `pt_id` comes back
 * as the HWPT attached. A PASID above INT_MAX cannot be tracked (ENOSPC).
 */
export function attachPt(call: Call): Result {
  const a = ptArgs(call, 'vfio_df_ioctl_attach_pt', 12, VFIO_DEVICE_ATTACH_PASID);
  if (!('devId' in a)) return a;
  const target = targetOf(call) as Target;
  if (isEmulated(target.device)) {
    const next = attachEmulated(call.world, a.ctx, a.devId, num(a.cmd, 'pt_id'));
    if (next instanceof Fail) return refuse(call, next);
    return ok(withDevice(commit(call.world, a.ctx, next), target.index, { ...target.device, ridAttached: true }), { pt_id: big(a.cmd, 'pt_id') });
  }
  const pasid = a.pasid ?? IOMMU_NO_PASID;
  const attached = a.pasid === null ? target.device.ridAttached : target.device.pasids.includes(pasid);
  if (a.pasid !== null && !attached && BigInt(pasid) > INT_MAX) return refuse(call, fail('ENOSPC', 'ida_alloc_range', 'pasid above INT_MAX'));
  const changed = changePt(ptRequest(call, 'pt_id'), a.ctx, a.devId, pasid, num(a.cmd, 'pt_id'), attached ? 'replace' : 'attach');
  if (isRefusal(changed)) return refusal(call, changed);
  const device: HeaderDevice =
    a.pasid === null
      ? { ...target.device, ridAttached: true }
      : { ...target.device, pasids: attached ? target.device.pasids : [...target.device.pasids, pasid] };
  return ok(withDevice(commit(call.world, a.ctx, changed.ctx), target.index, device), { pt_id: BigInt(changed.hwpt) });
}

/** `vfio_df_ioctl_detach_pt()`: detaching what VFIO did not attach is a no-op; always 0. */
export function detachPt(call: Call): Result {
  const a = ptArgs(call, 'vfio_df_ioctl_detach_pt', 8, VFIO_DEVICE_DETACH_PASID);
  if (!('devId' in a)) return a;
  const target = targetOf(call) as Target;
  if (a.pasid === null ? !target.device.ridAttached : !target.device.pasids.includes(a.pasid)) return ok(call.world);
  if (isEmulated(target.device)) {
    return ok(withDevice(putContext(call.world, detachEmulated(call.world, a.ctx, a.devId)), target.index, { ...target.device, ridAttached: false }));
  }
  const pasid = a.pasid ?? IOMMU_NO_PASID;
  const device: HeaderDevice =
    a.pasid === null
      ? { ...target.device, ridAttached: false }
      : { ...target.device, pasids: target.device.pasids.filter((p) => p !== pasid) };
  return ok(withDevice(putContext(call.world, detach(call.world, a.ctx, a.devId, pasid)), target.index, device));
}
