/**
 * IOMMU_HWPT_ALLOC, one test per kernel check (iommufd_hwpt_alloc(), iommufd_hwpt_paging_alloc(),
 * iommufd_hwpt_nested_alloc() of hw_pagetable.c, and the mock driver's domain allocators in
 * selftest.c), in the kernel's order; and TEST_MD_CHECK_IOTLB on the nested domains it makes.
 */
import { describe, expect, it } from 'vitest';
import type { Ioas } from '../../../src/model/world.ts';
import { HEADER, errnos, afterPrologue, failedAt, refused } from '../../harness.ts';

/** fd 3, IOAS 1, mock device on it: stdev 2, device 3, automatic HWPT 4. */
const MOCK = [{ op: 'OPEN' }, { op: 'IOAS_ALLOC' }, { op: 'TEST_MOCK_DOMAIN', args: { id: 1 } }];
const SELFTEST_DATA = { data_type: 'SELFTEST', data_len: 8, data: { iotlb: '0xbadbeef' } };
const alloc = (args: object = {}) => ({ op: 'HWPT_ALLOC', args: { dev_id: 3, pt_id: 1, ...args } });
/** A NEST_PARENT HWPT on IOAS 1: id 5. */
const PARENT = alloc({ flags: ['NEST_PARENT'] });
const nested = (args: object = {}) => alloc({ pt_id: 5, ...SELFTEST_DATA, ...args });
const checkIotlb = (id: number, entry: number, iotlb: string) => ({
  op: 'TEST_MD_CHECK_IOTLB',
  args: { id, check_iotlb: { id: entry, iotlb } },
});

const after = afterPrologue;

/** The failed command left the snapshot as it was. */
describe('IOMMU_HWPT_ALLOC common checks (iommufd_hwpt_alloc)', () => {
  it('__reserved → EOPNOTSUPP', () => {
    failedAt(after(MOCK, [alloc({ __reserved: 1 })])[0], 'EOPNOTSUPP iommufd_hwpt_alloc: __reserved is not zero');
  });
  it('data_type NONE with a data_len → EINVAL', () => {
    failedAt(after(MOCK, [alloc({ data_len: 8 })])[0], 'EINVAL iommufd_hwpt_alloc: data_len disagrees with data_type');
  });
  it('a data_type with data_len 0 → EINVAL', () => {
    refused(after(MOCK, [alloc({ data_type: 'SELFTEST' })])[0], 'EINVAL');
  });
  it('dev_id not a device → ENOENT (iommufd_get_device)', () => {
    refused(after(MOCK, [alloc({ dev_id: 1 })])[0], 'ENOENT');
  });
  it('pt_id that does not exist → EINVAL, not ENOENT', () => {
    failedAt(after(MOCK, [alloc({ pt_id: 99 })])[0], 'EINVAL iommufd_hwpt_alloc: no object with pt_id');
  });
  it('pt_id of a type that cannot parent a HWPT (a device) → EINVAL', () => {
    failedAt(after(MOCK, [alloc({ pt_id: 3 })])[0], 'EINVAL iommufd_hwpt_alloc: pt_id is not an IOAS, HWPT_PAGING or vIOMMU');
  });
});

