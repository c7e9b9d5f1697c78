/**
 * IOMMU_HWPT_INVALIDATE, one test per kernel check (iommufd_hwpt_invalidate() of
 * hw_pagetable.c, mock_domain_cache_invalidate_user() and mock_viommu_cache_invalidate() of
 * selftest.c), and TEST_DEV_CHECK_CACHE. `entry_num` comes back on every path.
 */
import { describe, expect, it } from 'vitest';
import { type Ran, errnos, afterPrologue, failedAt } from '../../harness.ts';

/** fd 3, IOAS 1, mock device (stdev 2, device 3, HWPT 4), NEST_PARENT HWPT 5, nested HWPT 6, vIOMMU 7. */
const NESTED = [
  { op: 'OPEN' },
  { op: 'IOAS_ALLOC' },
  { op: 'TEST_MOCK_DOMAIN', args: { id: 1 } },
  { op: 'HWPT_ALLOC', args: { dev_id: 3, pt_id: 1, flags: ['NEST_PARENT'] } },
  { op: 'HWPT_ALLOC', args: { dev_id: 3, pt_id: 5, data_type: 'SELFTEST', data_len: 8, data: { iotlb: '0xbadbeef' } } },
  { op: 'VIOMMU_ALLOC', args: { dev_id: 3, hwpt_id: 5, type: 'SELFTEST' } },
];
const inv = (hwpt: number, entries: object[], args: object = {}) => ({
  op: 'HWPT_INVALIDATE',
  args: { hwpt_id: hwpt, data_type: 'SELFTEST', entry_len: 8, data: entries, ...args },
});
const iotlb = (entry: number, value: string) => ({ op: 'TEST_MD_CHECK_IOTLB', args: { id: 6, check_iotlb: { id: entry, iotlb: value } } });
const cache = (entry: number, value: string, id = 3) => ({
  op: 'TEST_DEV_CHECK_CACHE',
  args: { id, check_dev_cache: { id: entry, cache: value } },
});
const D = '0xbadbeef';
const C = '0xbaddad';

const after = (events: readonly object[], prologue: readonly object[] = NESTED): Ran[] => afterPrologue(prologue, events);

function refused(r: Ran | undefined, errno: string, entryNum = 0n): void {
  expect(r?.errno).toBe(errno);
  expect(r?.out).toEqual({ entry_num: entryNum });
  expect(r?.outcome.world).toBe(r?.before);
}

/** Failed at kernel check `check` with nothing handled, the snapshot untouched. */
function refusedAt(r: Ran | undefined, check: string): void {
  failedAt(r, check);
  expect(r?.out).toEqual({ entry_num: 0n });
}

describe('IOMMU_HWPT_INVALIDATE (iommufd_hwpt_invalidate)', () => {
  it('__reserved → EOPNOTSUPP, entry_num 0', () => {
    refusedAt(after([inv(6, [{}], { __reserved: 1 })])[0], 'EOPNOTSUPP iommufd_hwpt_invalidate: __reserved is not zero');
  });
  it('entries with a NULL data_uptr → EINVAL', () => {
    refused(after([{ op: 'HWPT_INVALIDATE', args: { hwpt_id: 6, data_type: 'SELFTEST', entry_len: 8, entry_num: 1 } }])[0], 'EINVAL');
  });
  it('entries with entry_len 0 → EINVAL', () => {
    refusedAt(after([inv(6, [{}], { entry_len: 0 })])[0], 'EINVAL iommufd_hwpt_invalidate: entries without data_uptr or entry_len');
  });
  it('hwpt_id that does not exist → ENOENT', () => {
    refusedAt(after([inv(99, [{}])])[0], 'ENOENT iommufd_get_object: no object with this id');
  });
  it('a paging HWPT → EINVAL', () => {
    refusedAt(after([inv(5, [{}])])[0], 'EINVAL iommufd_hwpt_invalidate: not a nested HWPT or vIOMMU');
  });
  it('a nested HWPT cannot be a parent: HWPT_ALLOC on it → EINVAL', () => {
    const r = after([{ op: 'HWPT_ALLOC', args: { dev_id: 3, pt_id: 6, data_type: 'SELFTEST', data_len: 8, data: {} } }])[0];
    expect(r?.errno).toBe('EINVAL');
  });
});

