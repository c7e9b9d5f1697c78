/**
 * Flag and enum names a trace may write instead of numbers: each family is the uapi constants of
 * one prefix, named without it (trace-format.md, "Flags and enum values"). Whether a field takes
 * one name or an array of them is the field's business (`FieldSpec.names.kind`), not the family's.
 *
 * Sources: include/uapi/linux/iommufd.h and vfio.h, drivers/iommu/iommufd/iommufd_test.h
 * (torvalds/linux 80478a2b, with the newer mainline additions noted), asm-generic/mman-common.h.
 */

type Family = ReadonlyMap<string, bigint>;

const family = (entries: Record<string, number>): Family =>
  new Map(Object.entries(entries).map(([name, value]) => [name, BigInt(value)]));

export const NAME_FAMILIES: ReadonlyMap<string, Family> = new Map<string, Family>([
  // enum iommufd_ioas_map_flags: IOAS_MAP, IOAS_MAP_FILE and IOAS_COPY flags.
  ['IOMMU_IOAS_MAP_', family({ FIXED_IOVA: 1, WRITEABLE: 2, READABLE: 4 })],
  // enum iommufd_hwpt_alloc_flags. Its third member is IOMMU_HWPT_FAULT_ID_VALID, without the
  // ALLOC_ infix; the format files it here because it is one of HWPT_ALLOC's flags.
  ['IOMMU_HWPT_ALLOC_', family({ NEST_PARENT: 1, DIRTY_TRACKING: 2, FAULT_ID_VALID: 4, PASID: 8 })],
  // enum iommu_hwpt_data_type; AMD_GUEST is newer mainline; SELFTEST is iommufd_test.h's.
  ['IOMMU_HWPT_DATA_', family({ NONE: 0, VTD_S1: 1, ARM_SMMUV3: 2, AMD_GUEST: 3, SELFTEST: 0xdead })],
  ['IOMMU_OPTION_', family({ RLIMIT_MODE: 0, HUGE_PAGES: 1 })],
  ['IOMMU_OPTION_OP_', family({ SET: 0, GET: 1 })],
  ['IOMMU_VFIO_IOAS_', family({ GET: 0, SET: 1, CLEAR: 2 })],
  ['IOMMU_HW_INFO_FLAG_', family({ INPUT_TYPE: 1 })],
  // enum iommu_hw_info_type: NONE (an output) and DEFAULT (an input) are both 0.
  [
    'IOMMU_HW_INFO_TYPE_',
    family({ NONE: 0, DEFAULT: 0, INTEL_VTD: 1, ARM_SMMUV3: 2, TEGRA241_CMDQV: 3, SELFTEST: 0xfeedbeef }),
  ],
  // enum iommufd_hw_capabilities; PCI_ATS_NOT_SUPPORTED is newer mainline.
  [
    'IOMMU_HW_CAP_',
    family({ DIRTY_TRACKING: 1, PCI_PASID_EXEC: 2, PCI_PASID_PRIV: 4, PCI_ATS_NOT_SUPPORTED: 8 }),
  ],
  ['IOMMU_HWPT_DIRTY_TRACKING_', family({ ENABLE: 1 })],
  ['IOMMU_HWPT_GET_DIRTY_BITMAP_', family({ NO_CLEAR: 1 })],
  // enum iommu_hwpt_invalidate_data_type mixes two prefixes: IOMMU_HWPT_INVALIDATE_DATA_VTD_S1
  // and IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3. Both go by their short names here; the two
  // selftest types have the same value in their HWPT and vIOMMU flavours.
  [
    'IOMMU_HWPT_INVALIDATE_DATA_',
    family({ VTD_S1: 0, ARM_SMMUV3: 1, SELFTEST: 0xdeadbeef, SELFTEST_INVALID: 0xdadbeef }),
  ],
  ['IOMMU_VIOMMU_TYPE_', family({ DEFAULT: 0, ARM_SMMUV3: 1, TEGRA241_CMDQV: 2, SELFTEST: 0xdeadbeef })],
  ['IOMMU_VEVENTQ_TYPE_', family({ DEFAULT: 0, ARM_SMMUV3: 1, TEGRA241_CMDQV: 2, SELFTEST: 0xbeefbeef })],
  ['IOMMU_HW_QUEUE_TYPE_', family({ DEFAULT: 0, TEGRA241_CMDQV: 1, SELFTEST: 0xdeadbeef })],
  ['IOMMU_PGFAULT_PERM_', family({ READ: 1, WRITE: 2, EXEC: 4, PRIV: 8 })],
  // vfio.h's extension and IOMMU type numbers (VFIO_CHECK_EXTENSION, VFIO_SET_IOMMU);
  // TYPE1_NESTING_IOMMU is reserved now (__VFIO_RESERVED_TYPE1_NESTING_IOMMU).
  [
    'VFIO_',
    family({
      TYPE1_IOMMU: 1, SPAPR_TCE_IOMMU: 2, TYPE1v2_IOMMU: 3, DMA_CC_IOMMU: 4, EEH: 5,
      TYPE1_NESTING_IOMMU: 6, SPAPR_TCE_v2_IOMMU: 7, NOIOMMU_IOMMU: 8, UNMAP_ALL: 9, UPDATE_VADDR: 10,
    }),
  ],
  ['VFIO_DMA_MAP_FLAG_', family({ READ: 1, WRITE: 2, VADDR: 4 })],
  ['VFIO_DMA_UNMAP_FLAG_', family({ GET_DIRTY_BITMAP: 1, ALL: 2, VADDR: 4 })],
  ['VFIO_IOMMU_INFO_', family({ PGSIZES: 1, CAPS: 2 })],
  ['VFIO_IOMMU_SPAPR_INFO_', family({ DDW: 1 })],
  ['VFIO_IOMMU_DIRTY_PAGES_FLAG_', family({ START: 1, STOP: 2, GET_BITMAP: 4 })],
  ['VFIO_GROUP_FLAGS_', family({ VIABLE: 1, CONTAINER_SET: 2 })],
  ['VFIO_DEVICE_BIND_FLAG_', family({ TOKEN: 1 })],
  ['VFIO_DEVICE_ATTACH_', family({ PASID: 1 })],
  ['VFIO_DEVICE_DETACH_', family({ PASID: 1 })],
  // struct vfio_device_feature's flags: a feature number in the low 16 bits, the operation bits
  // above; a trace may give the feature apart as `feature`. DMA_BUF is newer mainline.
  [
    'VFIO_DEVICE_FEATURE_',
    family({
      PCI_VF_TOKEN: 0, MIGRATION: 1, MIG_DEVICE_STATE: 2, LOW_POWER_ENTRY: 3, LOW_POWER_ENTRY_WITH_WAKEUP: 4,
      LOW_POWER_EXIT: 5, DMA_LOGGING_START: 6, DMA_LOGGING_STOP: 7, DMA_LOGGING_REPORT: 8, MIG_DATA_SIZE: 9,
      BUS_MASTER: 10, DMA_BUF: 11, GET: 0x10000, SET: 0x20000, PROBE: 0x40000,
    }),
  ],
  // include/linux/iommu.h: the prot of vfio_pin_pages().
  ['IOMMU_', family({ READ: 1, WRITE: 2, CACHE: 4, NOEXEC: 8, MMIO: 0x10, PRIV: 0x20 })],
  // open(2) flags (x86-64 values) of a dma-buf's open_flags.
  ['O_', family({ RDONLY: 0, WRONLY: 1, RDWR: 2, NONBLOCK: 0x800, CLOEXEC: 0x80000 })],
  // iommufd_test.h; HUGE_IOVA exists in older kernels only, kept so their captures parse.
  ['MOCK_FLAGS_DEVICE_', family({ NO_DIRTY: 1, HUGE_IOVA: 2, PASID: 4 })],
  ['MOCK_FLAGS_ACCESS_', family({ WRITE: 1, SYZ: 0x10000 })],
  ['MOCK_FLAGS_ACCESS_CREATE_', family({ NEEDS_PIN_PAGES: 1 })],
  ['MOCK_ACCESS_RW_', family({ WRITE: 1, SLOW_PATH: 4 })],
  ['PROT_', family({ NONE: 0, READ: 1, WRITE: 2, EXEC: 4 })],
]);

/** The value of `name` in `familyName`, or undefined when the family has no such name. */
export function nameValue(familyName: string, name: string): bigint | undefined {
  return NAME_FAMILIES.get(familyName)?.get(name);
}
