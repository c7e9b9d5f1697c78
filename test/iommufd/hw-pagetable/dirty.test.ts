/**
 * Dirty tracking, one test per kernel check (iommufd_hwpt_set_dirty_tracking(),
 * iommufd_hwpt_get_dirty_bitmap() of hw_pagetable.c, iommufd_check_iova_range() and
 * iopt_read_and_clear_dirty_data() of io_pagetable.c, iommufd_test_dirty() of selftest.c).
 */
import { describe, expect, it } from 'vitest';
import { type Ran, HEADER, errnos, afterPrologue, failedAt, refused } from '../../harness.ts';

const IOVA = '0x1000000';
const BITMAP = '0x7f00000f0000';
/**
 * fd 3, IOAS 1 with large pages disabled, mock device (stdev 2, device 3, HWPT 4), 64 KiB
 * mapped at MOCK_APERTURE_START, a DIRTY_TRACKING HWPT 5 tracking.
 */
const TRACKING = [
  { op: 'OPEN' },
  { op: 'IOAS_ALLOC' },
  { op: 'OPTION', args: { option_id: 'HUGE_PAGES', op: 'SET', object_id: 1, val64: 0 } },
  { op: 'TEST_MOCK_DOMAIN', args: { id: 1 } },
  { op: 'IOAS_MAP', args: { ioas_id: 1, flags: ['FIXED_IOVA', 'READABLE', 'WRITEABLE'], user_va: '0x7f0000000000', length: '0x10000', iova: IOVA } },
  { op: 'HWPT_ALLOC', args: { dev_id: 3, pt_id: 1, flags: ['DIRTY_TRACKING'] } },
  { op: 'HWPT_SET_DIRTY_TRACKING', args: { hwpt_id: 5, flags: ['ENABLE'] } },
];
const tracking = (hwpt: number, enable: boolean, args: object = {}) => ({
  op: 'HWPT_SET_DIRTY_TRACKING',
  args: { hwpt_id: hwpt, flags: enable ? ['ENABLE'] : [], ...args },
});
const setDirty = (bitmap: string, args: object = {}) => ({
  op: 'TEST_DIRTY',
  args: { id: 5, iova: IOVA, length: '0x4000', page_size: 2048, data: bitmap, ...args },
});
const getBitmap = (args: object = {}) => ({
  op: 'HWPT_GET_DIRTY_BITMAP',
  args: { hwpt_id: 5, iova: IOVA, length: '0x4000', page_size: 2048, data: BITMAP, ...args },
});

const after = (events: readonly object[], prologue: readonly object[] = TRACKING, header: object = HEADER): Ran[] =>
  afterPrologue(prologue, events, header);

describe('IOMMU_HWPT_SET_DIRTY_TRACKING (iommufd_hwpt_set_dirty_tracking)', () => {
  it('flags other than ENABLE → EOPNOTSUPP', () => {
    failedAt(after([tracking(5, true, { flags: 2 })])[0], 'EOPNOTSUPP iommufd_hwpt_set_dirty_tracking: flags has unknown bits');
  });
  it('hwpt_id not a paging HWPT → ENOENT', () => {
    refused(after([tracking(1, true)])[0], 'ENOENT');
  });
  it('a HWPT allocated without DIRTY_TRACKING → EOPNOTSUPP (iopt_set_dirty_tracking)', () => {
    failedAt(after([tracking(4, true)])[0], 'EOPNOTSUPP iopt_set_dirty_tracking: the domain has no dirty ops');
  });
  it('enabling clears every dirty bit first; disabling keeps them', () => {
    const ran = after([setDirty('0x01'), tracking(5, false), getBitmap({ flags: ['NO_CLEAR'] }), tracking(5, true), getBitmap()]);
    expect(ran[2]?.out).toEqual({ data: '0x01' });
    expect(ran[4]?.out).toEqual({ data: '0x00' });
  });
});

