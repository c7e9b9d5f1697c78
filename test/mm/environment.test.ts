/** Environment events and the checks every event shares (a live pid, an open fd). */
import { describe, expect, it } from 'vitest';
import { traceHeader } from '../fixtures.ts';
import { errnos, runTrace, withIoas } from '../harness.ts';

describe('processes and fds', () => {
  it('an event of a pid that does not exist → ESRCH, nothing changes', () => {
    const [r] = runTrace([{ op: 'OPEN', pid: 9 }]);
    expect(r?.errno).toBe('ESRCH');
    expect(r?.outcome.unissued).toBe(true);
    expect(r?.outcome.world).toBe(r?.before);
  });
  it('an event on an fd that is not open → EBADF', () => {
    expect(errnos(withIoas([{ op: 'IOAS_ALLOC', fd: 42 }]))).toEqual(['EBADF']);
  });
  it('the first OPEN gets fd 3; CLOSE of an unknown fd → EBADF', () => {
    const ran = runTrace([{ op: 'OPEN' }, { op: 'CLOSE', args: { fd: 7 } }], undefined, false);
    expect(ran[0]?.out).toEqual({ fd: 3n });
    expect(ran[1]?.outcome.result?.check).toBe('EBADF file_close_fd: the fd is not open');
  });
  it('closing the last /dev/iommu fd destroys its context; a new OPEN starts empty', () => {
    const ran = runTrace([
      { op: 'OPEN' },
      { op: 'IOAS_ALLOC' },
      { op: 'CLOSE', args: { fd: 3 } },
      { op: 'OPEN' },
      { op: 'IOAS_ALLOC' },
    ], undefined, false);
    expect(ran[2]?.outcome.world.contexts.size).toBe(0);
    expect(ran[4]?.out).toEqual({ out_ioas_id: 1n });
  });
  it('a recorded fd is adopted when free, else the lowest free fd is used and the choice rejected', () => {
    const ran = runTrace([{ op: 'OPEN', expect: { out: { fd: 7 } } }, { op: 'OPEN', expect: { out: { fd: 7 } } }]);
    expect(ran[0]?.out).toEqual({ fd: 7n });
    expect(ran[1]?.out).toEqual({ fd: 3n });
    expect(ran[1]?.outcome.rejected.map((r) => r.field)).toEqual(['fd']);
  });
  it('OPEN of another path is not modelled yet: unsupported, nothing changes', () => {
    const [r] = runTrace([{ op: 'OPEN', args: { path: '/dev/kvm' } }]);
    expect(r?.errno).toBe('unsupported');
    expect(r?.outcome.world).toBe(r?.before);
  });
});

