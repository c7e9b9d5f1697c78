/**
 * The dispatcher: routes one event to its command, after the checks every event shares (a
 * live process, an open fd of the right kind) and, for ioctls, the common argument rules.
 * `step` is the model's single entry point: `(snapshot, event) → (snapshot', result)`.
 */
import { OPS, type OpName, type OpNameOf } from '../../events/ops.ts';
import type { Errno } from '../../events/errno.ts';
import type { OpFamily, OpSpec, StructSpec } from '../../events/spec-types.ts';
import type { Fields, TraceEvent } from '../../events/types.ts';
import { Choices, type Call, type RejectedChoice, type Result, big, refuse } from './command.ts';
import { destroy } from '../iommufd/main/destroy.ts';
import { close, ftruncate, memfdCreate, mmap, munmap, open, opensIommu } from '../mm/env-ops.ts';
import { type Fail, fail } from './fail.ts';
import { absentOp } from '../kernel/profile.ts';
import { withFailNth } from './fault-injection.ts';
import { inCommand } from './revise.ts';
import { fileOf } from '../mm/files.ts';
import {
  ioasAllowIovas,
  ioasAlloc,
  ioasChangeProcess,
  ioasCopy,
  ioasIovaRanges,
  ioasMap,
  ioasMapFile,
  ioasUnmap,
} from '../iommufd/ioas.ts';
import { check, exit, fork, setCaps, setRlimit, touch } from '../mm/processes.ts';
import { structIoctl } from '../iommufd/main/ioctl.ts';
import { option } from '../iommufd/main/option.ts';
import { getHwInfo } from '../iommufd/device/hw-info.ts';
import { addReserved, mdCheckRefs, setTempMemoryLimit } from '../iommufd/selftest/selftest.ts';
import { accessPages, accessReplaceIoas, accessRwOp, createAccess, destroyAccessPages } from '../iommufd/selftest/selftest-access.ts';
import { devCheckCache, mdCheckMap, mockDomain, mockDomainReplace } from '../iommufd/selftest/selftest-device.ts';
import { checkExtension, getApiVersion, iommuGetInfo, iommuMapDma, iommuUnmapDma, notEmulated, setIommu, vfioIoas } from '../vfio/compat.ts';
import {
  containerApiVersion,
  containerCheckExtension,
  containerCreateWindow,
  containerDirtyPages,
  containerDisable,
  containerEnable,
  containerGetInfo,
  containerMapDma,
  containerOther,
  containerRegisterMemory,
  containerRemoveWindow,
  containerSetIommu,
  containerSpaprGetInfo,
  containerUnmapDma,
  containerUnregisterMemory,
} from '../vfio/container/container.ts';
import { defaultContainerFd, groupGetDeviceFd, groupGetStatus, groupSetContainer, groupUnsetContainer } from '../vfio/group.ts';
import { type ContainerArg, namedArg, rawArg, rawArgs } from '../vfio/ioctl-arg.ts';
import type { Container } from '../vfio/state.ts';
import type { Ctx, World } from './world.ts';
import { getDirtyBitmap, setDirtyTracking, testDirty } from '../iommufd/hw-pagetable/dirty.ts';
import { fdRead, fdWrite } from '../iommufd/eventq/fd-io.ts';
import { faultAlloc, triggerIopf } from '../iommufd/eventq/fault.ts';
import { hwQueueAlloc } from '../iommufd/viommu/hw-queue.ts';
import { hwptAlloc } from '../iommufd/hw-pagetable/hwpt-alloc.ts';
import { hwptInvalidate } from '../iommufd/hw-pagetable/hwpt-invalidate.ts';
import { mdCheckIotlb } from '../iommufd/hw-pagetable/hwpt-nested.ts';
import { pasidAttach, pasidCheckHwpt, pasidDetach, pasidReplace } from '../iommufd/selftest/selftest-pasid.ts';
import { dmabufGet, dmabufRevoke } from '../iommufd/selftest/selftest-dmabuf.ts';
import { veventqAlloc, triggerVevent } from '../iommufd/eventq/veventq.ts';
import { attachPt, bindIommufd, detachPt } from '../vfio/device-cdev.ts';
import { deviceFeature, isDmaBufFeature } from '../vfio/dma-buf.ts';
import { vfioPinPages, vfioUnpinPages } from '../vfio/pin-pages.ts';
import { vdeviceAlloc, viommuAlloc } from '../iommufd/viommu/viommu.ts';

