/**
 * Every op the trace format names (trace-format.md, "Operations"), with its ioctl number, its
 * selftest op number and how its arguments are laid out. An op missing here is malformed input.
 *
 * Numbers: iommufd commands are _IO(';', 0x80 + n) = 0x3b80 + n (include/uapi/linux/iommufd.h),
 * IOMMU_TEST_CMD is _IO(';', 0xa0) with IOMMU_TEST_OP_* from 1 (iommufd_test.h), VFIO ioctls are
 * _IO(';', 100 + n) (include/uapi/linux/vfio.h). VFIO reuses numbers across file kinds
 * (0x3b76 is both SPAPR_UNREGISTER_MEMORY on a container and BIND_IOMMUFD on a device).
 */
import * as S from './structs.ts';
import type { ArgsLayout, EnvArgSpec, OpFamily, OpSpec, StructSpec } from './spec-types.ts';

const iommufdCmd = (nr: number): number => 0x3b00 | nr;
const vfio = (n: number): number => 0x3b00 | (100 + n);
const IOMMU_TEST_CMD = 0x3ba0;

const arg = (name: string, type: EnvArgSpec['type'], more: Partial<EnvArgSpec> = {}): EnvArgSpec => ({
  name,
  type,
  ...more,
});

const plain = (args: readonly EnvArgSpec[], outs: readonly EnvArgSpec[] = []): ArgsLayout => ({
  kind: 'plain',
  args,
  outs,
});

const RET = arg('ret', 's32');
const FD = arg('fd', 's32');
const ADDR = arg('addr', 'u64');
const LENGTH = arg('length', 'u64');

/** MMAP's arguments, also the shape of the header's `env.mappings` entries. */
export const MMAP_ARGS: readonly EnvArgSpec[] = [
  ADDR,
  LENGTH,
  arg('shared', 'bool'),
  arg('hugepage', 'bool'),
  arg('populate', 'bool'),
  FD,
  arg('offset', 'u64'),
  arg('file', 'string'),
  arg('prot', 'flags', { family: 'PROT_' }),
];

/** A process's memlock limit and capabilities, as SET_RLIMIT, SET_CAPS and the header's `processes` give them. */
export const RLIMIT_MEMLOCK_ARG = arg('rlimit_memlock', 'rlimit');
export const CAPS_ARG = arg('caps', 'strings', { allowed: ['CAP_IPC_LOCK', 'CAP_SYS_RESOURCE', 'CAP_SYS_RAWIO'] });

// Each helper keeps the op's name and family as literal types, so the registry's type lists them.
const spec = <const N extends string, const F extends OpFamily>(
  op: N,
  family: F,
  layout: ArgsLayout,
  numbers: { ioctl?: number; testOp?: number } = {},
): OpSpec<N, F> => ({ op, family, layout, ...numbers });

const iommufd = <const N extends string>(op: N, nr: number, struct: StructSpec) =>
  spec(op, 'iommufd', { kind: 'struct', struct }, { ioctl: iommufdCmd(nr) });

// VFIO device cdev ioctls: `dev` names the header device whose cdev the event's fd is.
const DEV = [arg('dev', 'string')];
const device = <const N extends string>(op: N, n: number, struct: StructSpec) =>
  spec(op, 'vfio-device', { kind: 'struct', struct, extra: DEV }, { ioctl: vfio(n) });

// VFIO container ioctls, on a container or on an iommufd through its compatibility layer.
const container = <const N extends string>(op: N, n: number, layout: ArgsLayout) =>
  spec(op, 'vfio-container', layout, { ioctl: vfio(n) });
const containerStruct = <const N extends string>(op: N, n: number, struct: StructSpec) =>
  container(op, n, { kind: 'struct', struct });
/** The bytes the kernel wrote at a struct vfio_bitmap's `data`: the dirty bits, hex in memory order. */
const DIRTY_BITS = arg('bitmap', 'string');

// VFIO group ioctls, on a /dev/vfio/N fd.
const group = <const N extends string>(op: N, n: number, layout: ArgsLayout) => spec(op, 'vfio-group', layout, { ioctl: vfio(n) });

