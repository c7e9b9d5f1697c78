/**
 * The native VFIO container (drivers/vfio/container.c): its ioctls, and how groups join and
 * leave it.
 *
 * A container takes an IOMMU driver only once a group is in it (`VFIO_SET_IOMMU`), keeps one
 * driver, and makes every later group join that driver's address space; detaching the last
 * group releases the driver and everything it pinned, and the container is empty again. The
 * /dev/vfio/vfio file is one holder of the container among its groups: closing it while a
 * group is attached releases nothing.
 */
import type { StructSpec } from '../../../events/spec-types.ts';
import * as S from '../../../events/structs.ts';
import type { VfioDriverName } from '../../../events/types.ts';
import { type Call, type Result, ok, refuse } from '../../model/command.ts';
import { Fail, fail } from '../../model/fail.ts';
import type { Process, World } from '../../model/world.ts';
import { type ContainerArg, readAs } from '../ioctl-arg.ts';
import type { Container, ContainerDriver, Type1, VfioGroup } from '../state.ts';
import { capable, containerOf, groupOf, putContainer, putGroup } from '../store.ts';
import { DRIVERS, opsOf, registered } from './drivers.ts';
import { type1Detach, type1Release } from './type1.ts';
import { type1DirtyPages } from './type1-dirty.ts';
import { spaprDetach, spaprDisable, spaprEnable, spaprGetInfo, spaprOther, spaprRelease } from './spapr.ts';
import { currentMm } from './spapr-call.ts';
import { spaprMapDma, spaprUnmapDma } from './spapr-dma.ts';
import { aliasedOut } from './aliased-out.ts';
import { spaprRegister, spaprUnregister } from './spapr-prereg.ts';
import { spaprCreate, spaprRemove } from './spapr-windows.ts';
import { mapDma, unmapDma } from './type1-dma.ts';
import { type1GetInfo } from './type1-info.ts';
import { VFIO_API_VERSION } from '../uapi.ts';

/** A successful ioctl whose return value is its answer. */
const answer = (result: Result, ret: bigint): Result => ({ ...result, ret });

/**
 * `vfio_iommu_driver_allowed()`: with CONFIG_VFIO_NOIOMMU built, a no-IOMMU container takes
 * only the no-IOMMU driver and any other container every driver but that one.
 */
function allowed(world: World, container: Container, name: VfioDriverName): boolean {
  if (!world.vfio.config.drivers.includes('noiommu')) return true;
  return container.noiommu === (name === 'noiommu');
}

/** `VFIO_GET_API_VERSION`: the argument is not read. */
export const containerApiVersion = (call: Call): Result => answer(ok(call.world), VFIO_API_VERSION);

/**
 * `vfio_container_ioctl_check_extension()`: the driver's answer once one is set; before, the
 * first positive answer of the registered drivers (those the container's groups allow), else
 * the last one asked (0).
 */
export function containerCheckExtension(call: Call, container: Container, arg: ContainerArg): Result {
  const { world } = call;
  if (container.driver !== null) return answer(ok(world), opsOf(container.driver).extension(world, container.driver, arg.value));
  let ret = 0n;
  for (const name of registered(world)) {
    if (container.groups.length > 0 && !allowed(world, container, name)) continue;
    ret = DRIVERS[name].extension(world, null, arg.value);
    if (ret > 0n) break;
  }
  return answer(ok(world), ret);
}

/**
 * `vfio_ioctl_set_iommu()`: the container needs a group and no driver yet (EINVAL). Each
 * registered driver the groups allow and that offers the type is opened and given every group
 * in turn; the first that takes them all is the container's. Otherwise the error of the last
 * one tried, or ENODEV when none offered the type.
 */
export function containerSetIommu(call: Call, container: Container, arg: ContainerArg): Result {
  const { world, process } = call;
  if (container.groups.length === 0 || container.driver !== null) {
    return refuse(call, fail('EINVAL', 'vfio_ioctl_set_iommu', 'the container has no group, or has a driver'));
  }
  let ret = fail('ENODEV', 'vfio_ioctl_set_iommu', 'no registered driver takes this type');
  for (const name of registered(world)) {
    if (!allowed(world, container, name)) continue;
    const ops = DRIVERS[name];
    if (ops.extension(world, null, arg.value) <= 0n) continue;
    const opened = attachAll(world, process, container, name, arg.value);
    if (opened instanceof Fail) {
      ret = opened;
      continue;
    }
    return answer(ok(putContainer(world, { ...container, driver: opened })), 0n);
  }
  return refuse(call, ret);
}