type IoctlHandler = (call: Call, ctx: Ctx, cmd: Fields) => Result;
/** A handler that may find the variant its state selects not modelled (null: unsupported). */
type EnvHandler = (call: Call) => Result | null;
type CompatHandler = (call: Call, ctx: Ctx, arg: ContainerArg) => Result;
/** A native container's ioctl. */
type NativeHandler = (call: Call, container: Container, arg: ContainerArg) => Result;

/** The ops of some families: each table below must name exactly these, every op being in the table of its family. */
type Handled<F extends OpFamily> = OpNameOf<F>;

/** Struct ioctls on an iommufd fd. */
export const IOCTLS: { readonly [Op in Handled<'iommufd' | 'selftest'>]: IoctlHandler } = {
  DESTROY: destroy,
  IOAS_ALLOC: ioasAlloc,
  IOAS_ALLOW_IOVAS: ioasAllowIovas,
  IOAS_COPY: ioasCopy,
  IOAS_IOVA_RANGES: ioasIovaRanges,
  IOAS_MAP: ioasMap,
  IOAS_MAP_FILE: ioasMapFile,
  IOAS_CHANGE_PROCESS: ioasChangeProcess,
  IOAS_UNMAP: ioasUnmap,
  OPTION: option,
  VFIO_IOAS: vfioIoas,
  GET_HW_INFO: getHwInfo,
  TEST_ADD_RESERVED: addReserved,
  TEST_SET_TEMP_MEMORY_LIMIT: setTempMemoryLimit,
  TEST_MD_CHECK_REFS: mdCheckRefs,
  TEST_MOCK_DOMAIN: mockDomain,
  TEST_MOCK_DOMAIN_FLAGS: mockDomain,
  TEST_MOCK_DOMAIN_REPLACE: mockDomainReplace,
  TEST_MD_CHECK_MAP: mdCheckMap,
  TEST_DEV_CHECK_CACHE: devCheckCache,
  TEST_CREATE_ACCESS: createAccess,
  TEST_ACCESS_PAGES: accessPages,
  TEST_DESTROY_ACCESS_PAGES: destroyAccessPages,
  TEST_ACCESS_RW: accessRwOp,
  TEST_ACCESS_REPLACE_IOAS: accessReplaceIoas,
  HWPT_ALLOC: hwptAlloc,
  HWPT_INVALIDATE: hwptInvalidate,
  HWPT_SET_DIRTY_TRACKING: setDirtyTracking,
  HWPT_GET_DIRTY_BITMAP: getDirtyBitmap,
  FAULT_QUEUE_ALLOC: faultAlloc,
  VIOMMU_ALLOC: viommuAlloc,
  VDEVICE_ALLOC: vdeviceAlloc,
  VEVENTQ_ALLOC: veventqAlloc,
  HW_QUEUE_ALLOC: hwQueueAlloc,
  TEST_DIRTY: testDirty,
  TEST_MD_CHECK_IOTLB: mdCheckIotlb,
  TEST_TRIGGER_IOPF: triggerIopf,
  TEST_TRIGGER_VEVENT: triggerVevent,
  TEST_PASID_ATTACH: pasidAttach,
  TEST_PASID_REPLACE: pasidReplace,
  TEST_PASID_DETACH: pasidDetach,
  TEST_PASID_CHECK_HWPT: pasidCheckHwpt,
  TEST_DMABUF_GET: dmabufGet,
  TEST_DMABUF_REVOKE: dmabufRevoke,
};

