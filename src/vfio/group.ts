/**
 * VFIO groups (drivers/vfio/group.c): /dev/vfio/N, opened once at a time, attached to a native
 * container or to an iommufd (a legacy VFIO user on an iommufd kernel), and the device fds
 * `VFIO_GROUP_GET_DEVICE_FD` opens through it.
 *
 * A group and its devices' cdevs exclude each other: a group whose device is bound through its
 * cdev cannot be opened, and a device cannot be bound through its cdev while its group is open
 * (`cdev_device_open_cnt`, `vfio_device_block_group()`); the model counts a device bound to an
 * iommufd with no open through its group as opened through its cdev.
 */
import { putContext, releaseContext } from '../iommufd/main/context.ts';
import { changePt, isRefusal } from '../iommufd/device/device.ts';
import { IOMMU_NO_PASID } from '../iommufd/device/attach-hw.ts';
import { ptRequest } from '../iommufd/selftest/selftest-device.ts';
import { chooseFd, fileOf, installFile } from '../mm/files.ts';
import { type Call, type Result, num, ok, refuse } from '../model/command.ts';
import { Fail, fail } from '../model/fail.ts';
import { revise } from '../model/revise.ts';
import type { Ctx, HeaderDevice, OpenFile, Process, World } from '../model/world.ts';
import { compatIoas, compatIoasCreate, compatSetNoIommu } from './compat.ts';
import { bindOps, closeDevice, unbindOps } from './device-ops.ts';
import { attachEmulated, isEmulated } from './emulated.ts';
import { attachGroup, containerOther, detachGroup } from './container/container.ts';
import { namedArg } from './ioctl-arg.ts';
import { msiBindRefusal } from './msi.ts';
import type { VfioGroup } from './state.ts';
import { capable, containerOf, groupOf, putGroup } from './store.ts';

const VFIO_GROUP_FLAGS_VIABLE = 1n;
const VFIO_GROUP_FLAGS_CONTAINER_SET = 2n;
/** `offsetofend(struct vfio_group_status, flags)`. */
const STATUS_MINSZ = 8;

/** /dev/vfio/N, and /dev/vfio/noiommu-N for a no-IOMMU group. */
const GROUP_PATH = /^\/dev\/vfio\/(noiommu-)?([0-9]+)$/;

export const isGroupPath = (path: string): boolean => GROUP_PATH.test(path);

/** `vfio_group_has_iommu()`: attached to a container or an iommufd. */
const hasIommu = (group: VfioGroup): boolean => group.container !== null || group.iommufd !== null;

/** A device of the group is bound to an iommufd: its IOMMU group's DMA is owned. */
const owned = (world: World, group: VfioGroup): boolean => group.devices.some((i) => (world.devices[i]?.bound ?? null) !== null);

/** Devices of the group opened through their cdev: bound to an iommufd, not open through the group. */
const cdevOpen = (world: World, group: VfioGroup): boolean =>
  group.devices.some((i, k) => (world.devices[i]?.bound ?? null) !== null && group.opens[k] === 0);

/**
 * `vfio_group_fops_open()`: the node exists for a registered group only (ENOENT); a no-IOMMU
 * group needs CAP_SYS_RAWIO (EPERM); a device open through its cdev or the group already open
 * elsewhere is EBUSY.
 */
export function openGroup(call: Call, path: string): Result {
  const m = GROUP_PATH.exec(path);
  const group = m === null ? undefined : call.world.vfio.groups.get(Number(m[2]));
  if (m === null || group === undefined || group.noiommu !== (m[1] !== undefined)) {
    return refuse(call, fail('ENOENT', 'do_sys_open', 'no such VFIO group node'));
  }
  const where = 'vfio_group_fops_open';
  if (group.noiommu && !capable(call.process, 'CAP_SYS_RAWIO')) return refuse(call, fail('EPERM', where, 'a no-IOMMU group needs CAP_SYS_RAWIO'));
  if (cdevOpen(call.world, group)) return refuse(call, fail('EBUSY', where, 'a device of the group is open through its cdev'));
  if (group.opened !== null) return refuse(call, fail('EBUSY', where, 'the group is open already'));
  const fd = chooseFd(call.process, call.choices, 'fd');
  const fileId = call.world.nextFileId;
  const world = installFile(call.world, call.process.pid, fd, { kind: 'group', group: group.id });
  return ok(putGroup(world, { ...group, opened: fileId }), { fd: BigInt(fd) });
}