describe('paging HWPT on an IOAS (iommufd_hwpt_paging_alloc)', () => {
  it('a flag outside NEST_PARENT|DIRTY_TRACKING|FAULT_ID_VALID|PASID → EOPNOTSUPP', () => {
    failedAt(after(MOCK, [alloc({ flags: '0xfffffffe' })])[0], 'EOPNOTSUPP iommufd_hwpt_paging_alloc: flags has unknown bits');
  });
  it('DIRTY_TRACKING for a device without dirty tracking → EOPNOTSUPP', () => {
    const flags = { op: 'TEST_MOCK_DOMAIN_FLAGS', args: { id: 1, dev_flags: ['NO_DIRTY'] } };
    // stdev 5, device 6 share HWPT 4.
    const [r] = after([...MOCK, flags], [alloc({ dev_id: 6, flags: ['DIRTY_TRACKING'] })]);
    failedAt(r, 'EOPNOTSUPP iommufd_hwpt_paging_alloc: the device cannot track dirty pages');
  });
  it('FAULT_ID_VALID with NEST_PARENT → EOPNOTSUPP', () => {
    failedAt(after(MOCK, [alloc({ flags: ['NEST_PARENT', 'FAULT_ID_VALID'] })])[0], 'EOPNOTSUPP iommufd_hwpt_paging_alloc: FAULT_ID_VALID with NEST_PARENT');
  });
  it('mock: user data of another type → EOPNOTSUPP (mock_domain_alloc_paging_flags)', () => {
    failedAt(after(MOCK, [alloc({ ...SELFTEST_DATA, data_type: 'VTD_S1' })])[0], 'EOPNOTSUPP mock_domain_alloc_paging_flags: data_type is not selftest');
  });
  it('mock: user data shorter than its first version (iotlb) → EINVAL (iommu_copy_struct_from_user)', () => {
    refused(after(MOCK, [alloc({ ...SELFTEST_DATA, data_len: 3 })])[0], 'EINVAL');
  });
  it('mock: user data longer than the struct → EINVAL, not E2BIG', () => {
    refused(after(MOCK, [alloc({ ...SELFTEST_DATA, data_len: 9 })])[0], 'EINVAL');
  });
  it('mock: user data at an unmapped address → EFAULT', () => {
    refused(after(MOCK, [alloc({ data_type: 'SELFTEST', data_len: 8, data_uptr: '0x1000' })])[0], 'EFAULT');
  });
  it('mock: pagetable_type other than DEFAULT or HUGE → EOPNOTSUPP (mock_domain_alloc_pgtable)', () => {
    const [r] = after(MOCK, [alloc({ ...SELFTEST_DATA, data: { iotlb: 0, pagetable_type: 2 } })]);
    failedAt(r, 'EOPNOTSUPP mock_domain_alloc_pgtable: unknown pagetable_type');
  });
  it('another driver: user data, or NEST_PARENT when it cannot nest → EOPNOTSUPP (domain_alloc_paging_flags)', () => {
    const header = { ...HEADER, env: { ...HEADER.env, devices: [{ name: 'vf0', kind: 'vtd', nesting: false }] } };
    const bind = { op: 'VFIO_DEVICE_BIND_IOMMUFD', args: { dev: 'vf0', iommufd: 3 } };
    // Device 5.
    const ran = after([...MOCK, bind], [alloc({ dev_id: 5, ...SELFTEST_DATA }), alloc({ dev_id: 5, flags: ['NEST_PARENT'] })], header);
    failedAt(ran[0], 'EOPNOTSUPP domain_alloc_paging_flags: the driver takes no user data');
    failedAt(ran[1], 'EOPNOTSUPP domain_alloc_paging_flags: the driver cannot nest');
  });
  it('the domain cannot join an IOAS with an area its smallest page does not align → EADDRINUSE (iopt_check_iova_alignment)', () => {
    const map = {
      op: 'IOAS_MAP',
      args: { ioas_id: 5, flags: ['FIXED_IOVA', 'READABLE'], user_va: '0x7f0000000400', length: '0x400', iova: '0x1000400' },
    };
    failedAt(after([...MOCK, { op: 'IOAS_ALLOC' }, map], [alloc({ pt_id: 5 })])[0], 'EADDRINUSE iopt_check_iova_alignment: an area breaks the new alignment');
  });
  it('the domain cannot join an IOAS with an area outside its aperture → EADDRINUSE (iopt_table_add_domain)', () => {
    const map = {
      op: 'IOAS_MAP',
      args: { ioas_id: 5, flags: ['FIXED_IOVA', 'READABLE'], user_va: '0x7f0000000000', length: '0x1000', iova: '0x1000' },
    };
    refused(after([...MOCK, { op: 'IOAS_ALLOC' }, map], [alloc({ pt_id: 5 })])[0], 'EADDRINUSE');
  });
  it('makes a manual HWPT holding its IOAS, which automatic attach never picks', () => {
    const ran = after(MOCK, [
      alloc(),
      { op: 'DESTROY', args: { id: 1 } },
      { op: 'TEST_MOCK_DOMAIN', args: { id: 1 } },
      { op: 'DESTROY', args: { id: 5 } },
    ]);
    expect(ran[0]?.out).toEqual({ out_hwpt_id: 5n });
    expect(ran[1]?.errno).toBe('EBUSY');
    expect(ran[2]?.out).toMatchObject({ out_hwpt_id: 4n });
    expect(ran[3]?.errno).toBe('ok');
  });
  it('a HUGE page table has PAGE_SIZE as its smallest page: the IOAS alignment rises to 4096', () => {
    const ran = after(MOCK, [alloc({ ...SELFTEST_DATA, data: { pagetable_type: 1 } })]);
    const ioas = ran[0]?.outcome.world.contexts.get(1)?.objects.get(1) as Ioas;
    expect(ran[0]?.errno).toBe('ok');
    expect(ioas.iopt.iovaAlignment).toBe(4096n);
  });
  it('FAULT_ID_VALID naming no FAULT → ENOENT, and the HWPT is not kept', () => {
    refused(after(MOCK, [alloc({ flags: ['FAULT_ID_VALID'], fault_id: 9 })])[0], 'ENOENT');
  });
  it('FAULT_ID_VALID: the HWPT holds the FAULT (DESTROY EBUSY even with its fd closed)', () => {
    const ran = after(MOCK, [
      { op: 'FAULT_QUEUE_ALLOC' },
      alloc({ flags: ['FAULT_ID_VALID'], fault_id: 5 }),
      { op: 'CLOSE', args: { fd: 4 } },
      { op: 'DESTROY', args: { id: 5 } },
      { op: 'DESTROY', args: { id: 6 } },
      { op: 'DESTROY', args: { id: 5 } },
    ]);
    expect(ran[0]?.out).toEqual({ out_fault_id: 5n, out_fault_fd: 4n });
    expect(errnos(ran.slice(1))).toEqual(['ok', 'ok', 'EBUSY', 'ok', 'ok']);
  });
});