describe('memory', () => {
  it('mmap(NULL) takes the lowest free 2 MiB aligned address from 0x7f0000200000', () => {
    const ran = runTrace([
      { op: 'MMAP', args: { length: '0x1000' } },
      { op: 'MMAP', args: { length: '0x1000' } },
    ], undefined, false);
    expect(ran.map((r) => r.out['addr'])).toEqual([0x7f0000200000n, 0x7f0000400000n]);
  });
  describe('a huge page mapping goes by the header\'s hugepage_size', () => {
    const GIB = 0x40000000n;
    const huge = traceHeader({ hugepage_size: '0x40000000', memory: 'declared' });
    const mmap = (args: object, expect?: object) => ({ op: 'MMAP', args: { length: '0x1000', ...args }, ...(expect ? { expect } : {}) });
    const lengthAt = (r: ReturnType<typeof runTrace>[number] | undefined, addr: bigint) => {
      const m = r?.outcome.world.processes.get(1)?.mm.get(addr);
      return m === undefined ? undefined : m.last - m.start + 1n;
    };
    it('own choice: 1 GiB aligned from 0x7f0000200000 up, its length rounded to 1 GiB; other mappings stay 2 MiB aligned', () => {
      const ran = runTrace([mmap({ hugepage: true }), mmap({}), mmap({ hugepage: true })], huge, false);
      expect(ran.map((r) => r.out['addr'])).toEqual([0x7f0040000000n, 0x7f0000200000n, 0x7f0080000000n]);
      expect(lengthAt(ran[0], 0x7f0040000000n)).toBe(GIB);
      expect(lengthAt(ran[1], 0x7f0000200000n)).toBe(0x1000n);
    });
    it('a fixed address must be 1 GiB aligned', () => {
      expect(errnos(runTrace([mmap({ hugepage: true, addr: '0x7f0000200000' }), mmap({ hugepage: true, addr: '0x7f0040000000' })], huge))).toEqual(['EINVAL', 'ok']);
    });
    it('a recorded address is adopted only when 1 GiB aligned', () => {
      const ran = runTrace([
        mmap({ hugepage: true }, { out: { addr: '0x7f0000200000' } }),
        mmap({ hugepage: true }, { out: { addr: '0x7f00c0000000' } }),
      ], huge);
      expect(ran.map((r) => r.out['addr'])).toEqual([0x7f0040000000n, 0x7f00c0000000n]);
      expect(ran.map((r) => r.outcome.rejected.map((x) => x.field))).toEqual([['addr'], []]);
    });
  });
  it('MMAP: length 0 or an unaligned fixed address → EINVAL; a closed fd → EBADF; a file without mmap → ENODEV', () => {
    const ran = runTrace([
      { op: 'MMAP', args: { length: 0 } },
      { op: 'MMAP', args: { addr: '0x7f0000000800', length: '0x1000' } },
      { op: 'MMAP', args: { length: '0x1000', fd: 9, offset: 0 } },
      { op: 'OPEN' },
      { op: 'MMAP', args: { length: '0x1000', fd: 3, offset: 0 } },
    ]);
    expect(ran.map((r) => r.outcome.result?.check ?? r.errno)).toEqual([
      'EINVAL do_mmap: length is 0',
      'EINVAL __get_unmapped_area: addr not aligned to the mapping granule',
      'EBADF ksys_mmap_pgoff: the fd is not open',
      'ok',
      'ENODEV do_mmap: the file has no mmap',
    ]);
  });
  it('MMAP checks in the order of x86 sys_mmap: offset, then the fd, then the length', () => {
    const ran = runTrace([
      { op: 'MMAP', args: { length: 0, fd: 9, offset: '0x800' } },
      { op: 'MMAP', args: { length: 0, fd: 9, offset: 0 } },
      { op: 'MMAP', args: { length: 0, offset: '0x800' } },
    ]);
    expect(ran.map((r) => r.outcome.result?.check)).toEqual([
      'EINVAL sys_mmap: offset not page aligned',
      'EBADF ksys_mmap_pgoff: the fd is not open',
      'EINVAL sys_mmap: offset not page aligned',
    ]);
  });
  describe('a range that wraps past 2^64 (do_mmap, __get_unmapped_area)', () => {
    const huge = traceHeader({ hugepage_size: '0x200000', memory: 'declared' });
    const checks = (events: readonly object[], header?: object) =>
      runTrace(events, header, false).map((r) => r.outcome.result?.check ?? r.errno);
    it('a fixed address whose end wraps → ENOMEM, before the alignment check; the last page itself fits', () => {
      expect(checks([
        { op: 'MMAP', args: { addr: '0xfffffffffffff000', length: '0x2000' } },
        { op: 'MMAP', args: { addr: '0xfffffffffffff800', length: '0x1000' } },
        { op: 'MMAP', args: { addr: '0xfffffffffffff000', length: '0x1000' } },
      ])).toEqual([
        'ENOMEM __get_unmapped_area: addr + length wraps past 2^64',
        'ENOMEM __get_unmapped_area: addr + length wraps past 2^64',
        'ok',
      ]);
    });
    it('a huge page mapping checks its alignment first (hugetlb_get_unmapped_area)', () => {
      expect(checks([
        { op: 'MMAP', args: { addr: '0xffffffffffc01000', length: '0x400000', hugepage: true } },
        { op: 'MMAP', args: { addr: '0xffffffffffe00000', length: '0x400000', hugepage: true } },
      ], huge)).toEqual([
        'EINVAL __get_unmapped_area: addr not aligned to the mapping granule',
        'ENOMEM __get_unmapped_area: addr + length wraps past 2^64',
      ]);
    });
    it('a length whose page alignment wraps to 0 → ENOMEM; a huge page one is then a length of 0 → EINVAL', () => {
      expect(checks([
        { op: 'MMAP', args: { length: '0xfffffffffffff001' } },
        { op: 'MMAP', args: { length: '0xffffffffffe00001', hugepage: true } },
      ], huge)).toEqual(['ENOMEM do_mmap: length aligns up to 0', 'EINVAL do_mmap: length aligns up to 0']);
    });
    it('mmap(NULL) with no free range that long → ENOMEM; a recorded address that wraps is rejected', () => {
      const ran = runTrace([
        { op: 'MMAP', args: { length: '0xfffffffffffff000' } },
        { op: 'MMAP', args: { length: '0x2000' }, expect: { out: { addr: '0xfffffffffffff000' } } },
      ]);
      expect(ran.map((r) => r.outcome.result?.check ?? r.errno)).toEqual(['ENOMEM vm_unmapped_area: no free range that long', 'ok']);
      expect(ran[1]?.out).toEqual({ addr: 0x7f0000200000n });
      expect(ran[1]?.outcome.rejected).toEqual([{ field: 'addr', recorded: 0xfffffffffffff000n, reason: 'wraps past 2^64' }]);
    });
    it('MUNMAP of a range that wraps → EINVAL (do_vmi_munmap)', () => {
      expect(checks([
        { op: 'MUNMAP', args: { addr: '0xfffffffffffff000', length: '0x2000' } },
        { op: 'MUNMAP', args: { addr: '0', length: 'U64_MAX' } },
        { op: 'MUNMAP', args: { addr: '0xfffffffffffff000', length: '0x1000' } },
      ])).toEqual(['EINVAL do_vmi_munmap: the range wraps past 2^64', 'EINVAL do_vmi_munmap: the range wraps past 2^64', 'ok']);
    });
  });
  it('MUNMAP: length 0 or an unaligned address → EINVAL', () => {
    const ran = runTrace([
      { op: 'MUNMAP', args: { addr: '0x7f0000000000', length: 0 } },
      { op: 'MUNMAP', args: { addr: '0x7f0000000800', length: '0x1000' } },
    ]);
    expect(errnos(ran)).toEqual(['EINVAL', 'EINVAL']);
    expect(ran[1]?.outcome.result?.check).toBe('EINVAL do_vmi_munmap: length is 0 or addr not page aligned');
  });
  it('MUNMAP splits a mapping; the hole then faults', () => {
    const ran = withIoas([
      { op: 'MUNMAP', args: { addr: '0x7f0000001000', length: '0x1000' } },
      { op: 'TEST_MD_CHECK_REFS', args: { uptr: '0x7f0000000000', length: '0x1000', refs: 0 } },
      { op: 'TEST_MD_CHECK_REFS', args: { uptr: '0x7f0000001000', length: '0x1000', refs: 0 } },
      { op: 'TEST_MD_CHECK_REFS', args: { uptr: '0x7f0000002000', length: '0x1000', refs: 0 } },
    ]);
    expect(errnos(ran)).toEqual(['ok', 'ok', 'EFAULT', 'ok']);
    expect(ran[2]?.outcome.result?.check).toBe('EFAULT get_user_pages_fast: no page at the address');
  });
  it('FTRUNCATE: a non-memfd → EINVAL, a closed fd → EBADF; a hugetlb memfd takes whole huge pages', () => {
    const ran = runTrace([
      { op: 'FTRUNCATE', args: { fd: 0, length: '0x1000' } },
      { op: 'FTRUNCATE', args: { fd: 9, length: '0x1000' } },
      { op: 'MEMFD_CREATE' },
      { op: 'FTRUNCATE', args: { fd: 3, length: '0x1000' } },
      { op: 'MEMFD_CREATE', args: { hugetlb: true } },
      { op: 'FTRUNCATE', args: { fd: 4, length: '0x1000' } },
    ]);
    expect(ran.map((r) => r.outcome.result?.check ?? r.errno)).toEqual([
      'EINVAL do_ftruncate: not a regular file',
      'EBADF do_sys_ftruncate: the fd is not open',
      'ok',
      'ok',
      'ok',
      'EINVAL hugetlbfs_setattr: length not hugepage aligned',
    ]);
  });
});