/** The lowest-numbered fd of `process` whose file passes `test`. */
function lowestFd(world: World, process: Process, test: (file: OpenFile) => boolean): number | undefined {
  for (const [fd, id] of process.fds) {
    const file = world.files.get(id);
    if (file !== undefined && test(file)) return fd;
  }
  return undefined;
}

/** The group a group ioctl is issued on: the event's fd, by default the process's lowest group fd. */
function groupCall(call: Call): VfioGroup | Result {
  const { world, process } = call;
  const fd = call.event.fd ?? lowestFd(world, process, (f) => f.kind === 'group');
  const file = fd === undefined ? undefined : fileOf(world, process, fd);
  if (file === undefined) return refuse(call, fail('EBADF', 'fdget', 'no VFIO group fd open'));
  return file.kind === 'group' ? groupOf(world, file.group) : notAGroup(call, file);
}

/**
 * A group ioctl number on another file is one that file does not know: a native container
 * passes it to its driver (`vfio_fops_unl_ioctl()`: EINVAL while it has none), iommufd's VFIO
 * compatibility layer answers ENOTTY (`iommufd_vfio_ioctl()`), as any other file does.
 */
function notAGroup(call: Call, file: OpenFile): Result {
  if (file.kind === 'container') return containerOther(call, containerOf(call.world, file.container), namedArg(call.event.args));
  if (file.kind === 'iommufd') return refuse(call, fail('ENOTTY', 'iommufd_vfio_ioctl', 'not a container ioctl'));
  return refuse(call, fail('ENOTTY', 'vfs_ioctl', 'the fd is not a VFIO group'));
}

const isGroup = (g: VfioGroup | Result): g is VfioGroup => 'devices' in g;

/** `vfio_group_ioctl_get_status()`: VIABLE unless an iommufd owns a device; CONTAINER_SET (and VIABLE) once attached. */
export function groupGetStatus(call: Call): Result {
  const group = groupCall(call);
  if (!isGroup(group)) return group;
  const args = call.event.args;
  if (args === null) return refuse(call, fail('EFAULT', 'vfio_group_ioctl_get_status', 'copy_from_user of a NULL argument'));
  if (args.size < STATUS_MINSZ) return refuse(call, fail('EINVAL', 'vfio_group_ioctl_get_status', 'argsz below minsz'));
  const flags = hasIommu(group)
    ? VFIO_GROUP_FLAGS_CONTAINER_SET | VFIO_GROUP_FLAGS_VIABLE
    : owned(call.world, group)
      ? 0n
      : VFIO_GROUP_FLAGS_VIABLE;
  return ok(call.world, { flags });
}

/** The fd a container op without `fd` goes to: the lowest container fd, else the lowest /dev/iommu fd. */
export function defaultContainerFd(world: World, process: Process): number | undefined {
  return (
    lowestFd(world, process, (f) => f.kind === 'container' || (f.kind === 'iommufd' && f.container === true)) ??
    lowestFd(world, process, (f) => f.kind === 'iommufd' && f.container !== true)
  );
}

/**
 * Which group and which container fd a SET_CONTAINER names: on a group fd, `container_fd`; as
 * format 1 wrote it, on the container fd (default: the process's default container fd) with the
 * `group` number, whose open fd in the process is the one the ioctl is issued on.
 */