/** `ops->open()` then `__vfio_container_attach_groups()` in list order. */
function attachAll(world: World, process: Process, container: Container, name: VfioDriverName, arg: bigint): Fail | ContainerDriver {
  const ops = DRIVERS[name];
  let data = ops.open(world, process, arg);
  for (const id of container.groups) {
    if (data instanceof Fail) return data;
    data = ops.attach(world, data, groupOf(world, id));
  }
  return data;
}

/**
 * `vfio_container_attach_group()`, for `VFIO_GROUP_SET_CONTAINER`: a no-IOMMU group needs
 * CAP_SYS_RAWIO (EPERM); groups with and without an IOMMU do not mix (EPERM); the group's DMA
 * must not be owned already, as an iommufd owns a device it bound (`iommu_group_claim_dma_owner()`,
 * EPERM); with a driver set, the driver must take the group.
 */
export function attachGroup(world: World, process: Process, container: Container, group: VfioGroup): Fail | World {
  const where = 'vfio_container_attach_group';
  if (group.noiommu && !capable(process, 'CAP_SYS_RAWIO')) return fail('EPERM', where, 'a no-IOMMU group needs CAP_SYS_RAWIO');
  if (container.groups.length > 0 && container.noiommu !== group.noiommu) return fail('EPERM', where, 'groups with and without an IOMMU do not mix');
  if (!group.noiommu && group.devices.some((i) => world.devices[i]?.bound != null)) {
    return fail('EPERM', 'iommu_group_claim_dma_owner', 'the group is owned by an iommufd');
  }
  let driver = container.driver;
  if (driver !== null) {
    const taken = opsOf(driver).attach(world, driver, group);
    if (taken instanceof Fail) return taken;
    driver = taken;
  }
  const joined: Container = { ...container, driver, noiommu: group.noiommu, groups: [group.id, ...container.groups] };
  return putGroup(putContainer(world, joined), { ...group, container: container.id, containerUsers: 1 });
}

/**
 * `vfio_group_detach_container()`: the driver lets the group go (type1 unpins everything with
 * its last domain); the last group takes the driver with it (`ops->release()`: SPAPR TCE frees
 * its windows and puts its pre-registered regions). The container goes when its file is closed
 * too.
 */
export function detachGroup(world: World, group: VfioGroup): World {
  if (group.container === null) return world;
  const container = containerOf(world, group.container);
  let next = world;
  let driver = container.driver;
  if (driver?.kind === 'type1') {
    let iommu: Type1;
    ({ world: next, iommu } = type1Detach(world, driver.iommu, group.id));
    driver = { kind: 'type1', iommu };
  }
  if (driver?.kind === 'spapr_tce') {
    next = spaprDetach(world, container.id, group.id);
    driver = containerOf(next, container.id).driver;
  }
  const groups = container.groups.filter((g) => g !== group.id);
  if (groups.length === 0 && driver !== null) {
    if (driver.kind === 'type1') next = type1Release(next, driver.iommu);
    if (driver.kind === 'spapr_tce') next = spaprRelease(next, container.id);
    driver = null;
  }
  return putGroup(putContainer(next, { ...containerOf(next, container.id), groups, driver }), { ...group, container: null, containerUsers: 0 });
}

/** `vfio_fops_release()`: the file drops its hold; groups keep the container and its driver. */
export function releaseContainerFile(world: World, id: number): World {
  const container = world.vfio.containers.get(id);
  return container === undefined ? world : putContainer(world, { ...container, fileOpen: false });
}

type Type1Ioctl = (call: Call, id: number, iommu: Type1, arg: ContainerArg) => Result;
type SpaprIoctl = (call: Call, id: number, arg: ContainerArg) => Result;

/** What a driver does with an ioctl number: the struct it reads there and its handler; null when the number is not its ioctl. */
interface ByDriver<H> {
  readonly struct: StructSpec | null;
  readonly run: H;
}

const TYPE1_ENOTTY = fail('ENOTTY', 'vfio_iommu_type1_ioctl', 'not an ioctl of the driver');