describe('selftest ops without a device', () => {
  it('ADD_RESERVED: length 0 → EINVAL, wrap → EOVERFLOW, then the IOAS lookup', () => {
    const ran = withIoas([
      { op: 'TEST_ADD_RESERVED', args: { id: 9, start: '0x1000', length: 0 } },
      { op: 'TEST_ADD_RESERVED', args: { id: 9, start: 'U64_MAX', length: 2 } },
      { op: 'TEST_ADD_RESERVED', args: { id: 9, start: '0x1000', length: '0x1000' } },
    ]);
    expect(errnos(ran)).toEqual(['EINVAL', 'EOVERFLOW', 'ENOENT']);
    expect(ran.slice(0, 2).map((r) => r.outcome.result?.check)).toEqual([
      'EINVAL iommufd_test_add_reserved: length is 0',
      'EOVERFLOW iommufd_test_add_reserved: start + length overflows',
    ]);
  });
  it('ADD_RESERVED over an area → EADDRINUSE', () => {
    expect(errnos(withIoas([
      { op: 'IOAS_MAP', args: { ioas_id: 1, flags: ['FIXED_IOVA', 'READABLE'], user_va: '0x7f0000000000', length: '0x1000', iova: '0x1000' } },
      { op: 'TEST_ADD_RESERVED', args: { id: 1, start: '0x1800', length: '0x1000' } },
    ]))).toEqual(['ok', 'EADDRINUSE']);
  });
  it('SET_TEMP_MEMORY_LIMIT below 12 → EINVAL', () => {
    const ran = withIoas([
      { op: 'TEST_SET_TEMP_MEMORY_LIMIT', args: { limit: 11 } },
      { op: 'TEST_SET_TEMP_MEMORY_LIMIT', args: { limit: 12 } },
    ]);
    expect(errnos(ran)).toEqual(['EINVAL', 'ok']);
    expect(ran[0]?.outcome.result?.check).toBe('EINVAL iommufd_test: limit below the batch element size');
  });
  it('MD_CHECK_REFS: unaligned → EINVAL; unmapped → EFAULT; a wrong count → EIO', () => {
    const ran = withIoas([
      { op: 'TEST_MD_CHECK_REFS', args: { uptr: '0x7f0000000800', length: '0x1000', refs: 0 } },
      { op: 'TEST_MD_CHECK_REFS', args: { uptr: '0x10000', length: '0x1000', refs: 0 } },
      { op: 'TEST_MD_CHECK_REFS', args: { uptr: '0x7f0000000000', length: '0x1000', refs: 1 } },
    ]);
    expect(ran.map((r) => r.outcome.result?.check)).toEqual([
      'EINVAL iommufd_test_md_check_refs: range unaligned or overflows',
      'EFAULT get_user_pages_fast: no page at the address',
      'EIO iommufd_test_md_check_refs: pin count is not refs',
    ]);
  });
});

