/**
 * IOMMU_HW_QUEUE_ALLOC, one test per kernel check (iommufd_hw_queue_alloc_ioctl() and
 * iommufd_hw_queue_alloc_phys() of viommu.c, mock_hw_queue_init_phys() of selftest.c), and
 * the lock its pins put on their areas (iopt_unmap_iova_range(): EBUSY).
 */
import { describe, expect, it } from 'vitest';
import { type Ran, errnos, afterPrologue, failedAt, refused, VIOMMU_PROLOGUE } from '../../harness.ts';

const IOVA = 0x1000000n;
const hex = (v: bigint): string => `0x${v.toString(16)}`;
/** fd 3, IOAS 1, mock device (stdev 2, device 3, HWPT 4), NEST_PARENT HWPT 5, vIOMMU 6. */
const VIOMMU = VIOMMU_PROLOGUE;
const map = (iova: bigint) => ({
  op: 'IOAS_MAP',
  args: { ioas_id: 1, flags: ['FIXED_IOVA', 'READABLE', 'WRITEABLE'], user_va: hex(0x7f0000000000n + iova - IOVA), length: '0x1000', iova: hex(iova) },
});
/** Two pages mapped as two areas. */
const MAPPED = [...VIOMMU, map(IOVA), map(IOVA + 0x1000n)];
const queue = (index: number, args: object = {}) => ({
  op: 'HW_QUEUE_ALLOC',
  args: { viommu_id: 6, type: 'SELFTEST', index, nesting_parent_iova: hex(IOVA), length: '0x1000', ...args },
});
const unmap = (iova: bigint) => ({ op: 'IOAS_UNMAP', args: { ioas_id: 1, iova: hex(iova), length: '0x1000' } });

const after = (events: readonly object[], prologue: readonly object[] = MAPPED): Ran[] => afterPrologue(prologue, events);

describe('IOMMU_HW_QUEUE_ALLOC (iommufd_hw_queue_alloc_ioctl)', () => {
  it('flags or type DEFAULT → EOPNOTSUPP', () => {
    failedAt(after([queue(0, { flags: 1 })])[0], 'EOPNOTSUPP iommufd_hw_queue_alloc_ioctl: flags set or default type');
    refused(after([queue(0, { type: 'DEFAULT' })])[0], 'EOPNOTSUPP');
  });
  it('length 0 → EINVAL', () => {
    failedAt(after([queue(0, { length: 0 })])[0], 'EINVAL iommufd_hw_queue_alloc_ioctl: length is 0');
  });
  it('nesting_parent_iova + length - 1 past 2^64 → EOVERFLOW', () => {
    failedAt(after([queue(0, { nesting_parent_iova: 'U64_MAX' })])[0], 'EOVERFLOW iommufd_hw_queue_alloc_ioctl: iova + length - 1 overflows');
  });
  it('viommu_id not a vIOMMU → ENOENT', () => {
    refused(after([queue(0, { viommu_id: 5 })])[0], 'ENOENT');
  });
  it('a type the vIOMMU has no queues of → EOPNOTSUPP (get_hw_queue_size)', () => {
    failedAt(after([queue(0, { type: 'TEGRA241_CMDQV' })])[0], 'EOPNOTSUPP iommufd_hw_queue_alloc_ioctl: no HW queue of this type');
  });
  it('queue memory not mapped in the nesting parent IOAS → ENOENT (iommufd_access_pin_pages)', () => {
    refused(after([queue(0)], VIOMMU)[0], 'ENOENT');
  });
  it('the pinned span past 2^64 → ERANGE (iommufd_hw_queue_alloc_phys)', () => {
    const length = hex((1n << 64n) - 0x800n);
    failedAt(after([queue(0, { nesting_parent_iova: '0x800', length })])[0], 'ERANGE iommufd_hw_queue_alloc_phys: page span overflows');
  });
  it('queue pages not physically contiguous → EFAULT (iommufd_hw_queue_alloc_phys)', () => {
    const apart = { ...map(IOVA + 0x1000n), args: { ...map(IOVA + 0x1000n).args, user_va: '0x7f0000003000' } };
    const ran = after([queue(0, { length: '0x2000' })], [...VIOMMU, map(IOVA), apart]);
    failedAt(ran[0], 'EFAULT iommufd_hw_queue_alloc_phys: pages not physically contiguous');
  });
  it('index 1 before index 0 → EIO', () => {
    failedAt(after([queue(1)])[0], 'EIO mock_hw_queue_init_phys: previous index not allocated');
  });
  it('index IOMMU_TEST_HW_QUEUE_MAX → EINVAL', () => {
    failedAt(after([queue(2)])[0], 'EINVAL mock_hw_queue_init_phys: index over max');
  });
  it('an index taken → EEXIST', () => {
    const ran = after([queue(0), queue(0)]);
    expect(ran[0]?.out).toEqual({ out_hw_queue_id: 7n });
    failedAt(ran[1], 'EEXIST mock_hw_queue_init_phys: index taken');
  });
  it('locks the pinned area against IOAS_UNMAP (EBUSY); other areas unmap', () => {
    const ran = after([queue(0), unmap(IOVA), unmap(IOVA + 0x1000n)]);
    refused(ran[1], 'EBUSY');
    expect(ran[2]?.errno).toBe('ok');
  });
  it('an unaligned queue pins its whole page; queue 1 depends on queue 0; destroying them unlocks', () => {
    const ran = after([
      queue(0),
      queue(1, { nesting_parent_iova: hex(IOVA + 0x800n), length: '0x800' }),
      { op: 'DESTROY', args: { id: 7 } },
      { op: 'DESTROY', args: { id: 6 } },
      { op: 'DESTROY', args: { id: 9 } },
      { op: 'DESTROY', args: { id: 7 } },
      unmap(IOVA),
    ]);
    // Queue 0 is 7 with internal access 8; queue 1 is 9 with access 10.
    expect(ran[1]?.out).toEqual({ out_hw_queue_id: 9n });
    expect(errnos(ran.slice(2))).toEqual(['EBUSY', 'EBUSY', 'ok', 'ok', 'ok']);
  });
  it('the internal access is an object of its own that IOMMU_DESTROY cannot remove', () => {
    const ran = after([queue(0), { op: 'DESTROY', args: { id: 8 } }, { op: 'DESTROY', args: { id: 1 } }]);
    expect(errnos(ran)).toEqual(['ok', 'EBUSY', 'EBUSY']);
  });
});
