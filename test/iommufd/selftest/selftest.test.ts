/**
 * The selftest ops' own checks (selftest.c), each failure named by the kernel check that fired:
 * mock devices, MD_CHECK_MAP, accesses with their pins and reads, PASID_CHECK_HWPT.
 */
import { describe, expect, it } from 'vitest';
import { HEADER, afterPrologue, failedAt } from '../../harness.ts';

const IOVA = '0x1000000';
const BUF = '0x7f0000000000';
/** fd 3, IOAS 1, mock device (stdev 2, device 3, HWPT 4), one page of BUF mapped at IOVA. */
const MAPPED = [
  { op: 'OPEN' },
  { op: 'IOAS_ALLOC' },
  { op: 'TEST_MOCK_DOMAIN', args: { id: 1 } },
  { op: 'IOAS_MAP', args: { ioas_id: 1, flags: ['FIXED_IOVA', 'READABLE', 'WRITEABLE'], user_va: BUF, length: '0x1000', iova: IOVA } },
];
const checkMap = (args: object) => ({ op: 'TEST_MD_CHECK_MAP', args: { id: 4, iova: IOVA, length: '0x1000', uptr: BUF, ...args } });
/** MAPPED, then an access on IOAS 1 that pins pages: fd 4. */
const PINNING = [...MAPPED, { op: 'TEST_CREATE_ACCESS', args: { id: 1, flags: ['NEEDS_PIN_PAGES'] } }];
const pages = (args: object) => ({ op: 'TEST_ACCESS_PAGES', args: { id: 4, flags: 0, iova: IOVA, length: '0x1000', uptr: BUF, ...args } });
const rw = (args: object) => ({ op: 'TEST_ACCESS_RW', args: { id: 4, iova: IOVA, length: '0x100', uptr: BUF, flags: 0, ...args } });
const OVER_16_MIB = '0x1000001';

describe('mock devices (iommufd_test_mock_domain, iommufd_test_mock_domain_replace)', () => {
  it('dev_flags with an unknown bit → EINVAL (mock_dev_create)', () => {
    const ran = afterPrologue(MAPPED, [{ op: 'TEST_MOCK_DOMAIN_FLAGS', args: { id: 1, dev_flags: 2 } }]);
    failedAt(ran[0], 'EINVAL mock_dev_create: dev_flags has unknown bits');
  });
  it('replacing on an id that is no selftest object → ENOENT', () => {
    const ran = afterPrologue(MAPPED, [{ op: 'TEST_MOCK_DOMAIN_REPLACE', args: { id: 3, pt_id: 1 } }]);
    failedAt(ran[0], 'ENOENT iommufd_get_object: no selftest with this id');
  });
});

describe('IOMMU_TEST_OP_MD_CHECK_MAP (iommufd_test_md_check_pa)', () => {
  it('id not a paging HWPT → ENOENT', () => {
    failedAt(afterPrologue(MAPPED, [checkMap({ id: 1 })])[0], 'ENOENT iommufd_get_object: no hwpt_paging with this id');
  });
  it('a HWPT of another driver → EINVAL (get_md_pagetable)', () => {
    const header = { ...HEADER, env: { ...HEADER.env, devices: [{ name: 'vf0', kind: 'vtd' }] } };
    // Device 5, its HWPT 6.
    const other = [...MAPPED, { op: 'VFIO_DEVICE_BIND_IOMMUFD', args: { dev: 'vf0', iommufd: 3 } }, { op: 'HWPT_ALLOC', args: { dev_id: 5, pt_id: 1 } }];
    failedAt(afterPrologue(other, [checkMap({ id: 6 })], header)[0], 'EINVAL get_md_pagetable: not a mock domain');
  });
  it('iova not aligned to the domain page → EINVAL', () => {
    failedAt(afterPrologue(MAPPED, [checkMap({ iova: '0x1000100' })])[0], 'EINVAL iommufd_test_md_check_pa: range unaligned or overflows');
  });
  it('uptr not mapped → EFAULT, checked before the domain', () => {
    failedAt(afterPrologue(MAPPED, [checkMap({ iova: '0x2000000', uptr: '0x10000' })])[0], 'EFAULT get_user_pages_fast: no page at the address');
  });
  it('iova the domain does not map → EINVAL', () => {
    failedAt(afterPrologue(MAPPED, [checkMap({ iova: '0x2000000' })])[0], 'EINVAL iommufd_test_md_check_pa: iova not mapped');
  });
  it('iova mapping another page than uptr → EINVAL', () => {
    failedAt(afterPrologue(MAPPED, [checkMap({ uptr: '0x7f0000001000' })])[0], 'EINVAL iommufd_test_md_check_pa: iova maps another page');
  });
});