describe('IOMMU_TEST_OP_DIRTY (iommufd_test_dirty)', () => {
  it('page_size 0, length 0, an unaligned iova or length, or no bitmap → EINVAL', () => {
    failedAt(after([setDirty('0x01', { page_size: 0 })])[0], 'EINVAL iommufd_test_dirty: bad page_size, length or bitmap');
    refused(after([setDirty('0x01', { length: 0 })])[0], 'EINVAL');
    refused(after([setDirty('0x01', { iova: '0x1000400' })])[0], 'EINVAL');
    refused(after([setDirty('0x01', { length: '0x4400' })])[0], 'EINVAL');
    refused(after([{ op: 'TEST_DIRTY', args: { id: 5, iova: IOVA, length: '0x4000', page_size: 2048 } }])[0], 'EINVAL');
  });
  it('id not a paging HWPT → ENOENT', () => {
    refused(after([setDirty('0x01', { id: 1 })])[0], 'ENOENT');
  });
  it('a domain not tracking dirty pages → EINVAL', () => {
    failedAt(after([tracking(5, false), setDirty('0x01')])[1], 'EINVAL iommufd_test_dirty: dirty tracking is off');
  });
  it('a bitmap at an unmapped address → EFAULT', () => {
    refused(after([{ op: 'TEST_DIRTY', args: { id: 5, iova: IOVA, length: '0x4000', page_size: 2048, uptr: '0x1000' } }])[0], 'EFAULT');
  });
  it('counts every set bit, mapped or not', () => {
    const [r] = after([setDirty('0x8101', { iova: '0x100c000', length: '0x8000' })]);
    expect(r?.out).toEqual({ out_nr_dirty: 3n });
  });
});