describe('IOMMU_OPTION (iommufd_option)', () => {
  const opt = (args: object) => ({ op: 'OPTION', args });
  it('__reserved or an unknown option → EOPNOTSUPP', () => {
    expect(errnos(withIoas([opt({ __reserved: 1 }), opt({ option_id: 7 })]))).toEqual(['EOPNOTSUPP', 'EOPNOTSUPP']);
  });
  it('RLIMIT_MODE: object_id → EOPNOTSUPP; GET is 0; SET with objects → EBUSY', () => {
    const ran = withIoas([
      opt({ option_id: 'RLIMIT_MODE', op: 'GET', object_id: 1 }),
      opt({ option_id: 'RLIMIT_MODE', op: 'GET' }),
      opt({ option_id: 'RLIMIT_MODE', op: 'SET', val64: 1 }),
    ]);
    expect(errnos(ran)).toEqual(['EOPNOTSUPP', 'ok', 'EBUSY']);
    expect(ran[1]?.out).toEqual({ val64: 0n });
  });
  it('RLIMIT_MODE SET: EPERM without CAP_SYS_RESOURCE, checked before emptiness; EINVAL for a value not 0/1', () => {
    const header = traceHeader({ processes: [{ pid: 1, uid: 1000, caps: [] }] });
    expect(errnos(runTrace([{ op: 'OPEN' }, { op: 'IOAS_ALLOC' }, opt({ option_id: 'RLIMIT_MODE', op: 'SET', val64: 1 })], header))).toEqual(['ok', 'ok', 'EPERM']);
    const ran = runTrace([{ op: 'OPEN' }, opt({ option_id: 'RLIMIT_MODE', op: 'SET', val64: 2 }), opt({ option_id: 'RLIMIT_MODE', op: 'SET', val64: 1 }), opt({ option_id: 'RLIMIT_MODE', op: 'GET' })]);
    expect(errnos(ran)).toEqual(['ok', 'EINVAL', 'ok', 'ok']);
    expect(ran[3]?.out).toEqual({ val64: 1n });
  });
  it('HUGE_PAGES: ENOENT for a non-IOAS; disabling raises the alignment, EADDRINUSE over a misaligned area', () => {
    const ran = withIoas([
      opt({ option_id: 'HUGE_PAGES', op: 'GET', object_id: 2 }),
      opt({ option_id: 'HUGE_PAGES', op: 'GET', object_id: 1 }),
      { op: 'IOAS_MAP', args: { ioas_id: 1, flags: ['FIXED_IOVA', 'READABLE'], user_va: '0x7f0000000000', length: '0x800', iova: '0x1000' } },
      opt({ option_id: 'HUGE_PAGES', op: 'SET', object_id: 1, val64: 0 }),
      opt({ option_id: 'HUGE_PAGES', op: 'SET', object_id: 1, val64: 2 }),
      opt({ option_id: 'HUGE_PAGES', op: 9, object_id: 1 }),
    ]);
    expect(errnos(ran)).toEqual(['ENOENT', 'ok', 'ok', 'EADDRINUSE', 'EINVAL', 'EOPNOTSUPP']);
    expect(ran[1]?.out).toEqual({ val64: 1n });
  });
});