function setContainerTarget(call: Call): { group: VfioGroup; containerFd: number | undefined } | Result {
  const { world, process } = call;
  const args = call.event.args?.fields ?? {};
  const onGroup = call.event.fd !== undefined && fileOf(world, process, call.event.fd)?.kind === 'group';
  if (onGroup || typeof args['group'] !== 'bigint') {
    const group = groupCall(call);
    return isGroup(group) ? { group, containerFd: num(args, 'container_fd') } : group;
  }
  const id = Number(args['group']);
  const fd = lowestFd(world, process, (f) => f.kind === 'group' && f.group === id);
  if (fd === undefined) return refuse(call, fail('EBADF', 'fdget', `group ${id} is not open in the process`));
  return { group: groupOf(world, id), containerFd: call.event.fd ?? defaultContainerFd(world, process) };
}

/** The context with one more holder (`iommufd_ctx_get()`). */
const held = (ctx: Ctx): Ctx =>
  revise(ctx, (d) => {
    d.holders = ctx.holders + 1;
  });

/**
 * `vfio_group_ioctl_set_container()`: the container fd read (EFAULT) and looked up (EBADF);
 * a group already attached is EINVAL; a native container takes the group
 * (`vfio_container_attach_group()`); an iommufd gets a compat IOAS, or no-IOMMU mode for a
 * no-IOMMU group, and is held by the group; any other file is EBADFD. A native container's
 * driver taking an emulated device's group (type1's `emulated_iommu_groups`, its pin_pages)
 * is not modelled.
 */
export function groupSetContainer(call: Call): Result | null {
  const where = 'vfio_group_ioctl_set_container';
  if (call.event.args === null) return refuse(call, fail('EFAULT', where, 'get_user of a NULL argument'));
  const target = setContainerTarget(call);
  if (!('group' in target)) return target;
  const { world, process } = call;
  const { group, containerFd } = target;
  const file = containerFd === undefined ? undefined : fileOf(world, process, containerFd);
  if (file === undefined) return refuse(call, fail('EBADF', where, 'the container fd is not open'));
  if (hasIommu(group)) return refuse(call, fail('EINVAL', where, 'the group is attached already'));
  if (file.kind === 'container') {
    if (group.devices.some((i) => world.devices[i]?.model.kind === 'emulated')) return null;
    const attached = attachGroup(world, process, containerOf(world, file.container), group);
    return attached instanceof Fail ? refuse(call, attached) : ok(attached);
  }
  if (file.kind !== 'iommufd') return refuse(call, fail('EBADFD', where, 'neither a container nor an iommufd'));
  const ctx = world.contexts.get(file.ctx);
  if (ctx === undefined) throw new Error(`[iommufd-model] fd ${containerFd} holds a released context`);
  const noiommu = group.noiommu && world.vfio.config.drivers.includes('noiommu');
  const joined = noiommu ? compatSetNoIommu(ctx) : compatIoasCreate(ctx, call.choices);
  if (joined instanceof Fail) return refuse(call, joined);
  return ok(putGroup(putContext(world, held(joined)), { ...group, iommufd: ctx.id }));
}

/**
 * `vfio_group_ioctl_unset_container()`: EINVAL unless attached; a native container with a
 * device open through the group is EBUSY; an iommufd is let go whatever its devices do.
 */
export function groupUnsetContainer(call: Call): Result {
  const group = groupCall(call);
  if (!isGroup(group)) return group;
  const where = 'vfio_group_ioctl_unset_container';
  if (!hasIommu(group)) return refuse(call, fail('EINVAL', where, 'the group is not attached'));
  if (group.container !== null && group.containerUsers !== 1) return refuse(call, fail('EBUSY', where, 'a device is open through the group'));
  return ok(letGo(call.world, group));
}

/** The group leaves its container and lets its iommufd go (`vfio_group_fops_release()` does the same). */
function letGo(world: World, group: VfioGroup): World {
  let next = detachGroup(world, group);
  if (group.iommufd !== null) next = releaseContext(next, group.iommufd);
  return putGroup(next, { ...groupOf(next, group.id), iommufd: null });
}

/** `vfio_group_fops_release()`: the group leaves its container or iommufd and can be opened again. */
export function releaseGroupFile(world: World, id: number): World {
  const next = letGo(world, groupOf(world, id));
  return putGroup(next, { ...groupOf(next, id), opened: null });
}

