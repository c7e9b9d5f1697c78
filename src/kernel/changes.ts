/**
 * The behaviour changes of the user API the model follows, release by release: each row is one
 * mainline commit, the first release that has it, and what user space sees change. A row's
 * `effect` is what a profile of an older release consults (src/kernel/profile.ts); a row
 * without one is documented only, the model answering as the newer kernel does.
 *
 * Sources: the kernel's history of drivers/iommu/iommufd/, include/uapi/linux/iommufd.h,
 * drivers/vfio/ and tools/testing/selftests/iommu/, read through the kernel.org post-receive
 * logs of torvalds/linux and jgg/iommufd (the commits each merge window pulled) and the
 * commits' Fixes tags. docs/kernel-versions.md is generated from this table.
 */
import type { Errno } from '../../events/errno.ts';
import type { OpName } from '../../events/ops.ts';

/** An older behaviour the model keeps, for the releases before the row that changed it. */
export type Behaviour =
  | 'hwpt-alloc-takes-no-flags'
  | 'hwpt-alloc-pt-is-ioas'
  | 'type1-offers-nesting'
  | 'compat-unmap-empty-enoent'
  | 'hwpt-alloc-type-without-len'
  | 'map-takes-no-prot'
  | 'nest-parent-takes-fault-id'
  | 'device-feature-no-dma-buf'
  | 'mock-xarray-page-table'
  | 'mock-domain-own-hwpt'
  | 'type1-no-dma-entry-limit'
  | 'type1-info-no-iova-range-cap'
  | 'type1-info-no-migration-cap'
  | 'type1-info-no-dma-avail-cap';

/** A device node that appeared with a release: before it, OPEN of the node fails with ENOENT. */
export type Node = 'iommufd' | 'iommufd-vfio-container' | 'vfio-cdev';

export type Effect =
  /** The op appeared: before, the ioctl answers `errno`, as the dispatch of the time did. */
  | { readonly kind: 'op'; readonly op: OpName; readonly errno: Errno }
  /** The struct grew: before, the kernel's struct was `size` bytes and took `minSize` at least. */
  | { readonly kind: 'struct'; readonly struct: string; readonly size: number; readonly minSize: number }
  /** The op's `flags` took `bits`: before, those bits failed with `errno`. */
  | { readonly kind: 'flags'; readonly op: OpName; readonly bits: bigint; readonly errno: Errno }
  | { readonly kind: 'node'; readonly node: Node }
  | { readonly kind: 'behaviour'; readonly was: Behaviour };

export interface Change {
  /** The mainline commit, 12 hex digits. */
  readonly commit: string;
  /** The first release that has it (`6.7`). */
  readonly release: string;
  /** `struct`: a struct's size or fields; `op`/`flag`: one appeared; `errno`: an errno or a check's place moved; `semantic`: what a call does. */
  readonly kind: 'struct' | 'op' | 'flag' | 'errno' | 'semantic';
  /** The commit's subject. */
  readonly subject: string;
  /** What changed for user space, and what the releases before it did. */
  readonly what: string;
  readonly effect: Effect | null;
}

const op = (op: OpName, errno: Errno): Effect => ({ kind: 'op', op, errno });
const grew = (struct: string, size: number, minSize: number): Effect => ({ kind: 'struct', struct, size, minSize });
const flags = (op: OpName, bits: bigint, errno: Errno): Effect => ({ kind: 'flags', op, bits, errno });
const node = (n: Node): Effect => ({ kind: 'node', node: n });
const was = (b: Behaviour): Effect => ({ kind: 'behaviour', was: b });

// iommufd_fops_ioctl(): a number inside the ops table whose slot is empty is -ENOIOCTLCMD, which
// vfs_ioctl() turns into ENOTTY; iommufd_test() answers an op it does not know EOPNOTSUPP.
const IOCTL_ABSENT = 'ENOTTY';
const TEST_OP_ABSENT = 'EOPNOTSUPP';
// vfio_iommu_type1_ioctl() answers a command it does not know -ENOTTY, and refuses flag bits it
// does not know in MAP_DMA and UNMAP_DMA with -EINVAL, at the argsz check.
const TYPE1_ABSENT = 'ENOTTY';
const TYPE1_FLAGS = 'EINVAL';