// The selftest ops, in IOMMU_TEST_OP_* order.
const TEST_OPS = [
  ['TEST_ADD_RESERVED', S.TEST_ADD_RESERVED],
  ['TEST_MOCK_DOMAIN', S.TEST_MOCK_DOMAIN],
  ['TEST_MD_CHECK_MAP', S.TEST_MD_CHECK_MAP],
  ['TEST_MD_CHECK_REFS', S.TEST_MD_CHECK_REFS],
  ['TEST_CREATE_ACCESS', S.TEST_CREATE_ACCESS],
  ['TEST_DESTROY_ACCESS_PAGES', S.TEST_DESTROY_ACCESS_PAGES],
  ['TEST_ACCESS_PAGES', S.TEST_ACCESS_PAGES],
  ['TEST_ACCESS_RW', S.TEST_ACCESS_RW],
  ['TEST_SET_TEMP_MEMORY_LIMIT', S.TEST_SET_TEMP_MEMORY_LIMIT],
  ['TEST_MOCK_DOMAIN_REPLACE', S.TEST_MOCK_DOMAIN_REPLACE],
  ['TEST_ACCESS_REPLACE_IOAS', S.TEST_ACCESS_REPLACE_IOAS],
  ['TEST_MOCK_DOMAIN_FLAGS', S.TEST_MOCK_DOMAIN_FLAGS],
  ['TEST_DIRTY', S.TEST_DIRTY],
  ['TEST_MD_CHECK_IOTLB', S.TEST_MD_CHECK_IOTLB],
  ['TEST_TRIGGER_IOPF', S.TEST_TRIGGER_IOPF],
  ['TEST_DEV_CHECK_CACHE', S.TEST_DEV_CHECK_CACHE],
  ['TEST_TRIGGER_VEVENT', S.TEST_TRIGGER_VEVENT],
  ['TEST_PASID_ATTACH', S.TEST_PASID_ATTACH],
  ['TEST_PASID_REPLACE', S.TEST_PASID_REPLACE],
  ['TEST_PASID_DETACH', S.TEST_PASID_DETACH],
  ['TEST_PASID_CHECK_HWPT', S.TEST_PASID_CHECK_HWPT],
  ['TEST_DMABUF_GET', S.TEST_DMABUF_GET],
  ['TEST_DMABUF_REVOKE', S.TEST_DMABUF_REVOKE],
] as const;
const selftest = TEST_OPS.map(([op, struct], i) => {
  // DMABUF_GET returns the new dma-buf fd as the ioctl's return value, not in the struct.
  const outs = op === 'TEST_DMABUF_GET' ? { outs: [RET] } : {};
  return spec(op, 'selftest', { kind: 'struct', struct, ...outs }, { ioctl: IOMMU_TEST_CMD, testOp: i + 1 });
});

// What processes did around the ioctls.
const env = <const N extends string>(op: N, args: readonly EnvArgSpec[], outs: readonly EnvArgSpec[] = []) =>
  spec(op, 'env', plain(args, outs));