/** `strndup_user(arg, PAGE_SIZE)`: a name and its NUL must fit in a page. */
const nameFits = (world: World, name: string): boolean => BigInt(Buffer.byteLength(name)) + 1n <= world.config.pageSize;

/**
 * `vfio_group_ioctl_get_device_fd()`: the name read (EFAULT, EINVAL past a page), a device of
 * the group by that name (ENODEV), then `vfio_df_group_open()`: the group must be attached
 * (EINVAL). A device's first open uses the container (`vfio_group_use_container()`: EINVAL
 * before `VFIO_SET_IOMMU`, EPERM for no-IOMMU without CAP_SYS_RAWIO; the device fd then holds
 * the group file), or binds it to the group's iommufd and attaches it to the compat IOAS. A
 * no-IOMMU device on an iommufd is not opened at all: EPERM without CAP_SYS_RAWIO or with a
 * compat IOAS, else an fd that allows nothing. The new fd is the return value.
 */
export function groupGetDeviceFd(call: Call): Result {
  const group = groupCall(call);
  if (!isGroup(group)) return group;
  const args = call.event.args;
  if (args === null) return refuse(call, fail('EFAULT', 'strndup_user', 'a NULL name'));
  const name = args.fields['dev'];
  const wanted = typeof name === 'string' ? name : '';
  if (!nameFits(call.world, wanted)) return refuse(call, fail('EINVAL', 'strndup_user', 'the name does not fit in a page'));
  const k = group.devices.findIndex((i) => call.world.devices[i]?.model.name === wanted);
  const index = group.devices[k];
  if (index === undefined) return refuse(call, fail('ENODEV', 'vfio_device_get_from_name', 'no device of the group has this name'));
  const where = 'vfio_df_group_open';
  if (!hasIommu(group)) return refuse(call, fail('EINVAL', where, 'the group is not attached'));
  const fd = chooseFd(call.process, call.choices, 'ret');
  const install = (world: World, opened: boolean): Result => ({
    ...ok(installFile(world, call.process.pid, fd, { kind: 'vfio-device', group: group.id, device: index, opened })),
    ret: BigInt(fd),
  });
  const opens = group.opens[k] as number;
  if (group.iommufd !== null && group.noiommu && opens === 0) {
    const ctx = contextOf(call.world, group.iommufd);
    if (!capable(call.process, 'CAP_SYS_RAWIO') || !(compatIoas(ctx) instanceof Fail)) {
      return refuse(call, fail('EPERM', where, 'a no-IOMMU device needs CAP_SYS_RAWIO and no compat IOAS'));
    }
    return install(call.world, false);
  }
  const counted = { ...group, opens: group.opens.map((n, j) => (j === k ? n + 1 : n)) };
  if (opens > 0) return install(putGroup(call.world, counted), true);
  const first = group.iommufd === null ? useContainer(call, counted) : bindToIommufd(call, counted, index);
  return first instanceof Fail ? refuse(call, first) : install(first, true);
}

function contextOf(world: World, id: number): Ctx {
  const ctx = world.contexts.get(id);
  if (ctx === undefined) throw new Error(`[iommufd-model] a group holds released context ${id}`);
  return ctx;
}

/** `vfio_group_use_container()`: one more container user, and one more hold on the group file. */
function useContainer(call: Call, group: VfioGroup): Fail | World {
  const { world } = call;
  const container = containerOf(world, group.container as number);
  if (container.driver === null) return fail('EINVAL', 'vfio_group_use_container', 'no IOMMU driver is set');
  if (group.noiommu && !capable(call.process, 'CAP_SYS_RAWIO')) return fail('EPERM', 'vfio_group_use_container', 'a no-IOMMU group needs CAP_SYS_RAWIO');
  const file = group.opened === null ? undefined : world.files.get(group.opened);
  if (file === undefined) throw new Error(`[iommufd-model] group ${group.id} is used with no open file`);
  const held = revise(world, (d) => {
    d.files = world.files.set(file.id, { ...file, refs: file.refs + 1 });
  });
  return putGroup(held, { ...group, containerUsers: group.containerUsers + 1 });
}

