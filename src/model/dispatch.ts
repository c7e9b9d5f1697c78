/**
 * The dispatcher: routes one event to its command, after the checks every event shares (a
 * live process, an open fd of the right kind) and, for ioctls, the common argument rules.
 * `step` is the model's single entry point: `(snapshot, event) → (snapshot', result)`.
 */
import { OPS } from '../../events/ops.ts';
import type { Fields, OpSpec, TraceEvent } from '../../events/types.ts';
import { Choices, type Call, type RejectedChoice, type Result, big, refuse } from './command.ts';
import { destroy } from '../iommufd/main/destroy.ts';
import { close, ftruncate, memfdCreate, mmap, munmap, open, opensIommu } from '../mm/env-ops.ts';
import { type Fail, fail } from './fail.ts';
import { withFailNth } from './fault-injection.ts';
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
import {
  type CompatArg,
  checkExtension,
  getApiVersion,
  iommuGetInfo,
  iommuMapDma,
  iommuUnmapDma,
  namedArg,
  rawArg,
  setIommu,
  vfioIoas,
} from '../vfio/compat.ts';
import type { Ctx, World } from './world.ts';
import { getDirtyBitmap, setDirtyTracking, testDirty } from '../iommufd/hw-pagetable/dirty.ts';
import { fdRead, fdWrite } from '../iommufd/eventq/fd-io.ts';
import { faultAlloc, triggerIopf } from '../iommufd/eventq/fault.ts';
import { hwQueueAlloc } from '../iommufd/viommu/hw-queue.ts';
import { hwptAlloc } from '../iommufd/hw-pagetable/hwpt-alloc.ts';
import { hwptInvalidate } from '../iommufd/hw-pagetable/hwpt-invalidate.ts';
import { mdCheckIotlb } from '../iommufd/hw-pagetable/hwpt-nested.ts';
import { pasidAttach, pasidCheckHwpt, pasidDetach, pasidReplace } from '../iommufd/selftest/selftest-pasid.ts';
import { veventqAlloc, triggerVevent } from '../iommufd/eventq/veventq.ts';
import { attachPt, bindIommufd, detachPt } from '../vfio/device-cdev.ts';
import { vdeviceAlloc, viommuAlloc } from '../iommufd/viommu/viommu.ts';

type IoctlHandler = (call: Call, ctx: Ctx, cmd: Fields) => Result;
type EnvHandler = (call: Call) => Result;
type CompatHandler = (call: Call, ctx: Ctx, arg: CompatArg) => Result;

const IOCTLS: Readonly<Record<string, IoctlHandler>> = {
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
};

/** The VFIO container ioctls iommufd answers (`iommufd_vfio_ioctl()`), by name or by raw number. */
const VFIO_COMPAT: Readonly<Record<string, CompatHandler>> = {
  VFIO_GET_API_VERSION: getApiVersion,
  VFIO_CHECK_EXTENSION: checkExtension,
  VFIO_SET_IOMMU: setIommu,
  VFIO_IOMMU_GET_INFO: iommuGetInfo,
  VFIO_IOMMU_MAP_DMA: iommuMapDma,
  VFIO_IOMMU_UNMAP_DMA: iommuUnmapDma,
};

interface EnvOp {
  readonly run: EnvHandler;
  /** Whether the model covers the variant these arguments select. */
  readonly supports?: (args: Fields) => boolean;
}

const PLAIN_OPS: Readonly<Record<string, EnvOp>> = {
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

/** Whether the model has a handler for this event's op and the variant its args select. */
export function isSupported(event: TraceEvent): boolean {
  if (IOCTLS[event.op] !== undefined || VFIO_COMPAT[event.op] !== undefined) return true;
  const env = PLAIN_OPS[event.op];
  return env !== undefined && (env.supports?.(event.args?.fields ?? {}) ?? true);
}

export function step(world: World, event: TraceEvent, options: StepOptions): StepOutcome {
  if (!isSupported(event)) return { world, result: null, rejected: [], unissued: false };
  const choices = new Choices(options.adopt ? (event.expect?.out ?? null) : null);
  const pid = event.pid ?? world.firstPid;
  const process = world.processes.get(pid);
  if (process === undefined) return unissued(world, NO_PROCESS);
  const call: Call = { world, event, process, choices };
  if (event.fd !== undefined && !process.fds.has(event.fd)) return unissued(world, FD_NOT_OPEN);
  const { value: result, fired } = withFailNth(event.failNth, () => run(call));
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

function run(call: Call): Result {
  const { event } = call;
  const env = PLAIN_OPS[event.op];
  if (env !== undefined) return env.run(call);
  const spec = OPS.get(event.op) as OpSpec;
  const target = iommufdOf(call);
  if (!('ctx' in target)) return target;
  const compat = VFIO_COMPAT[event.op];
  if (compat !== undefined) return compat(call, target.ctx, namedArg(event.args));
  const handler = IOCTLS[event.op] as IoctlHandler;
  if (spec.layout.kind !== 'struct') throw new Error(`[iommufd-model] ${event.op} has no struct layout`);
  return structIoctl(call, spec.layout.struct, (cmd) => handler(call, target.ctx, cmd));
}

/** The context behind the event's fd (default: the process's lowest /dev/iommu fd). */
function iommufdOf(call: Call): { readonly ctx: Ctx } | Result {
  const { process, world } = call;
  let fd = call.event.fd;
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
  if (file.kind !== 'iommufd') return refuse(call, fail('ENOTTY', 'vfs_ioctl', 'the fd is not /dev/iommu'));
  const ctx = world.contexts.get(file.ctx);
  if (ctx === undefined) throw new Error(`[iommufd-model] fd ${fd} holds a released context`);
  return { ctx };
}

/** `IOMMUFD_CMD_BASE` and the ops table size of a kernel built with the selftest (0x80..0xa0). */
const CMD_BASE = 0x80n;
const TABLE_SIZE = 0x21n;

/** The op a raw ioctl number names, if any. */
function opOfNumber(cmd: bigint): OpSpec | undefined {
  for (const spec of OPS.values()) if (spec.ioctl !== undefined && BigInt(spec.ioctl) === cmd) return spec;
  return undefined;
}

/** The container ioctl iommufd emulates under this whole number (SPAPR ops reuse type1 numbers). */
function compatOfNumber(cmd: bigint): CompatHandler | undefined {
  for (const spec of OPS.values()) {
    const compat = VFIO_COMPAT[spec.op];
    if (compat !== undefined && spec.ioctl !== undefined && BigInt(spec.ioctl) === cmd) return compat;
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
function rawIoctl(call: Call): Result {
  const target = iommufdOf(call);
  if (!('ctx' in target)) return target;
  const args = call.event.args?.fields ?? {};
  const cmd = big(args, 'cmd');
  const nr = cmd & 0xffn;
  if (nr < CMD_BASE || nr - CMD_BASE >= TABLE_SIZE) {
    const compat = compatOfNumber(cmd);
    return compat === undefined ? refuse(call, fail('ENOTTY', 'iommufd_vfio_ioctl', 'no container ioctl has this number')) : compat(call, target.ctx, rawArg(args));
  }
  if ('arg' in args && args['arg'] === null) return refuse(call, fail('EFAULT', 'iommufd_fops_ioctl', 'get_user(size) of a NULL argument'));
  if (opOfNumber(cmd) === undefined) return refuse(call, fail('ENOTTY', 'iommufd_fops_ioctl', 'the number does not match its slot'));
  return refuse(call, fail('EINVAL', 'iommufd_fops_ioctl', 'size 0 is below the minimum'));
}