/**
 * The VFIO container ioctls iommufd answers (`iommufd_vfio_ioctl()`), by name or by raw number.
 * iommufd goes by the number: SPAPR_TCE_GET_INFO is its GET_INFO, and the other SPAPR and v1
 * numbers are none of its ioctls.
 */
export const VFIO_COMPAT: { readonly [Op in Handled<'vfio-container'>]: CompatHandler } = {
  VFIO_GET_API_VERSION: getApiVersion,
  VFIO_CHECK_EXTENSION: checkExtension,
  VFIO_SET_IOMMU: setIommu,
  VFIO_IOMMU_GET_INFO: iommuGetInfo,
  VFIO_IOMMU_SPAPR_TCE_GET_INFO: iommuGetInfo,
  VFIO_IOMMU_MAP_DMA: iommuMapDma,
  VFIO_IOMMU_UNMAP_DMA: iommuUnmapDma,
  VFIO_IOMMU_ENABLE: notEmulated,
  VFIO_IOMMU_DISABLE: notEmulated,
  VFIO_IOMMU_DIRTY_PAGES: notEmulated,
  VFIO_IOMMU_SPAPR_REGISTER_MEMORY: notEmulated,
  VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY: notEmulated,
  VFIO_IOMMU_SPAPR_TCE_CREATE: notEmulated,
  VFIO_IOMMU_SPAPR_TCE_REMOVE: notEmulated,
};

/** The same ioctls on a native container (`vfio_fops_unl_ioctl()`). */
export const VFIO_NATIVE: { readonly [Op in Handled<'vfio-container'>]: NativeHandler } = {
  VFIO_GET_API_VERSION: containerApiVersion,
  VFIO_CHECK_EXTENSION: containerCheckExtension,
  VFIO_SET_IOMMU: containerSetIommu,
  VFIO_IOMMU_GET_INFO: containerGetInfo,
  VFIO_IOMMU_SPAPR_TCE_GET_INFO: containerSpaprGetInfo,
  VFIO_IOMMU_MAP_DMA: containerMapDma,
  VFIO_IOMMU_UNMAP_DMA: containerUnmapDma,
  VFIO_IOMMU_ENABLE: containerEnable,
  VFIO_IOMMU_DISABLE: containerDisable,
  VFIO_IOMMU_DIRTY_PAGES: containerDirtyPages,
  VFIO_IOMMU_SPAPR_REGISTER_MEMORY: containerRegisterMemory,
  VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY: containerUnregisterMemory,
  VFIO_IOMMU_SPAPR_TCE_CREATE: containerCreateWindow,
  VFIO_IOMMU_SPAPR_TCE_REMOVE: containerRemoveWindow,
};

/** The VFIO group ioctls (`vfio_group_fops_unl_ioctl()`). */
export const VFIO_GROUP: { readonly [Op in Handled<'vfio-group'>]: EnvHandler } = {
  VFIO_GROUP_GET_STATUS: groupGetStatus,
  VFIO_GROUP_SET_CONTAINER: groupSetContainer,
  VFIO_GROUP_UNSET_CONTAINER: groupUnsetContainer,
  VFIO_GROUP_GET_DEVICE_FD: groupGetDeviceFd,
};

interface EnvOp {
  readonly run: EnvHandler;
  /** Whether the model covers the variant these arguments select. */
  readonly supports?: (args: Fields) => boolean;
}