/**
 * `vfio_df_iommufd_bind()` then `vfio_iommufd_compat_attach_ioas()`: `iommufd_device_bind()`
 * (EPERM: MSIs not isolated without `iommufd.allow_unsafe_interrupts`, or the IOMMU group owned
 * by another context), then an attach of the RID to the compat IOAS (ENODEV without one). The
 * bound device holds the context.
 */
function bindToIommufd(call: Call, group: VfioGroup, index: number): Fail | World {
  const { world } = call;
  const ctx = contextOf(world, group.iommufd as number);
  const device = world.devices[index] as HeaderDevice;
  // An emulated device's bind creates an access: iommufd_device_bind() and its checks are not reached.
  const unsafe = isEmulated(device) ? null : msiBindRefusal(world, index);
  if (unsafe !== null) return unsafe;
  const owner = world.devices.find((d) => d.model.group === device.model.group && d.bound !== null);
  if (owner !== undefined && owner.bound?.ctx !== ctx.id) return fail('EPERM', 'iommu_device_claim_dma_owner', 'the group is owned by another context');
  const bound = bindOps(device, ctx, call.choices, 'devid');
  if (bound instanceof Fail) return bound;
  const ioas = compatIoas(bound.ctx);
  if (ioas instanceof Fail) return ioas;
  const attached = isEmulated(device) ? attachEmulated(world, bound.ctx, bound.id, ioas.id) : attachRid(call, bound.ctx, bound.id, ioas.id);
  if (attached instanceof Fail) return attached;
  const devices = world.devices.map((d, i) => (i === index ? { ...d, bound: { ctx: ctx.id, device: bound.id, fd: null }, ridAttached: true } : d));
  const next = revise(putContext(world, held(attached)), (d) => {
    d.devices = devices;
  });
  return putGroup(next, group);
}

/** `vfio_iommufd_physical_attach_ioas()` of a device just bound: a driver's fault is a failure here. */
function attachRid(call: Call, ctx: Ctx, devId: number, ioasId: number): Fail | Ctx {
  const attached = changePt(ptRequest(call, 'pt_id'), ctx, devId, IOMMU_NO_PASID, ioasId, 'attach');
  if (isRefusal(attached)) return attached instanceof Fail ? attached : attached.fail;
  return attached.ctx;
}

/**
 * `vfio_device_fops_release()` of a device fd from a group (`vfio_df_group_close()`): the
 * device's last close unbinds it from its iommufd (detaching what it had attached), or gives
 * up its container use and the hold on the group file, which the caller drops.
 */
export function releaseDeviceFile(world: World, groupId: number, index: number, opened: boolean): { world: World; groupFile: number | null } {
  const group = groupOf(world, groupId);
  const k = group.devices.indexOf(index);
  const opens = group.opens[k] ?? 0;
  if (!opened || opens === 0) return { world, groupFile: null };
  const counted = { ...group, opens: group.opens.map((n, j) => (j === k ? n - 1 : n)) };
  if (opens > 1) return { world: putGroup(world, counted), groupFile: null };
  const device = world.devices[index] as HeaderDevice;
  const closed = closeDevice(world, index);
  if (device.bound === null) {
    return { world: putGroup(closed, { ...counted, containerUsers: counted.containerUsers - 1 }), groupFile: group.opened };
  }
  const { ctx: ctxId, device: devId } = device.bound;
  const ctx = contextOf(closed, ctxId);
  const unbound = releaseContext(putContext(closed, unbindOps(closed, ctx, device, devId)), ctxId);
  const next = revise(unbound, (d) => {
    d.devices = world.devices.map((each, i) => (i === index ? { ...each, bound: null, ridAttached: false, pasids: [] } : each));
  });
  return { world: putGroup(next, counted), groupFile: null };
}