describe('IOMMU_HWPT_GET_DIRTY_BITMAP (iommufd_hwpt_get_dirty_bitmap)', () => {
  it('flags other than NO_CLEAR, or __reserved → EOPNOTSUPP', () => {
    failedAt(after([getBitmap({ flags: 2 })])[0], 'EOPNOTSUPP iommufd_hwpt_get_dirty_bitmap: flags has unknown bits or __reserved set');
    refused(after([getBitmap({ __reserved: 1 })])[0], 'EOPNOTSUPP');
  });
  it('hwpt_id not a paging HWPT → ENOENT', () => {
    refused(after([getBitmap({ hwpt_id: 1 })])[0], 'ENOENT');
  });
  it('iova + length - 1 past 2^64 → EOVERFLOW', () => {
    failedAt(after([getBitmap({ iova: '0xfffffffffffff000', length: '0x2000' })])[0], 'EOVERFLOW iommufd_check_iova_range: iova + length - 1 overflows');
  });
  it('iova or the end not aligned to the IOAS alignment → EINVAL', () => {
    failedAt(after([getBitmap({ length: '0x3f00' })])[0], 'EINVAL iommufd_check_iova_range: range unaligned to the IOAS');
  });
  it('page_size 0 → EINVAL', () => {
    failedAt(after([getBitmap({ page_size: 0 })])[0], 'EINVAL iommufd_check_iova_range: page_size is 0');
  });
  it('iova or the end not aligned to page_size → EINVAL', () => {
    failedAt(after([getBitmap({ page_size: 0x10000 })])[0], 'EINVAL iommufd_check_iova_range: range unaligned to page_size');
  });
  it('a domain without dirty tracking → EOPNOTSUPP (iommu_read_and_clear_dirty)', () => {
    failedAt(after([getBitmap({ hwpt_id: 4 })])[0], 'EOPNOTSUPP iommu_read_and_clear_dirty: the domain has no dirty ops');
  });
  it('reports the dirty granules and clears them', () => {
    const ran = after([setDirty('0x05'), getBitmap(), getBitmap()]);
    expect(ran[1]?.out).toEqual({ data: '0x05' });
    expect(ran[2]?.out).toEqual({ data: '0x00' });
  });
  it('NO_CLEAR leaves them dirty', () => {
    const ran = after([setDirty('0x05'), getBitmap({ flags: ['NO_CLEAR'] }), getBitmap()]);
    expect(ran[1]?.out).toEqual({ data: '0x05' });
    expect(ran[2]?.out).toEqual({ data: '0x05' });
  });
  it('a bitmap the kernel cannot pin for writing: success, nothing written, nothing cleared', () => {
    const ran = after([setDirty('0x05'), getBitmap({ data: '0x1000' }), getBitmap()]);
    expect(ran[1]?.errno).toBe('ok');
    expect(ran[1]?.out).toEqual({});
    expect(ran[2]?.out).toEqual({ data: '0x05' });
  });
  it('unmapping an area takes its dirty bits with it', () => {
    const unmap = { op: 'IOAS_UNMAP', args: { ioas_id: 1, iova: IOVA, length: '0x10000' } };
    const map = { op: 'IOAS_MAP', args: { ioas_id: 1, flags: ['FIXED_IOVA', 'READABLE'], user_va: '0x7f0000000000', length: '0x10000', iova: IOVA } };
    const ran = after([setDirty('0x05'), unmap, map, getBitmap()]);
    expect(ran[3]?.out).toEqual({ data: '0x00' });
  });
  it('the walk stops at the first hole, and still succeeds', () => {
    const ran = after([setDirty('0xff', { iova: '0x100e000' }), getBitmap({ iova: '0x100e000', length: '0x4000' })]);
    expect(ran[0]?.out).toEqual({ out_nr_dirty: 8n });
    expect(ran[1]?.out).toEqual({ data: '0x0f' });
  });
  it('a HUGE page table maps 1 MiB PTEs over huge pages: one dirty bit dirties 1 MiB', () => {
    const header = {
      ...HEADER,
      env: { ...HEADER.env, mappings: [...HEADER.env.mappings, { addr: '0x7f0000400000', length: '0x200000', shared: true, hugepage: true }] },
    };
    const huge = [
      { op: 'OPEN' },
      { op: 'IOAS_ALLOC' },
      { op: 'TEST_MOCK_DOMAIN', args: { id: 1 } },
      { op: 'IOAS_MAP', args: { ioas_id: 1, flags: ['FIXED_IOVA', 'READABLE', 'WRITEABLE'], user_va: '0x7f0000400000', length: '0x200000', iova: IOVA } },
      { op: 'HWPT_ALLOC', args: { dev_id: 3, pt_id: 1, flags: ['DIRTY_TRACKING'], data_type: 'SELFTEST', data_len: 8, data: { pagetable_type: 1 } } },
      tracking(5, true),
    ];
    const ran = after([setDirty('0x01'), getBitmap({ length: '0x200000' })], huge, header);
    expect(errnos(ran)).toEqual(['ok', 'ok']);
    expect(ran[1]?.out).toEqual({ data: `0x${'ff'.repeat(64)}${'00'.repeat(64)}` });
  });

  it('a page size of 1 over 1 GiB of dirty pages: read by ranges of bits, not bit by bit, and shown up to 16 MiB', () => {
    // 1 GiB mapped in the default mock domain, which may map 1 MiB PTEs: every one of its 2^18 pages dirtied.
    const gib = [
      { op: 'OPEN' },
      { op: 'IOAS_ALLOC' },
      { op: 'TEST_MOCK_DOMAIN', args: { id: 1 } },
      { op: 'MMAP', args: { addr: '0x7f1000000000', length: '0x40000000' } },
      { op: 'IOAS_MAP', args: { ioas_id: 1, flags: ['FIXED_IOVA', 'READABLE', 'WRITEABLE'], user_va: '0x7f1000000000', length: '0x40000000', iova: '0x40000000' } },
      { op: 'HWPT_ALLOC', args: { dev_id: 3, pt_id: 1, flags: ['DIRTY_TRACKING'] } },
      tracking(5, true),
    ];
    const all = { op: 'TEST_DIRTY', args: { id: 5, iova: '0x40000000', length: '0x40000000', page_size: 4096, data: `0x${'ff'.repeat(1 << 15)}` } };
    const read = (pageSize: number) => ({
      op: 'HWPT_GET_DIRTY_BITMAP',
      args: { hwpt_id: 5, iova: '0x40000000', length: '0x40000000', page_size: pageSize, flags: ['NO_CLEAR'], data: '0x7f1000000000' },
    });
    const started = performance.now();
    const ran = after([all, read(1), read(4096)], gib, { ...HEADER, env: { ...HEADER.env, memory: 'any' } });
    expect(errnos(ran)).toEqual(['ok', 'ok', 'ok']);
    expect(ran[0]?.out).toEqual({ out_nr_dirty: 1n << 18n });
    // 2^30 bits, 128 MiB, every one set: shown up to 16 MiB.
    const bytes = (ran[1]?.out as { data: string }).data;
    expect(bytes).toHaveLength(2 + 2 * (1 << 24));
    expect(/^0x(?:ff)+$/.test(bytes)).toBe(true);
    expect(ran[2]?.out).toEqual({ data: `0x${'ff'.repeat(1 << 15)}` });
    // It was a set of 2^30 bits, which the runtime refused after a minute (RangeError: Set maximum size exceeded).
    expect(performance.now() - started).toBeLessThan(10_000);
  });
});