/** Ops that run as they are: environment ops, raw ioctls, and the VFIO device cdev ioctls. */
export const PLAIN_OPS: { readonly [Op in Handled<'env' | 'raw' | 'vfio-device'>]: EnvOp } = {
  OPEN: { run: open, supports: opensIommu },
  CLOSE: { run: close },
  MMAP: { run: mmap },
  MUNMAP: { run: munmap },
  MEMFD_CREATE: { run: memfdCreate },
  FTRUNCATE: { run: ftruncate },
  FORK: { run: fork },
  EXIT: { run: exit },
  SET_CAPS: { run: setCaps },
  SET_RLIMIT: { run: setRlimit },
  TOUCH: { run: touch },
  CHECK: { run: check },
  IOCTL: { run: rawIoctl },
  FD_READ: { run: fdRead },
  FD_WRITE: { run: fdWrite },
  VFIO_DEVICE_BIND_IOMMUFD: { run: bindIommufd },
  VFIO_DEVICE_ATTACH_IOMMUFD_PT: { run: attachPt },
  VFIO_DEVICE_DETACH_IOMMUFD_PT: { run: detachPt },
  VFIO_DEVICE_FEATURE: { run: deviceFeature, supports: isDmaBufFeature },
  VFIO_PIN_PAGES: { run: vfioPinPages },
  VFIO_UNPIN_PAGES: { run: vfioUnpinPages },
};

export interface StepOutcome {
  readonly world: World;
  /** `null`: the model has no handler for this op or variant; nothing changed. */
  readonly result: Result | null;
  /** Recorded free choices that were not legal (each one divergence). */
  readonly rejected: readonly RejectedChoice[];
  /** The event named no live process (ESRCH) or no open fd (EBADF): it could not be issued. */
  readonly unissued: boolean;
  /** With `fail_nth`: whether the command reached that injection point (and failed there). */
  readonly injected?: boolean;
}

export interface StepOptions {
  /** Adopt the free choices the event records (the default); `false` is `--own-choices`. */
  readonly adopt: boolean;
}

/** Whether `op` has a handler in `table`. */
const handles = <Op extends OpName>(table: { readonly [K in Op]: unknown }, op: OpName): op is Op =>
  Object.hasOwn(table, op);

/** Whether the model has a handler for this event's op and the variant its args select. */
export function isSupported(event: TraceEvent): boolean {
  const { op } = event;
  if (handles(IOCTLS, op) || handles(VFIO_COMPAT, op) || handles(VFIO_GROUP, op)) return true;
  return handles(PLAIN_OPS, op) && (PLAIN_OPS[op].supports?.(event.args?.fields ?? {}) ?? true);
}

export function step(world: World, event: TraceEvent, options: StepOptions): StepOutcome {
  if (!isSupported(event)) return { world, result: null, rejected: [], unissued: false };
  const choices = new Choices(options.adopt ? (event.expect?.out ?? null) : null);
  const pid = event.pid ?? world.firstPid;
  const process = world.processes.get(pid);
  if (process === undefined) return unissued(world, NO_PROCESS);
  const call: Call = { world, event, process, choices };
  if (event.fd !== undefined && !process.fds.has(event.fd)) return unissued(world, FD_NOT_OPEN);
  const { value: result, fired } = withFailNth(event.failNth, () => inCommand(() => run(call)));
  if (result === null) return { world, result: null, rejected: [], unissued: false };
  return {
    world: result.world,
    result,
    rejected: choices.rejected,
    unissued: false,
    ...(event.failNth === undefined ? {} : { injected: fired }),
  };
}

// Events that no process could have issued: the trace names a dead pid or a closed fd.
const NO_PROCESS = fail('ESRCH', 'find_task_by_vpid', 'the pid names no live process');
const FD_NOT_OPEN = fail('EBADF', 'fdget', 'the fd is not open in the process');

function unissued(world: World, f: Fail): StepOutcome {
  return { world, result: { world, errno: f.errno, check: f.check, out: {} }, rejected: [], unissued: true };
}