const SPECS = [
  iommufd('DESTROY', 0x80, S.IOMMU_DESTROY),
  iommufd('IOAS_ALLOC', 0x81, S.IOMMU_IOAS_ALLOC),
  iommufd('IOAS_ALLOW_IOVAS', 0x82, S.IOMMU_IOAS_ALLOW_IOVAS),
  iommufd('IOAS_COPY', 0x83, S.IOMMU_IOAS_COPY),
  iommufd('IOAS_IOVA_RANGES', 0x84, S.IOMMU_IOAS_IOVA_RANGES),
  iommufd('IOAS_MAP', 0x85, S.IOMMU_IOAS_MAP),
  iommufd('IOAS_UNMAP', 0x86, S.IOMMU_IOAS_UNMAP),
  iommufd('OPTION', 0x87, S.IOMMU_OPTION),
  iommufd('VFIO_IOAS', 0x88, S.IOMMU_VFIO_IOAS),
  iommufd('HWPT_ALLOC', 0x89, S.IOMMU_HWPT_ALLOC),
  iommufd('GET_HW_INFO', 0x8a, S.IOMMU_HW_INFO),
  iommufd('HWPT_SET_DIRTY_TRACKING', 0x8b, S.IOMMU_HWPT_SET_DIRTY_TRACKING),
  iommufd('HWPT_GET_DIRTY_BITMAP', 0x8c, S.IOMMU_HWPT_GET_DIRTY_BITMAP),
  iommufd('HWPT_INVALIDATE', 0x8d, S.IOMMU_HWPT_INVALIDATE),
  iommufd('FAULT_QUEUE_ALLOC', 0x8e, S.IOMMU_FAULT_ALLOC),
  iommufd('IOAS_MAP_FILE', 0x8f, S.IOMMU_IOAS_MAP_FILE),
  iommufd('VIOMMU_ALLOC', 0x90, S.IOMMU_VIOMMU_ALLOC),
  iommufd('VDEVICE_ALLOC', 0x91, S.IOMMU_VDEVICE_ALLOC),
  iommufd('IOAS_CHANGE_PROCESS', 0x92, S.IOMMU_IOAS_CHANGE_PROCESS),
  iommufd('VEVENTQ_ALLOC', 0x93, S.IOMMU_VEVENTQ_ALLOC),
  iommufd('HW_QUEUE_ALLOC', 0x94, S.IOMMU_HW_QUEUE_ALLOC),

  // A raw ioctl for numbers no name covers; `arg: null` passes a NULL argument pointer.
  spec('IOCTL', 'raw', plain([arg('cmd', 'u32'), arg('arg', 'u64', { nullable: true })], [RET])),

  device('VFIO_DEVICE_BIND_IOMMUFD', 18, S.VFIO_DEVICE_BIND_IOMMUFD),
  device('VFIO_DEVICE_ATTACH_IOMMUFD_PT', 19, S.VFIO_DEVICE_ATTACH_IOMMUFD_PT),
  device('VFIO_DEVICE_DETACH_IOMMUFD_PT', 20, S.VFIO_DEVICE_DETACH_IOMMUFD_PT),
  // struct vfio_device_feature with, for DMA_BUF, struct vfio_device_feature_dma_buf after it:
  // its own `flags` is `dma_buf_flags`, its `dma_ranges[]` the inline `ranges`; the new fd is `ret`.
  spec(
    'VFIO_DEVICE_FEATURE',
    'vfio-device',
    plain(
      [
        ...DEV,
        arg('argsz', 'u32'),
        arg('flags', 'flags', { family: 'VFIO_DEVICE_FEATURE_' }),
        arg('feature', 'enum', { family: 'VFIO_DEVICE_FEATURE_' }),
        arg('region_index', 'u32'),
        arg('open_flags', 'flags', { family: 'O_' }),
        arg('dma_buf_flags', 'u32'),
        arg('nr_ranges', 'u32'),
        arg('ranges', 'records', { element: S.VFIO_REGION_DMA_RANGE }),
      ],
      [RET],
    ),
    { ioctl: vfio(17) },
  ),
  // What an emulated device's driver does through VFIO (drivers/vfio/vfio_main.c), not an ioctl.
  spec('VFIO_PIN_PAGES', 'vfio-device', plain([...DEV, arg('iova', 'u64'), arg('npage', 's32'), arg('prot', 'flags', { family: 'IOMMU_' })], [RET])),
  spec('VFIO_UNPIN_PAGES', 'vfio-device', plain([...DEV, arg('iova', 'u64'), arg('npage', 's32')])),

  container('VFIO_GET_API_VERSION', 0, plain([arg('arg', 'u64')], [RET])),
  container('VFIO_CHECK_EXTENSION', 1, plain([arg('arg', 'enum', { family: 'VFIO_' })], [RET])),
  container('VFIO_SET_IOMMU', 2, plain([arg('arg', 'enum', { family: 'VFIO_' })], [RET])),
  group('VFIO_GROUP_GET_STATUS', 3, { kind: 'struct', struct: S.VFIO_GROUP_STATUS }),
  // On the group fd with `container_fd`, or (format 1) on the container fd with the `group` number.
  group('VFIO_GROUP_SET_CONTAINER', 4, plain([arg('group', 'u32'), arg('container_fd', 's32')])),
  group('VFIO_GROUP_UNSET_CONTAINER', 5, plain([])),
  // The argument is the device's name; the new device fd is the return value.
  group('VFIO_GROUP_GET_DEVICE_FD', 6, plain([arg('dev', 'string')], [RET])),
  // The capability chain comes back as `caps`, a record per capability in chain order.
  container('VFIO_IOMMU_GET_INFO', 12, { kind: 'struct', struct: S.VFIO_IOMMU_TYPE1_INFO, outs: [arg('caps', 'records')] }),
  containerStruct('VFIO_IOMMU_SPAPR_TCE_GET_INFO', 12, S.VFIO_IOMMU_SPAPR_TCE_INFO),
  // `ret`: the positive value a SPAPR TCE container returns for an IOVA off its window's page boundary.
  container('VFIO_IOMMU_MAP_DMA', 13, { kind: 'struct', struct: S.VFIO_IOMMU_TYPE1_DMA_MAP, outs: [RET] }),
  container('VFIO_IOMMU_UNMAP_DMA', 14, { kind: 'struct', struct: S.VFIO_IOMMU_TYPE1_DMA_UNMAP, outs: [DIRTY_BITS, RET] }),
  container('VFIO_IOMMU_ENABLE', 15, plain([])),
  container('VFIO_IOMMU_DISABLE', 16, plain([])),
  container('VFIO_IOMMU_DIRTY_PAGES', 17, { kind: 'struct', struct: S.VFIO_IOMMU_TYPE1_DIRTY_BITMAP, outs: [DIRTY_BITS] }),
  containerStruct('VFIO_IOMMU_SPAPR_REGISTER_MEMORY', 17, S.VFIO_IOMMU_SPAPR_REGISTER_MEMORY),
  containerStruct('VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY', 18, S.VFIO_IOMMU_SPAPR_REGISTER_MEMORY),
  containerStruct('VFIO_IOMMU_SPAPR_TCE_CREATE', 19, S.VFIO_IOMMU_SPAPR_TCE_CREATE),
  containerStruct('VFIO_IOMMU_SPAPR_TCE_REMOVE', 20, S.VFIO_IOMMU_SPAPR_TCE_REMOVE),

  ...selftest,

  env('OPEN', [arg('path', 'string')], [FD]),
  env('CLOSE', [FD]),
  env('MMAP', MMAP_ARGS, [ADDR]),
  env('MUNMAP', [ADDR, LENGTH]),
  env('MEMFD_CREATE', [arg('hugetlb', 'bool')], [FD]),
  env('FTRUNCATE', [FD, LENGTH]),
  env('TOUCH', [ADDR, LENGTH, arg('write', 'bool')]),
  env('FD_READ', [FD, arg('count', 'u64')], [arg('records', 'records')]),
  env('FD_WRITE', [FD, arg('records', 'records')]),
  env('SET_RLIMIT', [RLIMIT_MEMLOCK_ARG]),
  env('SET_CAPS', [CAPS_ARG]),
  env('FORK', [], [arg('pid', 'u32')]),
  env('EXIT', [arg('pid', 'u32')]),
  env('CHECK', [
    arg('what', 'string', { allowed: ['locked_vm', 'pinned_vm', 'user_locked_vm'] }),
    arg('pid', 'u32'),
    arg('uid', 'u32'),
    arg('value', 'u64'),
  ]),
];

type Registered = (typeof SPECS)[number];

/** The name of an op of the trace format. */
export type OpName = Registered['op'];

/** The ops of some families (`OpNameOf<'selftest'>`: every `TEST_*` op). */
export type OpNameOf<F extends OpFamily> = Extract<Registered, { readonly family: F }>['op'];

export const OPS: ReadonlyMap<OpName, OpSpec<OpName>> = new Map(SPECS.map((s) => [s.op, s]));
if (OPS.size !== SPECS.length) throw new Error('[iommufd-model] an op name is registered twice');

const NAMES: ReadonlySet<string> = new Set(OPS.keys());

/** Whether a string read from a trace names an op. */
export const isOpName = (name: string): name is OpName => NAMES.has(name);
