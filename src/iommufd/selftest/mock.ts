/**
 * The selftest mock IOMMU driver (`drivers/iommu/iommufd/selftest.c`, spec §7.1-7.2): its
 * devices, the paging domains it allocates, and what it reports through GET_HW_INFO.
 */
import type { DeviceModel, Domain } from '../../model/world.ts';

export const MOCK_APERTURE_START = 1n << 24n;
export const MOCK_APERTURE_LAST = (1n << 31n) - 1n;
export const MOCK_PAGE_SIZE = 2048n;
export const MOCK_HUGE_PAGE_SIZE = 512n * MOCK_PAGE_SIZE;
export const MOCK_FLAGS_DEVICE_NO_DIRTY = 1n;
/** A mock device whose domains also map MOCK_HUGE_PAGE_SIZE pages: 6.8 to 6.18 only. */
export const MOCK_FLAGS_DEVICE_HUGE_IOVA = 2n;
export const MOCK_FLAGS_DEVICE_PASID = 4n;
export const MOCK_PASID_WIDTH = 20;
export const IOMMU_HW_INFO_TYPE_SELFTEST = 0xfeedbeefn;
export const IOMMU_HWPT_DATA_SELFTEST = 0xdeadn;
export const MOCK_IOMMUPT_DEFAULT = 0n;
export const MOCK_IOMMUPT_HUGE = 1n;
/** The mock nested domain's IOTLB and the mock device's cache: four entries each. */
export const MOCK_NESTED_DOMAIN_IOTLB_ID_MAX = 3n;
export const MOCK_DEV_CACHE_ID_MAX = 3n;
export const IOMMU_HWPT_INVALIDATE_DATA_SELFTEST = 0xdeadbeefn;
export const IOMMU_VIOMMU_TYPE_SELFTEST = 0xdeadbeefn;
export const IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST = 0xdeadbeefn;
export const IOMMU_VEVENTQ_TYPE_SELFTEST = 0xbeefbeefn;
export const IOMMU_HW_QUEUE_TYPE_SELFTEST = 0xdeadbeefn;
export const IOMMU_TEST_HW_QUEUE_MAX = 2;
export const IOMMU_TEST_INVALIDATE_FLAG_ALL = 1n;
/** `IOMMU_TEST_PASID_RESERVED`: every second set of this PASID fails (ENOMEM). */
export const IOMMU_TEST_PASID_RESERVED = 1024;
/**
 * The mock's generic AMDv1 page table starts at level 2 with a 2 KiB granule: three levels of
 * 9 bits give a 38-bit IOVA space and leaf sizes 2^11..2^37 (`amdv1pt_iommu_fmt_init()`).
 */
const VA_BITS = 38n;
const MOCK_PGSIZE_BITMAP = ((1n << VA_BITS) - 1n) & ~(MOCK_PAGE_SIZE - 1n);

/**
 * `mock_dev_create()`: flags other than NO_DIRTY and PASID are refused (EINVAL, by the caller).
 * Before 6.19 (e93d5945ed5b) the mock page table was an xarray of MOCK_PAGE_SIZE entries
 * (`mock_domain_alloc_paging_flags()`: pgsize_bitmap MOCK_IO_PAGE_SIZE, and MOCK_HUGE_PAGE_SIZE
 * too for a HUGE_IOVA device), not an AMDv1 table of every size: `xarray` is that release.
 */
export function mockDeviceModel(flags: bigint, xarray = false): DeviceModel {
  const xarrayPages = MOCK_PAGE_SIZE | ((flags & MOCK_FLAGS_DEVICE_HUGE_IOVA) !== 0n ? MOCK_HUGE_PAGE_SIZE : 0n);
  return {
    name: 'mock',
    kind: 'mock',
    group: 'mock',
    iommu: 'mock',
    mockFlags: flags,
    pgsizeBitmap: xarray ? xarrayPages : MOCK_PGSIZE_BITMAP,
    aperture: { start: MOCK_APERTURE_START, last: MOCK_APERTURE_LAST },
    reserved: [],
    maxPasidLog2: (flags & MOCK_FLAGS_DEVICE_PASID) !== 0n ? MOCK_PASID_WIDTH : 0,
    dirty: (flags & MOCK_FLAGS_DEVICE_NO_DIRTY) === 0n,
    nesting: true,
  };
}

/** The `dev_flags` bits `mock_dev_create()` of the newest release knows. */
export const MOCK_DEVICE_FLAGS = MOCK_FLAGS_DEVICE_NO_DIRTY | MOCK_FLAGS_DEVICE_PASID;

/**
 * A paging domain for a device: the mock's DEFAULT page table (2 KiB pages, aperture forced to
 * [MOCK_APERTURE_START, MOCK_APERTURE_LAST]) or HUGE one (1 MiB | PAGE_SIZE, the page table's
 * own 38-bit aperture); another driver's domain takes the device's own parameters.
 */
export function domainFor(model: DeviceModel, dirtyTracking: boolean, pagetableType: bigint, pageSize: bigint): Domain {
  if (model.kind === 'mock' && pagetableType === MOCK_IOMMUPT_HUGE) {
    return {
      pgsizeBitmap: MOCK_HUGE_PAGE_SIZE | pageSize,
      aperture: { start: 0n, last: (1n << VA_BITS) - 1n },
      iommu: model.iommu,
      dirtyTracking,
    };
  }
  return { pgsizeBitmap: model.pgsizeBitmap, aperture: model.aperture, iommu: model.iommu, dirtyTracking };
}