/** Oldest first; rows of one release in the order of its merge. */
export const CHANGES: readonly Change[] = [
  {
    commit: '2157e7b82f3b',
    release: '4.2',
    kind: 'op',
    subject: 'vfio: powerpc/spapr: Register memory and define IOMMU v2',
    what: 'VFIO_SPAPR_TCE_v2_IOMMU, with VFIO_IOMMU_SPAPR_REGISTER_MEMORY and UNREGISTER_MEMORY to pre-register (pin and charge) memory once; before, the SPAPR TCE driver had v1 alone, pinning at each map (not modelled: the SPAPR TCE paths are those of 4.2 and later)',
    effect: null,
  },
  {
    commit: '492855939bdb',
    release: '5.1',
    kind: 'errno',
    subject: 'vfio/type1: Limit DMA mappings per container',
    what: 'VFIO_IOMMU_MAP_DMA on a type1 container fails with ENOSPC once dma_entry_limit (a module parameter, 65535 by default) mappings exist (CVE-2019-3882); before, mappings were not counted',
    effect: was('type1-no-dma-entry-limit'),
  },
  {
    commit: 'a717072007e8',
    release: '5.4',
    kind: 'struct',
    subject: 'vfio/type1: Add IOVA range capability support',
    what: 'struct vfio_iommu_type1_info takes cap_offset (24 bytes) and VFIO_IOMMU_GET_INFO a capability chain, its first capability the usable IOVA ranges (VFIO_IOMMU_INFO_CAPS, argsz raised to what the chain needs); before, flags is VFIO_IOMMU_INFO_PGSIZES alone and only argsz, flags and iova_pgsizes are written back',
    effect: was('type1-info-no-iova-range-cap'),
  },
  {
    commit: 'd6a4c185660c',
    release: '5.8',
    kind: 'op',
    subject: 'vfio iommu: Implementation of ioctl for dirty pages tracking',
    what: 'VFIO_IOMMU_DIRTY_PAGES (START, STOP, GET_BITMAP) on a type1 container; before, vfio_iommu_type1_ioctl() does not know the command: ENOTTY',
    effect: op('VFIO_IOMMU_DIRTY_PAGES', TYPE1_ABSENT),
  },
  {
    commit: '331e33d2960c',
    release: '5.8',
    kind: 'flag',
    subject: 'vfio iommu: Update UNMAP_DMA ioctl to get dirty bitmap before unmap',
    what: 'VFIO_IOMMU_UNMAP_DMA takes VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP and a bitmap after the struct; before, any flag is EINVAL',
    effect: flags('VFIO_IOMMU_UNMAP_DMA', 1n, TYPE1_FLAGS),
  },
  {
    commit: 'ad721705d09c',
    release: '5.8',
    kind: 'semantic',
    subject: 'vfio iommu: Add migration capability to report supported features',
    what: 'VFIO_IOMMU_GET_INFO on a type1 container adds the MIGRATION capability (dirty bitmap page sizes and largest size) before the IOVA ranges; before, the chain holds the IOVA ranges alone',
    effect: was('type1-info-no-migration-cap'),
  },
  {
    commit: '7d6e1329652e',
    release: '5.10',
    kind: 'semantic',
    subject: 'vfio iommu: Add dma available capability',
    what: 'VFIO_IOMMU_GET_INFO on a type1 container adds the DMA_AVAIL capability (how many more mappings dma_entry_limit allows) after MIGRATION; before, it is not in the chain',
    effect: was('type1-info-no-dma-avail-cap'),
  },
  {
    commit: 'c19650995374',
    release: '5.12',
    kind: 'flag',
    subject: 'vfio/type1: implement unmap all',
    what: 'VFIO_IOMMU_UNMAP_DMA takes VFIO_DMA_UNMAP_FLAG_ALL (iova and size 0) and VFIO_CHECK_EXTENSION(VFIO_UNMAP_ALL) answers 1; before, the flag is EINVAL and the extension 0',
    effect: flags('VFIO_IOMMU_UNMAP_DMA', 2n, TYPE1_FLAGS),
  },
  {
    commit: 'c3cbab24db38',
    release: '5.12',
    kind: 'flag',
    subject: 'vfio/type1: implement interfaces to update vaddr',
    what: 'VFIO_IOMMU_UNMAP_DMA takes VFIO_DMA_UNMAP_FLAG_VADDR (the vaddr is invalidated, the mapping kept) and VFIO_CHECK_EXTENSION(VFIO_UPDATE_VADDR) answers 1 with a driver set; before, the flag is EINVAL and the extension 0',
    effect: flags('VFIO_IOMMU_UNMAP_DMA', 4n, TYPE1_FLAGS),
  },
  {
    commit: 'c3cbab24db38',
    release: '5.12',
    kind: 'flag',
    subject: 'vfio/type1: implement interfaces to update vaddr',
    what: 'VFIO_IOMMU_MAP_DMA takes VFIO_DMA_MAP_FLAG_VADDR (a new vaddr for a mapping whose vaddr was invalidated); before, the flag is EINVAL',
    effect: flags('VFIO_IOMMU_MAP_DMA', 4n, TYPE1_FLAGS),
  },
  {
    commit: '2ff4bed7fee7',
    release: '6.2',
    kind: 'op',
    subject: 'iommufd: File descriptor, context, kconfig and makefiles',
    what: '/dev/iommu exists, with the ioctls DESTROY, IOAS_ALLOC, IOAS_ALLOW_IOVAS, IOAS_COPY, IOAS_IOVA_RANGES, IOAS_MAP, IOAS_UNMAP, OPTION, VFIO_IOAS and the selftest IOMMU_TEST_CMD; before, OPEN of /dev/iommu fails with ENOENT',
    effect: node('iommufd'),
  },
  {
    commit: 'd624d6652a65',
    release: '6.2',
    kind: 'op',
    subject: 'iommufd: vfio container FD ioctl compatibility',
    what: 'iommufd can serve /dev/vfio/vfio (CONFIG_IOMMUFD_VFIO_CONTAINER, `env.vfio.container` "iommufd"); before, OPEN of a node iommufd serves fails with ENOENT',
    effect: node('iommufd-vfio-container'),
  },
  {
    commit: 'e4395701330f',
    release: '6.3',
    kind: 'semantic',
    subject: 'iommufd: Check for uptr overflow',
    what: 'IOAS_MAP whose user_va + length wraps fails with EOVERFLOW; 6.2 accepted it and later pins tripped a WARN (syzkaller)',
    effect: null,
  },
  {
    commit: '727c28c1cef2',
    release: '6.3',
    kind: 'semantic',
    subject: 'iommufd: Fix unpinning of pages when an access is present',
    what: 'removing a domain while an access pins part of an area unpins exactly the area; 6.2 unpinned past its end (syzkaller)',
    effect: null,
  },
  {
    commit: 'fd8c1a4aee97',
    release: '6.4',
    kind: 'errno',
    subject: 'iommufd/selftest: Catch overflow of uptr and length',
    what: 'TEST_MD_CHECK_MAP and TEST_MD_CHECK_REFS whose uptr + length wraps fail with EOVERFLOW; before, the walk went on',
    effect: null,
  },
  {
    commit: '65c619ae0680',
    release: '6.4',
    kind: 'semantic',
    subject: 'iommufd/selftest: Make selftest create a more complete mock device',
    what: 'TEST_MOCK_DOMAIN binds a real iommufd device: the selftest object, the device and the HWPT take three ids, the HWPT is an automatic one shared with later attaches and goes with the selftest object. 6.2 and 6.3 bound no device and took two ids (the selftest object, then a HWPT of its own on the IOAS named by `id`, ENOENT for anything else) and wrote no out_idev_id; the selftest object held that HWPT, so DESTROY of the HWPT was EBUSY until the selftest object was destroyed, which took the domain out of the IOAS and left the HWPT for user space to destroy',
    effect: was('mock-domain-own-hwpt'),
  },
  {
    commit: '99f98a7c0d69',
    release: '6.5',
    kind: 'semantic',
    subject: 'iommufd: IOMMUFD_DESTROY should not increase the refcount',
    what: 'DESTROY of an object another thread is using fails with EBUSY instead of waiting; only concurrent callers see it',
    effect: null,
  },
  {
    commit: '8b6f173a4ce4',
    release: '6.6',
    kind: 'op',
    subject: 'vfio: Add cdev for vfio_device',
    what: 'VFIO devices have a cdev, /dev/vfio/devices/vfioN; before, OPEN of it fails with ENOENT',
    effect: node('vfio-cdev'),
  },
  {
    commit: '5fcc26969a16',
    release: '6.6',
    kind: 'op',
    subject: 'vfio: Add VFIO_DEVICE_BIND_IOMMUFD',
    what: 'VFIO_DEVICE_BIND_IOMMUFD on a device cdev; before, a device fd answers ENOTTY',
    effect: op('VFIO_DEVICE_BIND_IOMMUFD', 'ENOTTY'),
  },
  {
    commit: 'b290a05fd858',
    release: '6.6',
    kind: 'op',
    subject: 'vfio: Add VFIO_DEVICE_[AT|DE]TACH_IOMMUFD_PT',
    what: 'VFIO_DEVICE_ATTACH_IOMMUFD_PT on a device cdev; before, ENOTTY',
    effect: op('VFIO_DEVICE_ATTACH_IOMMUFD_PT', 'ENOTTY'),
  },
  {
    commit: 'b290a05fd858',
    release: '6.6',
    kind: 'op',
    subject: 'vfio: Add VFIO_DEVICE_[AT|DE]TACH_IOMMUFD_PT',
    what: 'VFIO_DEVICE_DETACH_IOMMUFD_PT on a device cdev; before, ENOTTY',
    effect: op('VFIO_DEVICE_DETACH_IOMMUFD_PT', 'ENOTTY'),
  },
  {
    commit: '7074d7bd67d4',
    release: '6.6',
    kind: 'op',
    subject: 'iommufd: Add IOMMU_HWPT_ALLOC',
    what: 'IOMMU_HWPT_ALLOC (struct iommu_hwpt_alloc, 24 bytes: no flags, no user data); before, ENOTTY',
    effect: op('HWPT_ALLOC', IOCTL_ABSENT),
  },
  {
    commit: '7a467e02b339',
    release: '6.6',
    kind: 'semantic',
    subject: 'iommufd/selftest: Return the real idev id from selftest mock_domain',
    what: 'TEST_MOCK_DOMAIN writes out_idev_id; before, those bytes come back as the caller passed them (not modelled: the model writes the id in every release)',
    effect: null,
  },
  {
    commit: 'fa1ffdb9e293',
    release: '6.6',
    kind: 'op',
    subject: 'iommufd/selftest: Test iommufd_device_replace()',
    what: 'the selftest op TEST_MOCK_DOMAIN_REPLACE; before, IOMMU_TEST_CMD answers EOPNOTSUPP',
    effect: op('TEST_MOCK_DOMAIN_REPLACE', TEST_OP_ABSENT),
  },
  {
    commit: 'c154660b6e26',
    release: '6.6',
    kind: 'op',
    subject: 'iommufd/selftest: Add IOMMU_TEST_OP_ACCESS_REPLACE_IOAS coverage',
    what: 'the selftest op TEST_ACCESS_REPLACE_IOAS; before, EOPNOTSUPP',
    effect: op('TEST_ACCESS_REPLACE_IOAS', TEST_OP_ABSENT),
  },
  {
    commit: '55dd4023cead',
    release: '6.6',
    kind: 'op',
    subject: 'iommufd: Add IOMMU_GET_HW_INFO',
    what: 'IOMMU_GET_HW_INFO (struct iommu_hw_info, 32 bytes); before, ENOTTY',
    effect: op('GET_HW_INFO', IOCTL_ABSENT),
  },
  {
    commit: '4ff542163397',
    release: '6.7',
    kind: 'errno',
    subject: 'iommufd: Support allocating nested parent domain',
    what: 'HWPT_ALLOC takes flags (NEST_PARENT), checked after the device and pt_id lookups; 6.6 took none: any flag, like a non-zero __reserved, fails with EOPNOTSUPP before the lookups',
    effect: was('hwpt-alloc-takes-no-flags'),
  },
  {
    commit: 'bd529dbb661d',
    release: '6.7',
    kind: 'struct',
    subject: 'iommufd: Add a nested HW pagetable object',
    what: 'struct iommu_hwpt_alloc grows from 24 to 40 bytes: data_type, data_len, data_uptr (user data, nested HWPTs on a NEST_PARENT parent); before, non-zero bytes there fail with E2BIG',
    effect: grew('iommu_hwpt_alloc', 24, 24),
  },
  {
    commit: 'bd529dbb661d',
    release: '6.7',
    kind: 'errno',
    subject: 'iommufd: Add a nested HW pagetable object',
    what: "HWPT_ALLOC's pt_id is looked up as any object (an IOAS, or a HWPT_PAGING to nest on): one that names nothing, or an object of another type, fails with EINVAL; 6.6 looked it up as an IOAS: ENOENT",
    effect: was('hwpt-alloc-pt-is-ioas'),
  },
  {
    commit: '5f9bdbf4c658',
    release: '6.7',
    kind: 'flag',
    subject: 'iommufd: Add a flag to enforce dirty tracking on attach',
    what: 'IOMMU_HWPT_ALLOC_DIRTY_TRACKING; before, EOPNOTSUPP',
    effect: flags('HWPT_ALLOC', 2n, 'EOPNOTSUPP'),
  },
  {
    commit: 'e2a4b2947849',
    release: '6.7',
    kind: 'op',
    subject: 'iommufd: Add IOMMU_HWPT_SET_DIRTY_TRACKING',
    what: 'IOMMU_HWPT_SET_DIRTY_TRACKING; before, ENOTTY',
    effect: op('HWPT_SET_DIRTY_TRACKING', IOCTL_ABSENT),
  },
  {
    commit: 'b9a60d6f850e',
    release: '6.7',
    kind: 'op',
    subject: 'iommufd: Add IOMMU_HWPT_GET_DIRTY_BITMAP',
    what: 'IOMMU_HWPT_GET_DIRTY_BITMAP; before, ENOTTY',
    effect: op('HWPT_GET_DIRTY_BITMAP', IOCTL_ABSENT),
  },
  {
    commit: '7623683857e5',
    release: '6.7',
    kind: 'struct',
    subject: 'iommufd: Add capabilities to IOMMU_GET_HW_INFO',
    what: 'struct iommu_hw_info grows from 32 to 40 bytes: out_capabilities; before, it is not written back and non-zero bytes there fail with E2BIG',
    effect: grew('iommu_hw_info', 32, 32),
  },
  {
    commit: 'e04b23c8d4ed',
    release: '6.7',
    kind: 'op',
    subject: 'iommufd/selftest: Expand mock_domain with dev_flags',
    what: 'the selftest op TEST_MOCK_DOMAIN_FLAGS; before, EOPNOTSUPP',
    effect: op('TEST_MOCK_DOMAIN_FLAGS', TEST_OP_ABSENT),
  },
  {
    commit: 'a9af47e382a4',
    release: '6.7',
    kind: 'struct',
    subject: 'iommufd/selftest: Test IOMMU_HWPT_GET_DIRTY_BITMAP',
    what: "struct iommu_test_cmd grows from 56 (0x38) to 72 bytes, its union from 32 to 48 (the dirty member), so `last` and the minimum size move from 52 to 68: 2023 syzkaller programs pass size 0x38, which newer kernels refuse with EINVAL",
    effect: grew('iommu_test_cmd', 56, 52),
  },
  {
    commit: 'a9af47e382a4',
    release: '6.7',
    kind: 'op',
    subject: 'iommufd/selftest: Test IOMMU_HWPT_GET_DIRTY_BITMAP',
    what: 'the selftest op TEST_DIRTY; before, EOPNOTSUPP',
    effect: op('TEST_DIRTY', TEST_OP_ABSENT),
  },
  {
    commit: '8c6eabae3807',
    release: '6.8',
    kind: 'op',
    subject: 'iommufd: Add IOMMU_HWPT_INVALIDATE',
    what: 'IOMMU_HWPT_INVALIDATE; before, ENOTTY',
    effect: op('HWPT_INVALIDATE', IOCTL_ABSENT),
  },
  {
    commit: 'e1fa6640d58e',
    release: '6.8',
    kind: 'op',
    subject: 'iommufd/selftest: Add IOMMU_TEST_OP_MD_CHECK_IOTLB test op',
    what: 'the selftest op TEST_MD_CHECK_IOTLB; before, EOPNOTSUPP',
    effect: op('TEST_MD_CHECK_IOTLB', TEST_OP_ABSENT),
  },
  {
    commit: '7adc0c1cfa77',
    release: '6.8',
    kind: 'errno',
    subject: 'iommufd: Reject non-zero data_type if no data_len is provided',
    what: 'HWPT_ALLOC with a data_type but data_len 0 fails with EINVAL before the device lookup; 6.7 checked only the converse (data_len without a data_type) and let the data_type through to the allocation',
    effect: was('hwpt-alloc-type-without-len'),
  },
  {
    commit: '7db521e23fe9',
    release: '6.8',
    kind: 'flag',
    subject: 'iommufd/selftest: Hugepage mock domain support',
    what: "MOCK_FLAGS_DEVICE_HUGE_IOVA in TEST_MOCK_DOMAIN_FLAGS: the device's mock domains map 1 MiB pages too, and a dirty bit covers the whole huge page; before, EINVAL. 6.19 removed the flag with the xarray page table (EINVAL again)",
    effect: flags('TEST_MOCK_DOMAIN_FLAGS', 2n, 'EINVAL'),
  },
  {
    commit: '07838f7fd529',
    release: '6.11',
    kind: 'op',
    subject: 'iommufd: Add iommufd fault object',
    what: 'IOMMU_FAULT_QUEUE_ALLOC; before, ENOTTY',
    effect: op('FAULT_QUEUE_ALLOC', IOCTL_ABSENT),
  },
  {
    commit: '34765cbc679c',
    release: '6.11',
    kind: 'struct',
    subject: 'iommufd: Associate fault object with iommufd_hw_pgtable',
    what: 'struct iommu_hwpt_alloc grows from 40 to 48 bytes: fault_id, __reserved2; before, non-zero bytes there fail with E2BIG',
    effect: grew('iommu_hwpt_alloc', 40, 24),
  },
  {
    commit: '34765cbc679c',
    release: '6.11',
    kind: 'flag',
    subject: 'iommufd: Associate fault object with iommufd_hw_pgtable',
    what: 'IOMMU_HWPT_FAULT_ID_VALID in HWPT_ALLOC; before, EOPNOTSUPP',
    effect: flags('HWPT_ALLOC', 4n, 'EOPNOTSUPP'),
  },
  {
    commit: 'ddee19971081',
    release: '6.11',
    kind: 'op',
    subject: 'iommufd/selftest: Add IOPF support for mock device',
    what: 'the selftest op TEST_TRIGGER_IOPF; before, EOPNOTSUPP',
    effect: op('TEST_TRIGGER_IOPF', TEST_OP_ABSENT),
  },
  {
    commit: '996dc53ac289',
    release: '6.11',
    kind: 'errno',
    subject: 'iommufd: Do not allow creating areas without READ or WRITE',
    what: 'IOAS_MAP and IOAS_COPY with neither READABLE nor WRITEABLE fail with EINVAL after the overflow checks; before, the area was made (syzkaller programs often pass flags 0). VFIO compat MAP_DMA still takes neither',
    effect: was('map-takes-no-prot'),
  },
  {
    commit: '8f6887349b2f',
    release: '6.12',
    kind: 'semantic',
    subject: 'iommufd: Protect against overflow of ALIGN() during iova allocation',
    what: 'an automatic IOVA whose alignment overflows is refused; before, the allocator could hand out an IOVA overlapping an area (syzkaller, WARN in iopt_map_pages)',
    effect: null,
  },
  {
    commit: 'f4986a72d6e4',
    release: '6.13',
    kind: 'op',
    subject: 'iommufd: Add IOMMU_IOAS_MAP_FILE',
    what: 'IOMMU_IOAS_MAP_FILE; before, ENOTTY',
    effect: op('IOAS_MAP_FILE', IOCTL_ABSENT),
  },
  {
    commit: '35890f85573c',
    release: '6.13',
    kind: 'semantic',
    subject: 'vfio: Remove VFIO_TYPE1_NESTING_IOMMU',
    what: 'VFIO_CHECK_EXTENSION(VFIO_TYPE1_NESTING_IOMMU) of the type1 driver answers 0; before, 1',
    effect: was('type1-offers-nesting'),
  },
  {
    commit: '4db97c21ed07',
    release: '6.13',
    kind: 'op',
    subject: 'iommufd/viommu: Add IOMMU_VIOMMU_ALLOC ioctl',
    what: 'IOMMU_VIOMMU_ALLOC (struct iommu_viommu_alloc, 24 bytes); before, ENOTTY',
    effect: op('VIOMMU_ALLOC', IOCTL_ABSENT),
  },
  {
    commit: '13a750180fc8',
    release: '6.13',
    kind: 'semantic',
    subject: 'iommufd: Allow pt_id to carry viommu_id for IOMMU_HWPT_ALLOC',
    what: "HWPT_ALLOC's pt_id may name a vIOMMU; before there are no vIOMMUs, so the rule follows from VIOMMU_ALLOC's row",
    effect: null,
  },
  {
    commit: '0ce5c2477af2',
    release: '6.13',
    kind: 'op',
    subject: 'iommufd/viommu: Add IOMMUFD_OBJ_VDEVICE and IOMMU_VDEVICE_ALLOC ioctl',
    what: 'IOMMU_VDEVICE_ALLOC; before, ENOTTY',
    effect: op('VDEVICE_ALLOC', IOCTL_ABSENT),
  },
  {
    commit: '54ce69e36c71',
    release: '6.13',
    kind: 'semantic',
    subject: 'iommufd: Allow hwpt_id to carry viommu_id for IOMMU_HWPT_INVALIDATE',
    what: "HWPT_INVALIDATE's hwpt_id may name a vIOMMU; before there are no vIOMMUs, so the rule follows from VIOMMU_ALLOC's row",
    effect: null,
  },
  {
    commit: '576ad6eb45d6',
    release: '6.13',
    kind: 'op',
    subject: 'iommufd/selftest: Add IOMMU_TEST_OP_DEV_CHECK_CACHE test command',
    what: 'the selftest op TEST_DEV_CHECK_CACHE; before, EOPNOTSUPP',
    effect: op('TEST_DEV_CHECK_CACHE', TEST_OP_ABSENT),
  },
  {
    commit: '829ed626499c',
    release: '6.13',
    kind: 'op',
    subject: 'iommufd: Add IOMMU_IOAS_CHANGE_PROCESS',
    what: 'IOMMU_IOAS_CHANGE_PROCESS; before, ENOTTY',
    effect: op('IOAS_CHANGE_PROCESS', IOCTL_ABSENT),
  },
  {
    commit: 'e36ba5ab808e',
    release: '6.15',
    kind: 'op',
    subject: 'iommufd: Add IOMMUFD_OBJ_VEVENTQ and IOMMUFD_CMD_VEVENTQ_ALLOC',
    what: 'IOMMU_VEVENTQ_ALLOC; before, ENOTTY',
    effect: op('VEVENTQ_ALLOC', IOCTL_ABSENT),
  },
  {
    commit: 'b3cc0b7599cc',
    release: '6.15',
    kind: 'op',
    subject: 'iommufd/selftest: Add IOMMU_TEST_OP_TRIGGER_VEVENT for vEVENTQ coverage',
    what: 'the selftest op TEST_TRIGGER_VEVENT; before, EOPNOTSUPP',
    effect: op('TEST_TRIGGER_VEVENT', TEST_OP_ABSENT),
  },
  {
    commit: 'dbc5f37b4f8a',
    release: '6.15',
    kind: 'flag',
    subject: 'iommufd: Allow allocating PASID-compatible domain',
    what: 'IOMMU_HWPT_ALLOC_PASID; before, EOPNOTSUPP',
    effect: flags('HWPT_ALLOC', 8n, 'EOPNOTSUPP'),
  },
  {
    commit: '9eb59204d519',
    release: '6.15',
    kind: 'flag',
    subject: 'iommufd/selftest: Add set_dev_pasid in mock iommu',
    what: 'MOCK_FLAGS_DEVICE_PASID in TEST_MOCK_DOMAIN_FLAGS (a PASID-capable mock device); before, mock_dev_create() refuses the bit with EINVAL',
    effect: flags('TEST_MOCK_DOMAIN_FLAGS', 4n, 'EINVAL'),
  },
  ...(['TEST_PASID_ATTACH', 'TEST_PASID_REPLACE', 'TEST_PASID_DETACH', 'TEST_PASID_CHECK_HWPT'] as const).map(
    (name): Change => ({
      commit: 'c1b52b0a97ae',
      release: '6.15',
      kind: 'op',
      subject: 'iommufd/selftest: Add test ops to test pasid attach/detach',
      what: `the selftest op ${name}; before, EOPNOTSUPP`,
      effect: op(name, TEST_OP_ABSENT),
    }),
  ),
  {
    commit: 'ad744ed5dd8b',
    release: '6.15',
    kind: 'flag',
    subject: 'vfio: VFIO_DEVICE_[AT|DE]TACH_IOMMUFD_PT support pasid',
    what: 'VFIO_DEVICE_ATTACH_PASID (flags bit 0) and the pasid member; before, any flag fails with EINVAL',
    effect: flags('VFIO_DEVICE_ATTACH_IOMMUFD_PT', 1n, 'EINVAL'),
  },
  {
    commit: 'ad744ed5dd8b',
    release: '6.15',
    kind: 'flag',
    subject: 'vfio: VFIO_DEVICE_[AT|DE]TACH_IOMMUFD_PT support pasid',
    what: 'VFIO_DEVICE_DETACH_PASID (flags bit 0) and the pasid member; before, any flag fails with EINVAL',
    effect: flags('VFIO_DEVICE_DETACH_IOMMUFD_PT', 1n, 'EINVAL'),
  },
  {
    commit: '803f97298e7d',
    release: '6.15',
    kind: 'semantic',
    subject: 'iommufd: Extend IOMMU_GET_HW_INFO to report PASID capability',
    what: 'GET_HW_INFO writes out_max_pasid_log2 and the PASID capability bits; before, those bytes were __reserved',
    effect: null,
  },
  {
    commit: '1062d8108615',
    release: '6.15',
    kind: 'errno',
    subject: 'iommufd: Disallow allocating nested parent domain with fault ID',
    what: 'HWPT_ALLOC with NEST_PARENT and FAULT_ID_VALID fails with EOPNOTSUPP; 6.11 to 6.14 allocated the parent and attached the fault object to it',
    effect: was('nest-parent-takes-fault-id'),
  },
  {
    commit: '1976cdf61ce9',
    release: '6.17',
    kind: 'struct',
    subject: 'iommufd/viommu: Allow driver-specific user data for a vIOMMU object',
    what: 'struct iommu_viommu_alloc grows from 24 to 40 bytes: data_len, __reserved, data_uptr; before, non-zero bytes there fail with E2BIG',
    effect: grew('iommu_viommu_alloc', 24, 24),
  },
  {
    commit: '2238ddc2b056',
    release: '6.17',
    kind: 'op',
    subject: 'iommufd/viommu: Add IOMMUFD_CMD_HW_QUEUE_ALLOC ioctl',
    what: 'IOMMU_HW_QUEUE_ALLOC; before, ENOTTY',
    effect: op('HW_QUEUE_ALLOC', IOCTL_ABSENT),
  },
  {
    commit: 'a9f10bab2e50',
    release: '6.17',
    kind: 'flag',
    subject: 'iommufd: Allow an input data_type via iommu_hw_info',
    what: 'IOMMU_HW_INFO_FLAG_INPUT_TYPE and in_data_type in GET_HW_INFO; before, any flag fails with EOPNOTSUPP',
    effect: flags('GET_HW_INFO', 1n, 'EOPNOTSUPP'),
  },
  {
    commit: '86624ba3b522',
    release: '6.17',
    kind: 'flag',
    subject: 'vfio/pci: Do vf_token checks for VFIO_DEVICE_BIND_IOMMUFD',
    what: 'VFIO_DEVICE_BIND_FLAG_TOKEN and token_uuid_ptr in VFIO_DEVICE_BIND_IOMMUFD; before, any flag fails with EINVAL (and bytes past out_devid were not read: the model answers E2BIG for a non-zero token_uuid_ptr there, as 6.17 and 6.18 do)',
    effect: flags('VFIO_DEVICE_BIND_IOMMUFD', 1n, 'EINVAL'),
  },
  {
    commit: 'b42497e3c0e7',
    release: '6.17',
    kind: 'semantic',
    subject: 'iommufd: Prevent ALIGN() overflow',
    what: 'reserved ranges reaching ULONG_MAX no longer let an automatic IOVA wrap: the allocation fails with ENOSPC (syzkaller, WARN in iopt_map_pages)',
    effect: null,
  },
  {
    commit: 'afb47765f923',
    release: '6.18',
    kind: 'errno',
    subject: "iommufd: Make vfio_compat's unmap succeed if the range is already empty",
    what: "VFIO compat's VFIO_IOMMU_UNMAP_DMA of a range where nothing is mapped succeeds with size 0, as type1 does; before, ENOENT (size 0 written back). IOAS_UNMAP still fails with ENOENT",
    effect: was('compat-unmap-empty-enoent'),
  },
  ...(['TEST_DMABUF_GET', 'TEST_DMABUF_REVOKE'] as const).map(
    (name): Change => ({
      commit: 'd2041f1f11dd',
      release: '6.19',
      kind: 'op',
      subject: 'iommufd/selftest: Add some tests for the dmabuf flow',
      what: `the selftest op ${name}; before, EOPNOTSUPP`,
      effect: op(name, TEST_OP_ABSENT),
    }),
  ),
  {
    commit: '44ebaa1744fd',
    release: '6.19',
    kind: 'semantic',
    subject: 'iommufd: Accept a DMABUF through IOMMU_IOAS_MAP_FILE',
    what: 'IOAS_MAP_FILE takes a dma-buf fd; before, only a memfd or other shmem/hugetlbfs file',
    effect: null,
  },
  {
    commit: 'e93d5945ed5b',
    release: '6.19',
    kind: 'semantic',
    subject: 'iommufd: Change the selftest to use iommupt instead of xarray',
    what: "The mock domain is an AMDv1 page table mapping every size from 2 KiB up, so a dirty bit set through TEST_DIRTY covers the whole (1 MiB or larger) page it lands in, and TEST_MD_CHECK_MAP steps by the domain's smallest page; before, an xarray of 2 KiB entries (1 MiB ones for a HUGE_IOVA device) whose dirty bits cover 2 KiB, and VFIO compat reports PAGE_SIZE alone. HWPT_ALLOC of a paging HWPT with user data (a page table type in struct iommu_hwpt_selftest) is EOPNOTSUPP before. Mock devices of the trace header follow the release too",
    effect: was('mock-xarray-page-table'),
  },
  {
    commit: '5d74781ebc86',
    release: '6.19',
    kind: 'op',
    subject: 'vfio/pci: Add dma-buf export support for MMIO regions',
    what: 'VFIO_DEVICE_FEATURE_DMA_BUF on a vfio-pci device; before, vfio_pci_core_ioctl_feature() does not know the feature: ENOTTY, after the common argsz and flags checks',
    effect: was('device-feature-no-dma-buf'),
  },
  {
    commit: '2f03f21fe751',
    release: '6.19',
    kind: 'struct',
    subject: 'vfio: Fix ksize arg while copying user struct in vfio_df_ioctl_bind_iommufd()',
    what: "struct vfio_device_bind_iommufd is copied with its full 24 bytes; 6.17 and 6.18 passed minsz (16) as the kernel's size, so a non-zero token_uuid_ptr failed with E2BIG",
    effect: grew('vfio_device_bind_iommufd', 16, 16),
  },
];