function run(call: Call): Result | null {
  const { op, args } = call.event;
  const spec = OPS.get(op);
  const absent = absentOp(call.world.config.kernel, op);
  if (handles(PLAIN_OPS, op)) {
    // A VFIO device ioctl this release does not have goes to the driver's ioctl, which does not know it.
    return absent === undefined ? PLAIN_OPS[op].run(call) : refuse(call, fail(absent, 'vfio_device_fops_unl_ioctl', 'no such ioctl in this release'));
  }
  if (handles(VFIO_GROUP, op)) return VFIO_GROUP[op](call);
  const container = spec?.family === 'vfio-container';
  const target = iommufdOf(call, container);
  if ('container' in target) return handles(VFIO_NATIVE, op) ? VFIO_NATIVE[op](call, target.container, namedArg(args)) : containerOther(call, target.container, namedArg(args));
  if (!('ctx' in target)) return target;
  if (handles(VFIO_COMPAT, op)) return VFIO_COMPAT[op](call, target.ctx, namedArg(args));
  if (!handles(IOCTLS, op)) throw new Error(`[iommufd-model] ${op} has no handler`);
  const handler = IOCTLS[op];
  const layout = spec?.layout;
  if (layout?.kind !== 'struct') throw new Error(`[iommufd-model] ${op} has no struct layout`);
  if (absent !== undefined) return absentIoctl(call, layout.struct, spec?.family === 'selftest', absent);
  return structIoctl(call, layout.struct, (cmd) => handler(call, target.ctx, cmd));
}

/**
 * An iommufd ioctl this kernel release does not have. `iommufd_fops_ioctl()` reads `size` before
 * it finds the number's slot empty (-ENOIOCTLCMD, ENOTTY to user space); a selftest op goes
 * through IOMMU_TEST_CMD's common rules to `iommufd_test()`, which does not know it.
 */
function absentIoctl(call: Call, struct: StructSpec, selftest: boolean, errno: Errno): Result {
  if (selftest) return structIoctl(call, struct, () => refuse(call, fail(errno, 'iommufd_test', 'no such test op in this release')));
  if (call.event.args === null) return refuse(call, fail('EFAULT', 'iommufd_fops_ioctl', 'get_user(size) of a NULL argument'));
  return refuse(call, fail(errno, 'iommufd_fops_ioctl', 'no such ioctl in this release'));
}

/**
 * The context or native container behind the event's fd. Without `fd`, a container op goes to
 * the process's lowest container fd, else its lowest /dev/iommu fd; any other op to its lowest
 * /dev/iommu fd.
 */
function iommufdOf(call: Call, containerOp: boolean): { readonly ctx: Ctx } | { readonly container: Container } | Result {
  const { process, world } = call;
  let fd = call.event.fd;
  if (fd === undefined && containerOp) fd = defaultContainerFd(world, process);
  if (fd === undefined) {
    for (const [n, id] of process.fds) {
      const file = world.files.get(id);
      if (file?.kind === 'iommufd' && file.container !== true) {
        fd = n;
        break;
      }
    }
  }
  const file = fd === undefined ? undefined : fileOf(world, process, fd);
  if (file === undefined) return refuse(call, fail('EBADF', 'fdget', 'no /dev/iommu fd open'));
  if (file.kind === 'container') {
    const container = world.vfio.containers.get(file.container);
    if (container === undefined) throw new Error(`[iommufd-model] fd ${fd} holds a released container`);
    return { container };
  }
  if (file.kind === 'group') return refuse(call, fail('ENOTTY', 'vfio_group_fops_unl_ioctl', 'not an ioctl of a group'));
  if (file.kind !== 'iommufd') return refuse(call, fail('ENOTTY', 'vfs_ioctl', 'the fd is not /dev/iommu'));
  const ctx = world.contexts.get(file.ctx);
  if (ctx === undefined) throw new Error(`[iommufd-model] fd ${fd} holds a released context`);
  return { ctx };
}

/** `IOMMUFD_CMD_BASE` and the ops table size of a kernel built with the selftest (0x80..0xa0). */
const CMD_BASE = 0x80n;
const TABLE_SIZE = 0x21n;