describe('mock nested domain (mock_domain_cache_invalidate_user)', () => {
  it('an empty array of the right type probes the type: success, entry_num 0', () => {
    const [r] = after([inv(6, [], { entry_num: 0 })]);
    expect(r?.errno).toBe('ok');
    expect(r?.out).toEqual({ entry_num: 0n });
  });
  it('another data_type → EINVAL with nothing handled', () => {
    refusedAt(after([inv(6, [{}], { data_type: 'SELFTEST_INVALID' })])[0], 'EINVAL mock_domain_cache_invalidate_user: data_type is not selftest');
  });
  it('entry_len other than sizeof → EINVAL (iommu_copy_struct_from_user_array)', () => {
    refused(after([inv(6, [{}], { entry_len: 9 })])[0], 'EINVAL');
    refused(after([inv(6, [{}], { entry_len: 1 })])[0], 'EINVAL');
  });
  it('flags other than IOMMU_TEST_INVALIDATE_FLAG_ALL → EOPNOTSUPP', () => {
    refusedAt(after([inv(6, [{ flags: '0xffffffff' }])])[0], 'EOPNOTSUPP mock_domain_cache_invalidate_user: flags has unknown bits');
  });
  it('iotlb_id over MOCK_NESTED_DOMAIN_IOTLB_ID_MAX → EINVAL', () => {
    refusedAt(after([inv(6, [{ iotlb_id: 4 }])])[0], 'EINVAL mock_domain_cache_invalidate_user: iotlb_id over max');
  });
  it('a failing second entry keeps the first handled: entry_num 1', () => {
    const ran = after([inv(6, [{ iotlb_id: 0 }, { flags: '0xffffffff', iotlb_id: 1 }]), iotlb(0, '0'), iotlb(1, D)]);
    expect(ran[0]?.outcome.result?.check).toBe('EOPNOTSUPP mock_domain_cache_invalidate_user: flags has unknown bits');
    expect(ran[0]?.out).toEqual({ entry_num: 1n });
    expect(errnos(ran.slice(1))).toEqual(['ok', 'ok']);
  });
  it('ALL zeroes every entry', () => {
    const ran = after([inv(6, [{ flags: 1 }]), iotlb(0, '0'), iotlb(3, '0')]);
    expect(ran[0]?.out).toEqual({ entry_num: 1n });
    expect(errnos(ran.slice(1))).toEqual(['ok', 'ok']);
  });
});

describe('mock vIOMMU (mock_viommu_cache_invalidate)', () => {
  const PRE = [...NESTED, { op: 'VDEVICE_ALLOC', args: { viommu_id: 7, dev_id: 3, virt_id: '0x99' } }];
  const vinv = (entries: object[], args: object = {}) => inv(7, entries, { entry_len: 12, ...args });
  it('an empty array of the right type probes the type: success', () => {
    expect(after([vinv([], { entry_num: 0 })], PRE)[0]?.out).toEqual({ entry_num: 0n });
  });
  it('another data_type → EINVAL (iommu_copy_struct_from_full_user_array)', () => {
    const [r] = after([vinv([{ vdev_id: '0x99' }], { data_type: 'SELFTEST_INVALID' })], PRE);
    refusedAt(r, 'EINVAL iommu_copy_struct_from_full_user_array: data_type is not selftest');
  });
  it('an entry longer than the struct with non-zero bytes past it → E2BIG (copy_struct_from_user)', () => {
    const bytes = `0x${'00'.repeat(4)}99${'00'.repeat(7)}01`;
    refused(after([vinv([], { entry_len: 13, entry_num: 1, data: bytes })], PRE)[0], 'E2BIG');
  });
  it('an array larger than kmalloc serves → ENOMEM, before anything is copied', () => {
    refusedAt(after([vinv([], { entry_num: 400000 })], PRE)[0], 'ENOMEM mock_viommu_cache_invalidate: array over the largest kmalloc');
  });
  it('flags other than ALL → EOPNOTSUPP', () => {
    refusedAt(after([vinv([{ flags: '0xffffffff', vdev_id: '0x99' }])], PRE)[0], 'EOPNOTSUPP mock_viommu_cache_invalidate: flags has unknown bits');
  });
  it('cache_id over MOCK_DEV_CACHE_ID_MAX → EINVAL', () => {
    refusedAt(after([vinv([{ vdev_id: '0x99', cache_id: 4 }])], PRE)[0], 'EINVAL mock_viommu_cache_invalidate: cache_id over max');
  });
  it('a vdev_id with no VDEVICE on the vIOMMU → EINVAL', () => {
    refusedAt(after([vinv([{ vdev_id: 9 }])], PRE)[0], 'EINVAL mock_viommu_cache_invalidate: no vdevice with this vdev_id');
  });
  it('zeroes the device cache entry; a failing second entry keeps the first', () => {
    const ran = after(
      [vinv([{ vdev_id: '0x99', cache_id: 0 }, { vdev_id: '0x99', cache_id: 4 }]), cache(0, '0'), cache(1, C), vinv([{ flags: 1, vdev_id: '0x99' }]), cache(3, '0')],
      PRE,
    );
    expect(ran[0]?.errno).toBe('EINVAL');
    expect(ran[0]?.out).toEqual({ entry_num: 1n });
    expect(errnos(ran.slice(1))).toEqual(['ok', 'ok', 'ok', 'ok']);
  });
});

describe('IOMMU_TEST_OP_DEV_CHECK_CACHE (iommufd_test_dev_check_cache)', () => {
  it('id not a device → ENOENT', () => {
    failedAt(after([cache(0, C, 2)])[0], 'ENOENT iommufd_get_object: no device with this id');
  });
  it('entry over MOCK_DEV_CACHE_ID_MAX → EINVAL', () => {
    failedAt(after([cache(4, C)])[0], 'EINVAL iommufd_test_dev_check_cache: cache id over max or entry differs');
  });
  it('starts at IOMMU_TEST_DEV_CACHE_DEFAULT; another value → EINVAL', () => {
    expect(errnos(after([cache(3, C), cache(3, '0')]))).toEqual(['ok', 'EINVAL']);
  });
});