describe('nested HWPT on a nesting parent (iommufd_hwpt_nested_alloc)', () => {
  const PRE = [...MOCK, PARENT];
  it('a flag other than FAULT_ID_VALID|PASID → EOPNOTSUPP', () => {
    failedAt(after(PRE, [nested({ flags: ['NEST_PARENT'] })])[0], 'EOPNOTSUPP iommufd_hwpt_nested_alloc: bad flags, no data or the driver cannot nest');
  });
  it('no user data → EOPNOTSUPP', () => {
    refused(after(PRE, [alloc({ pt_id: 5 })])[0], 'EOPNOTSUPP');
  });
  it('an automatic parent → EINVAL', () => {
    failedAt(after(PRE, [nested({ pt_id: 4 })])[0], 'EINVAL iommufd_hwpt_nested_alloc: parent automatic, not NEST_PARENT or foreign');
  });
  it('a parent not allocated with NEST_PARENT → EINVAL', () => {
    refused(after([...MOCK, alloc()], [nested()])[0], 'EINVAL');
  });
  it('a parent of another driver → EINVAL', () => {
    const header = { ...HEADER, env: { ...HEADER.env, devices: [{ name: 'vf0', kind: 'vtd', nesting: true }] } };
    const bind = { op: 'VFIO_DEVICE_BIND_IOMMUFD', args: { dev: 'vf0', iommufd: 3 } };
    // Device 5, its NEST_PARENT HWPT 6; the mock device 3 cannot nest on it.
    const ran = after([...MOCK, bind, alloc({ dev_id: 5, flags: ['NEST_PARENT'] })], [nested({ pt_id: 6 })], header);
    refused(ran[0], 'EINVAL');
  });
  it('mock: data of another type → EOPNOTSUPP (__mock_domain_alloc_nested)', () => {
    failedAt(after(PRE, [nested({ data_type: 'VTD_S1' })])[0], 'EOPNOTSUPP __mock_domain_alloc_nested: data_type is not selftest');
  });
  it('mock: data shorter than iotlb → EINVAL', () => {
    refused(after(PRE, [nested({ data_len: 3 })])[0], 'EINVAL');
  });
  it('sets the four IOTLB entries from iotlb and holds its parent', () => {
    const ran = after(PRE, [
      nested(),
      checkIotlb(6, 0, '0xbadbeef'),
      checkIotlb(6, 3, '0xbadbeef'),
      { op: 'DESTROY', args: { id: 5 } },
      { op: 'DESTROY', args: { id: 6 } },
      { op: 'DESTROY', args: { id: 5 } },
    ]);
    expect(ran[0]?.out).toEqual({ out_hwpt_id: 6n });
    expect(errnos(ran.slice(1))).toEqual(['ok', 'ok', 'EBUSY', 'ok', 'ok']);
  });
});

describe('IOMMU_TEST_OP_MD_CHECK_IOTLB (iommufd_test_md_check_iotlb)', () => {
  const PRE = [...MOCK, PARENT, nested()];
  it('id not a nested HWPT → ENOENT (get_md_pagetable_nested)', () => {
    refused(after(PRE, [checkIotlb(5, 0, '0xbadbeef')])[0], 'ENOENT');
  });
  it('entry over MOCK_NESTED_DOMAIN_IOTLB_ID_MAX → EINVAL', () => {
    failedAt(after(PRE, [checkIotlb(6, 4, '0xbadbeef')])[0], 'EINVAL iommufd_test_md_check_iotlb: iotlb id over max or entry differs');
  });
  it('a value that is not the entry → EINVAL', () => {
    refused(after(PRE, [checkIotlb(6, 1, '0x1')])[0], 'EINVAL');
  });
});