/** The op a raw ioctl number names, if any. */
function opOfNumber(cmd: bigint): OpSpec<OpName> | undefined {
  for (const spec of OPS.values()) if (spec.ioctl !== undefined && BigInt(spec.ioctl) === cmd) return spec;
  return undefined;
}

/**
 * `vfio_fops_unl_ioctl()` for a raw number on a native container: the container ioctl the
 * number names, else what its driver answers to an unknown one.
 */
function nativeByNumber(call: Call, container: Container, cmd: bigint, arg: ContainerArg): Result {
  for (const spec of OPS.values()) {
    const { op, ioctl } = spec;
    if (handles(VFIO_NATIVE, op) && ioctl !== undefined && BigInt(ioctl) === cmd) return VFIO_NATIVE[op](call, container, arg);
  }
  return containerOther(call, container, arg);
}

/**
 * `vfio_group_fops_unl_ioctl()` for a raw number: the group ioctl the whole number names, its
 * argument read from zeroed memory (argsz 0, container fd 0, an empty device name) or NULL.
 */
function groupByNumber(call: Call, cmd: bigint, args: Fields): Result | null {
  for (const { op, ioctl } of OPS.values()) {
    if (handles(VFIO_GROUP, op) && ioctl !== undefined && BigInt(ioctl) === cmd) return VFIO_GROUP[op]({ ...call, event: { ...call.event, args: rawArgs(args) } });
  }
  return refuse(call, fail('ENOTTY', 'vfio_group_fops_unl_ioctl', 'not an ioctl of a group'));
}

/** The container ioctl iommufd emulates under this whole number (SPAPR ops reuse type1 numbers). */
function compatOfNumber(cmd: bigint): CompatHandler | undefined {
  for (const spec of OPS.values()) {
    const { op, ioctl } = spec;
    if (handles(VFIO_COMPAT, op) && ioctl !== undefined && BigInt(ioctl) === cmd) return VFIO_COMPAT[op];
  }
  return undefined;
}

/**
 * `iommufd_fops_ioctl()` for a raw number: numbers outside the iommufd table go to the VFIO
 * compat handler, which runs the container ioctl the whole number names and answers ENOTTY
 * to any other (argument unread); inside it, `size` is read first (EFAULT for a NULL
 * argument), then the number must match the slot. The argument points at zeroed memory, so a
 * matching op sees size 0 (or argsz 0): below every minimum.
 */
function rawIoctl(call: Call): Result | null {
  const args = call.event.args?.fields ?? {};
  const fd = call.event.fd;
  if (fd !== undefined && fileOf(call.world, call.process, fd)?.kind === 'group') return groupByNumber(call, big(args, 'cmd'), args);
  const target = iommufdOf(call, false);
  if ('container' in target) return nativeByNumber(call, target.container, big(args, 'cmd'), rawArg(args));
  if (!('ctx' in target)) return target;
  const cmd = big(args, 'cmd');
  const nr = cmd & 0xffn;
  if (nr < CMD_BASE || nr - CMD_BASE >= TABLE_SIZE) {
    const compat = compatOfNumber(cmd);
    return compat === undefined ? refuse(call, fail('ENOTTY', 'iommufd_vfio_ioctl', 'no container ioctl has this number')) : compat(call, target.ctx, rawArg(args));
  }
  if ('arg' in args && args['arg'] === null) return refuse(call, fail('EFAULT', 'iommufd_fops_ioctl', 'get_user(size) of a NULL argument'));
  const named = opOfNumber(cmd);
  if (named === undefined) return refuse(call, fail('ENOTTY', 'iommufd_fops_ioctl', 'the number does not match its slot'));
  if (named.family === 'iommufd' && absentOp(call.world.config.kernel, named.op) !== undefined) {
    return refuse(call, fail('ENOTTY', 'iommufd_fops_ioctl', 'no such ioctl in this release'));
  }
  return refuse(call, fail('EINVAL', 'iommufd_fops_ioctl', 'size 0 is below the minimum'));
}
