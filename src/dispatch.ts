/**
 * The dispatcher: routes one event to its command, after the checks every event shares (a
 * live process, an open fd of the right kind) and, for ioctls, the common argument rules.
 * `step` is the model's single entry point: `(snapshot, event) → (snapshot', result)`.
 */
import { OPS } from '../events/ops.ts';
import type { Fields, OpSpec, TraceEvent } from '../events/types.ts';
import { Choices, type Call, type RejectedChoice, type Result, big } from './command.ts';
import { destroy } from './destroy.ts';
import { close, ftruncate, memfdCreate, mmap, munmap, open, opensIommu } from './env-ops.ts';
import { fail } from './fail.ts';
import { fileOf } from './files.ts';
import {
  ioasAllowIovas,
  ioasAlloc,
  ioasChangeProcess,
  ioasCopy,
  ioasIovaRanges,
  ioasMap,
  ioasMapFile,
  ioasUnmap,
} from './ioas.ts';
import { check, exit, fork, setCaps, setRlimit, touch } from './processes.ts';
import { structIoctl } from './ioctl.ts';
import { option } from './option.ts';
import { getHwInfo } from './hw-info.ts';
import { addReserved, mdCheckRefs, setTempMemoryLimit } from './selftest.ts';
import { accessPages, accessReplaceIoas, accessRwOp, createAccess, destroyAccessPages } from './selftest-access.ts';
import { devCheckCache, mdCheckMap, mockDomain, mockDomainReplace } from './selftest-device.ts';
import type { Ctx, World } from './world.ts';

type IoctlHandler = (call: Call, ctx: Ctx, cmd: Fields) => Result;
type EnvHandler = (call: Call) => Result;

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
  IOCTL: { run: rawIoctl, supports: rawIoctlSupported },
};

export interface StepOutcome {
  readonly world: World;
  /** `null`: the model has no handler for this op or variant; nothing changed. */
  readonly result: Result | null;
  /** Recorded free choices that were not legal (each one divergence). */
  readonly rejected: readonly RejectedChoice[];
  /** The event named no live process (ESRCH) or no open fd (EBADF): it could not be issued. */
  readonly unissued: boolean;
}

export interface StepOptions {
  /** Adopt the free choices the event records (the default); `false` is `--own-choices`. */
  readonly adopt: boolean;
}

/** Whether the model has a handler for this event's op and the variant its args select. */
export function isSupported(event: TraceEvent): boolean {
  if (IOCTLS[event.op] !== undefined) return true;
  const env = PLAIN_OPS[event.op];
  return env !== undefined && (env.supports?.(event.args?.fields ?? {}) ?? true);
}

export function step(world: World, event: TraceEvent, options: StepOptions): StepOutcome {
  if (!isSupported(event)) return { world, result: null, rejected: [], unissued: false };
  const choices = new Choices(options.adopt ? (event.expect?.out ?? null) : null);
  const pid = event.pid ?? world.firstPid;
  const process = world.processes.get(pid);
  if (process === undefined) return { world, result: { world, errno: 'ESRCH', out: {} }, rejected: [], unissued: true };
  const call: Call = { world, event, process, choices };
  if (event.fd !== undefined && !process.fds.has(event.fd)) {
    return { world, result: { world, errno: 'EBADF', out: {} }, rejected: [], unissued: true };
  }
  const result = run(call);
  return { world: result.world, result, rejected: choices.rejected, unissued: false };
}

function run(call: Call): Result {
  const { event } = call;
  const env = PLAIN_OPS[event.op];
  if (env !== undefined) return env.run(call);
  const spec = OPS.get(event.op) as OpSpec;
  const target = iommufdOf(call);
  if (!('ctx' in target)) return target;
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
      if (world.files.get(id)?.kind === 'iommufd') {
        fd = n;
        break;
      }
    }
  }
  const file = fd === undefined ? undefined : fileOf(world, process, fd);
  if (file === undefined) return { world, errno: fail('EBADF').errno, out: {} };
  if (file.kind !== 'iommufd') return { world, errno: fail('ENOTTY').errno, out: {} };
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

/** A raw number is modelled unless it names a VFIO container op (those have their own events). */
function rawIoctlSupported(args: Fields): boolean {
  return opOfNumber(big(args, 'cmd'))?.family !== 'vfio-container';
}

/**
 * `iommufd_fops_ioctl()` for a number no op name covers: numbers outside the iommufd table go
 * to the VFIO compat handler, which knows none of them (ENOTTY, argument unread); inside it,
 * `size` is read first (EFAULT for a NULL argument), then the number must match the slot.
 * The argument points at zeroed memory, so a matching op sees size 0: below every minimum.
 */
function rawIoctl(call: Call): Result {
  const target = iommufdOf(call);
  if (!('ctx' in target)) return target;
  const args = call.event.args?.fields ?? {};
  const cmd = big(args, 'cmd');
  const nr = cmd & 0xffn;
  const refuse = (errno: string): Result => ({ world: call.world, errno, out: {} });
  if (nr < CMD_BASE || nr - CMD_BASE >= TABLE_SIZE) return refuse('ENOTTY');
  if ('arg' in args && args['arg'] === null) return refuse('EFAULT');
  return refuse(opOfNumber(cmd) === undefined ? 'ENOTTY' : 'EINVAL');
}