/**
 * An ioctl `vfio_fops_unl_ioctl()` passes to the driver, named by an op whose struct is
 * `named`: EINVAL without a driver; no-IOMMU knows only CHECK_EXTENSION (ENOTTY); type1 and
 * SPAPR TCE read the number each as its own ioctl, the op's fields by their offsets (readAs),
 * and the caller reads what the driver copied back through the op's struct (aliasedOut).
 */
const toDriver =
  (named: StructSpec | null, type1: ByDriver<Type1Ioctl> | null, spapr: ByDriver<SpaprIoctl> | null) =>
  (call: Call, container: Container, arg: ContainerArg): Result => {
    const driver = container.driver;
    if (driver === null) return refuse(call, fail('EINVAL', 'vfio_fops_unl_ioctl', 'no IOMMU driver is set'));
    if (driver.kind === 'noiommu') return refuse(call, fail('ENOTTY', 'vfio_noiommu_ioctl', 'not an ioctl of the driver'));
    if (driver.kind === 'spapr_tce') {
      const c = currentMm(call, container.id);
      return spapr === null ? spaprOther(c, container.id) : asDriver(named, arg, spapr.struct, (given) => spapr.run(c, container.id, given));
    }
    return type1 === null ? refuse(call, TYPE1_ENOTTY) : asDriver(named, arg, type1.struct, (given) => type1.run(call, container.id, driver.iommu, given));
  };

/** The driver reads the op's argument as its own struct (readAs), and the caller its answer as the op's (aliasedOut). */
function asDriver(named: StructSpec | null, arg: ContainerArg, struct: StructSpec | null, run: (given: ContainerArg) => Result): Result {
  if (named === null || struct === null || named === struct) return run(arg);
  const given = readAs(arg, named, struct);
  const result = run(given);
  if (result.errno !== null || arg.struct === null || given.struct === null) return result;
  return { ...result, out: aliasedOut(named, arg.struct, struct, given.struct, result.out) };
}

const GET_INFO = {
  type1: { struct: S.VFIO_IOMMU_TYPE1_INFO, run: (call: Call, _id: number, iommu: Type1, arg: ContainerArg) => type1GetInfo(call, iommu, arg) },
  spapr: { struct: S.VFIO_IOMMU_SPAPR_TCE_INFO, run: spaprGetInfo },
};
const MAP = { type1: { struct: null, run: mapDma }, spapr: { struct: null, run: spaprMapDma } };
const UNMAP = { type1: { struct: null, run: unmapDma }, spapr: { struct: null, run: spaprUnmapDma } };
const DIRTY_OR_REGISTER = {
  type1: { struct: S.VFIO_IOMMU_TYPE1_DIRTY_BITMAP, run: type1DirtyPages },
  spapr: { struct: S.VFIO_IOMMU_SPAPR_REGISTER_MEMORY, run: spaprRegister },
};
const spaprOnly = (run: SpaprIoctl) => ({ struct: null, run });

export const containerGetInfo = toDriver(S.VFIO_IOMMU_TYPE1_INFO, GET_INFO.type1, GET_INFO.spapr);
export const containerSpaprGetInfo = toDriver(S.VFIO_IOMMU_SPAPR_TCE_INFO, GET_INFO.type1, GET_INFO.spapr);
export const containerMapDma = toDriver(null, MAP.type1, MAP.spapr);
export const containerUnmapDma = toDriver(null, UNMAP.type1, UNMAP.spapr);
export const containerDirtyPages = toDriver(S.VFIO_IOMMU_TYPE1_DIRTY_BITMAP, DIRTY_OR_REGISTER.type1, DIRTY_OR_REGISTER.spapr);
export const containerRegisterMemory = toDriver(S.VFIO_IOMMU_SPAPR_REGISTER_MEMORY, DIRTY_OR_REGISTER.type1, DIRTY_OR_REGISTER.spapr);
export const containerUnregisterMemory = toDriver(null, null, spaprOnly(spaprUnregister));
export const containerEnable = toDriver(null, null, spaprOnly((call, id) => spaprEnable(call, id)));
export const containerDisable = toDriver(null, null, spaprOnly((call, id) => spaprDisable(call, id)));
export const containerCreateWindow = toDriver(null, null, spaprOnly(spaprCreate));
export const containerRemoveWindow = toDriver(null, null, spaprOnly(spaprRemove));

/** Another ioctl on a container: what its driver answers to one it does not know (ENOTTY), EINVAL without a driver. */
export const containerOther = toDriver(null, null, null);