describe('accesses (iommufd_test_create_access, _access_pages, _access_rw)', () => {
  it('CREATE_ACCESS: an unknown flag → EOPNOTSUPP', () => {
    const ran = afterPrologue(MAPPED, [{ op: 'TEST_CREATE_ACCESS', args: { id: 1, flags: 2 } }]);
    failedAt(ran[0], 'EOPNOTSUPP iommufd_test_create_access: flags has unknown bits');
  });
  it('ACCESS_PAGES: over 16 MiB → ENOMEM, before the flags; an unknown flag → EOPNOTSUPP', () => {
    failedAt(afterPrologue(PINNING, [pages({ length: OVER_16_MIB, flags: 2 })])[0], 'ENOMEM iommufd_test_access_pages: length over 16 MiB');
    failedAt(afterPrologue(PINNING, [pages({ flags: 2 })])[0], 'EOPNOTSUPP iommufd_test_access_pages: flags has unknown bits');
  });
  it('ACCESS_PAGES: an fd not open, or not an access fd → EBADFD (iommufd_access_get)', () => {
    failedAt(afterPrologue(PINNING, [pages({ id: 9 })])[0], 'EBADFD iommufd_access_get: fd is not open');
    failedAt(afterPrologue(PINNING, [pages({ id: 3 })])[0], 'EBADFD iommufd_access_get: not a selftest access fd');
  });
  it('ACCESS_PAGES: an access created without NEEDS_PIN_PAGES → EOPNOTSUPP', () => {
    const ran = afterPrologue([...MAPPED, { op: 'TEST_CREATE_ACCESS', args: { id: 1, flags: 0 } }], [pages({})]);
    failedAt(ran[0], 'EOPNOTSUPP iommufd_test_access_pages: the access does not pin pages');
  });
  it('ACCESS_RW: over 16 MiB → ENOMEM; an unknown flag → EOPNOTSUPP', () => {
    failedAt(afterPrologue(PINNING, [rw({ length: OVER_16_MIB })])[0], 'ENOMEM iommufd_test_access_rw: length over 16 MiB');
    failedAt(afterPrologue(PINNING, [rw({ flags: 2 })])[0], 'EOPNOTSUPP iommufd_test_access_rw: flags has unknown bits');
  });
  it('ACCESS_RW: a write from an unmapped buffer, or a read into one → EFAULT', () => {
    failedAt(afterPrologue(PINNING, [rw({ uptr: '0x10000', flags: ['WRITE'] })])[0], 'EFAULT copy_from_user: user buffer not readable');
    failedAt(afterPrologue(PINNING, [rw({ uptr: '0x10000' })])[0], 'EFAULT copy_to_user: user buffer not writable');
  });
});

describe('IOMMU_TEST_OP_PASID_CHECK_HWPT (iommufd_test_pasid_check_hwpt)', () => {
  /** MAPPED, PASID-capable HWPT 5, a PASID mock device on it (stdev 6, device 7), PASID-capable HWPT 8. */
  const PASID = [
    ...MAPPED,
    { op: 'HWPT_ALLOC', args: { dev_id: 3, pt_id: 1, flags: ['PASID'] } },
    { op: 'TEST_MOCK_DOMAIN_FLAGS', args: { id: 5, dev_flags: ['PASID'] } },
    { op: 'HWPT_ALLOC', args: { dev_id: 3, pt_id: 1, flags: ['PASID'] } },
  ];
  const check = (pasid: number, hwpt: number, id = 6) => ({ op: 'TEST_PASID_CHECK_HWPT', args: { id, pasid, hwpt_id: hwpt } });
  it('id not a selftest object → ENOENT', () => {
    failedAt(afterPrologue(PASID, [check(0, 5, 7)])[0], 'ENOENT iommufd_get_object: no selftest with this id');
  });
  it('hwpt_id 0 where something is attached → EINVAL', () => {
    failedAt(afterPrologue(PASID, [check(0, 0)])[0], 'EINVAL iommufd_test_pasid_check_hwpt: pasid is not detached');
  });
  it('hwpt_id of no object → ENOENT; of an IOAS → EINVAL', () => {
    failedAt(afterPrologue(PASID, [check(0, 99)])[0], 'ENOENT iommufd_get_object: no object with this id');
    failedAt(afterPrologue(PASID, [check(0, 1)])[0], 'EINVAL iommufd_test_pasid_check_hwpt: not a HWPT');
  });
  it('a HWPT other than the one attached → EINVAL', () => {
    failedAt(afterPrologue(PASID, [check(0, 8)])[0], 'EINVAL iommufd_test_pasid_check_hwpt: another domain at pasid');
  });
});

describe('checks over many pages go a run at a time, and fail at the first page that fails', () => {
  const GIB = 0x40000000n;
  const BIG = 0x7f4000000000n;
  const hex = (v: bigint): string => `0x${v.toString(16)}`;
  /** MAPPED, then 1 GiB of private memory at BIG mapped at IOVA 1 GiB, which the mock domain pins. */
  const BIG_MAPPED = [
    ...MAPPED,
    { op: 'MMAP', args: { addr: hex(BIG), length: hex(GIB), shared: false } },
    { op: 'IOAS_MAP', args: { ioas_id: 1, flags: ['FIXED_IOVA', 'READABLE', 'WRITEABLE'], user_va: hex(BIG), length: hex(GIB), iova: hex(GIB) } },
  ];
  const wholeMap = checkMap({ iova: hex(GIB), length: hex(GIB), uptr: hex(BIG) });
  const middle = BIG + GIB / 2n;
  const unmapMiddle = { op: 'MUNMAP', args: { addr: hex(middle), length: '0x1000' } };
  const remapMiddle = { op: 'MMAP', args: { addr: hex(middle), length: '0x1000', shared: false } };
  const checkRefs = (uptr: bigint, length: bigint, refs: number) => ({ op: 'TEST_MD_CHECK_REFS', args: { uptr: hex(uptr), length: hex(length), refs } });

  it('MD_CHECK_MAP over 1 GiB: ok; a page unmapped in the middle → EFAULT; mapped again, it is another page → EINVAL', () => {
    const ran = afterPrologue(BIG_MAPPED, [wholeMap, unmapMiddle, wholeMap, remapMiddle, wholeMap]);
    expect(ran.map((r) => r.outcome.result?.check ?? r.errno)).toEqual([
      'ok',
      'ok',
      'EFAULT get_user_pages_fast: no page at the address',
      'ok',
      'EINVAL iommufd_test_md_check_pa: iova maps another page',
    ]);
  });
  it('MD_CHECK_MAP: a page that maps another page before a hole → EINVAL; a hole before it → EFAULT', () => {
    const hole = { op: 'MUNMAP', args: { addr: hex(middle + 0x10000n), length: '0x1000' } };
    const before = { op: 'MUNMAP', args: { addr: hex(middle - 0x10000n), length: '0x1000' } };
    const ran = afterPrologue(BIG_MAPPED, [unmapMiddle, remapMiddle, hole, wholeMap, before, wholeMap]);
    expect(ran.map((r) => r.outcome.result?.check ?? r.errno).slice(3)).toEqual([
      'EINVAL iommufd_test_md_check_pa: iova maps another page',
      'ok',
      'EFAULT get_user_pages_fast: no page at the address',
    ]);
  });
  it('MD_CHECK_REFS over 1 GiB: a wrong count before a hole → EIO; a hole before it → EFAULT', () => {
    const ran = afterPrologue(BIG_MAPPED, [
      checkRefs(BIG, GIB, 1),
      unmapMiddle,
      remapMiddle,
      checkRefs(BIG, GIB, 1),
      { op: 'MUNMAP', args: { addr: hex(middle + 0x1000n), length: '0x1000' } },
      checkRefs(middle + 0x1000n, GIB / 4n, 0),
      checkRefs(middle, GIB / 4n, 1),
    ]);
    expect(ran.map((r) => r.outcome.result?.check ?? r.errno)).toEqual([
      'ok',
      'ok',
      'ok',
      'EIO iommufd_test_md_check_refs: pin count is not refs',
      'ok',
      'EFAULT get_user_pages_fast: no page at the address',
      'EIO iommufd_test_md_check_refs: pin count is not refs',
    ]);
  });
  it('ACCESS_PAGES over 16 MiB: each pinned page must be the one at uptr, page by page', () => {
    const SIXTEEN = 0x1000000n;
    const accessPages = (uptr: bigint) => pages({ iova: hex(GIB), length: hex(SIXTEEN), uptr: hex(uptr) });
    const ran = afterPrologue(
      [...BIG_MAPPED, { op: 'TEST_CREATE_ACCESS', args: { id: 1, flags: ['NEEDS_PIN_PAGES'] } }],
      [
        accessPages(BIG),
        accessPages(BIG + 0x1000n),
        { op: 'MUNMAP', args: { addr: hex(BIG + SIXTEEN - 0x1000n), length: '0x1000' } },
        accessPages(BIG),
        { op: 'MMAP', args: { addr: hex(BIG + SIXTEEN - 0x1000n), length: '0x1000', shared: false } },
        accessPages(BIG),
      ],
    );
    expect(ran.map((r) => r.outcome.result?.check ?? r.errno)).toEqual([
      'ok',
      'EBADE iommufd_test_check_pages: pinned page is not the page at uptr',
      'ok',
      'EFAULT get_user_pages_fast: no page at the address',
      'ok',
      'EBADE iommufd_test_check_pages: pinned page is not the page at uptr',
    ]);
  });
});
