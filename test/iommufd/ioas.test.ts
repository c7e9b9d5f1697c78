/**
 * IOAS ioctls, one test per kernel check (ioas.c, io_pagetable.c), in the kernel's order.
 */
import { describe, expect, it } from 'vitest';
import { type Ran, errnos, failedAt, runTrace, withIoas } from '../harness.ts';

const BUF = '0x7f0000000000';
const RW = ['READABLE', 'WRITEABLE'];
const FIXED_RW = ['FIXED_IOVA', ...RW];
/** Each event's failed kernel check (`EINVAL iopt_check_iova: iova unaligned`), or 'ok'. */
const checks = (ran: readonly Ran[]): string[] => ran.map((r) => r.outcome.result?.check ?? r.errno);
const map = (iova: string, length: string, extra: object = {}) => ({
  op: 'IOAS_MAP',
  args: { ioas_id: 1, flags: FIXED_RW, user_va: BUF, length, iova, ...extra },
});

describe('IOMMU_IOAS_ALLOC (iommufd_ioas_alloc_ioctl)', () => {
  it('gives the lowest free id from 1, and reuses a destroyed one', () => {
    const ran = runTrace([
      { op: 'OPEN' },
      { op: 'IOAS_ALLOC' },
      { op: 'IOAS_ALLOC' },
      { op: 'DESTROY', args: { id: 1 } },
      { op: 'IOAS_ALLOC' },
    ], undefined, false);
    expect(ran.map((r) => r.out['out_ioas_id'])).toEqual([undefined, 1n, 2n, undefined, 1n]);
  });
  it('flags != 0 → EOPNOTSUPP', () => {
    failedAt(withIoas([{ op: 'IOAS_ALLOC', args: { flags: 1 } }])[0], 'EOPNOTSUPP iommufd_ioas_alloc_ioctl: flags is not zero');
  });
  it('a failed alloc takes no id', () => {
    const ran = withIoas([{ op: 'IOAS_ALLOC', args: { flags: 1 } }, { op: 'IOAS_ALLOC' }]);
    expect(ran[1]?.out['out_ioas_id']).toBe(2n);
  });
});

describe('common ioctl rules (iommufd_fops_ioctl)', () => {
  it('NULL argument → EFAULT (get_user of size)', () => {
    failedAt(withIoas([{ op: 'DESTROY', args: null }])[0], 'EFAULT iommufd_fops_ioctl: get_user(size) of a NULL argument');
  });
  it('size below offsetofend(last field) → EINVAL', () => {
    failedAt(withIoas([{ op: 'IOAS_MAP', args: { size: 39 } }])[0], 'EINVAL iommufd_fops_ioctl: size is below the minimum');
  });
  it('non-zero bytes past sizeof → E2BIG; zero ones are fine', () => {
    expect(checks(withIoas([
      { op: 'DESTROY', args: { size: 9, __trailing: '0xff' } },
      { op: 'DESTROY', args: { size: 9, id: 1 } },
    ]))).toEqual(['E2BIG copy_struct_from_user: non-zero bytes past the kernel struct', 'ok']);
  });
  it('a raw number below the table goes to VFIO compat: ENOTTY without reading the argument', () => {
    expect(errnos(withIoas([{ op: 'IOCTL', args: { cmd: '0x3b7f', arg: null } }]))).toEqual(['ENOTTY']);
  });
  it('a raw number inside the table reads size first: NULL → EFAULT, empty slot → ENOTTY', () => {
    expect(errnos(withIoas([
      { op: 'IOCTL', args: { cmd: '0x3b95', arg: null } },
      { op: 'IOCTL', args: { cmd: '0x3b95' } },
      { op: 'IOCTL', args: { cmd: '0xc0183b85' } },
    ]))).toEqual(['EFAULT', 'ENOTTY', 'ENOTTY']);
  });
  it('a known number with a zeroed argument has size 0 → EINVAL', () => {
    expect(errnos(withIoas([{ op: 'IOCTL', args: { cmd: '0x3b85' } }]))).toEqual(['EINVAL']);
  });
  it('an ioctl on a memfd → ENOTTY', () => {
    expect(errnos(withIoas([{ op: 'MEMFD_CREATE' }, { op: 'IOAS_ALLOC', fd: 4 }]))).toEqual(['ok', 'ENOTTY']);
  });
});

describe('IOMMU_IOAS_IOVA_RANGES (iommufd_ioas_iova_ranges)', () => {
  const ranges = (n: number, extra: object = {}) => ({
    op: 'IOAS_IOVA_RANGES',
    args: { ioas_id: 1, num_iovas: n, allowed_iovas: BUF, ...extra },
  });
  it('__reserved → EOPNOTSUPP before the lookup', () => {
    failedAt(withIoas([ranges(1, { ioas_id: 9, __reserved: 1 })])[0], 'EOPNOTSUPP iommufd_ioas_iova_ranges: __reserved is not zero');
  });
  it('unknown IOAS → ENOENT', () => {
    failedAt(withIoas([ranges(1, { ioas_id: 9 })])[0], 'ENOENT iommufd_get_object: no IOAS with this id');
  });
  it('a fresh IOAS is one range [0, U64_MAX] with alignment 1', () => {
    const [r] = withIoas([ranges(1)]);
    expect(r?.out).toEqual({
      num_iovas: 1n,
      out_iova_alignment: 1n,
      allowed_iovas: [{ start: 0n, last: (1n << 64n) - 1n }],
    });
  });
  it('holes of the reserved set, EMSGSIZE after writing back the count', () => {
    const ran = withIoas([
      { op: 'TEST_ADD_RESERVED', args: { id: 1, start: '0x10000', length: '0x1000' } },
      ranges(1),
      ranges(2),
    ]);
    expect(ran[1]?.outcome.result?.check).toBe('EMSGSIZE iommufd_ioas_iova_ranges: more ranges than num_iovas');
    expect(ran[1]?.out['num_iovas']).toBe(2n);
    expect(ran[1]?.out['allowed_iovas']).toEqual([{ start: 0n, last: 0xffffn }]);
    expect(ran[2]?.errno).toBe('ok');
  });
  it('an output buffer nobody mapped → EFAULT', () => {
    failedAt(withIoas([ranges(1, { allowed_iovas: '0x1000' })])[0], 'EFAULT iommufd_ioas_iova_ranges: copy_to_user of allowed_iovas faults');
  });
});

describe('IOMMU_IOAS_ALLOW_IOVAS (iommufd_ioas_load_iovas, iopt_set_allow_iova)', () => {
  const allow = (iovas: object[], extra: object = {}) => ({
    op: 'IOAS_ALLOW_IOVAS',
    args: { ioas_id: 1, allowed_iovas: iovas, ...extra },
  });
  it('start >= last → EINVAL (a one-byte range too)', () => {
    failedAt(withIoas([allow([{ start: '0x1000', last: '0x1000' }])])[0], 'EINVAL iommufd_ioas_load_iovas: start is not below last');
  });
  it('overlapping an earlier entry → EINVAL', () => {
    const ran = withIoas([allow([{ start: '0x1000', last: '0x2fff' }, { start: '0x2000', last: '0x3fff' }])]);
    failedAt(ran[0], 'EINVAL iommufd_ioas_load_iovas: ranges overlap');
  });
  it('NULL array with entries → EFAULT', () => {
    failedAt(withIoas([allow([], { allowed_iovas: null, num_iovas: 1 })])[0], 'EFAULT iommufd_ioas_load_iovas: copy_from_user of an entry faults');
  });
  it('meeting a reserved range → EADDRINUSE, old list kept', () => {
    const ran = withIoas([
      { op: 'TEST_ADD_RESERVED', args: { id: 1, start: '0x8000', length: '0x1000' } },
      allow([{ start: '0x1000', last: '0x8fff' }]),
    ]);
    expect(errnos(ran)).toEqual(['ok', 'EADDRINUSE']);
    failedAt(ran[1], 'EADDRINUSE iopt_set_allow_iova: an allowed range meets a reserved range');
  });
  it('reserving over an allowed range → EADDRINUSE', () => {
    expect(checks(withIoas([
      allow([{ start: '0x1000', last: '0x8fff' }]),
      { op: 'TEST_ADD_RESERVED', args: { id: 1, start: '0x8000', length: '0x1000' } },
    ]))).toEqual(['ok', 'EADDRINUSE iopt_reserve_iova: range meets an area or an allowed range']);
  });
});

describe('IOMMU_IOAS_MAP (iommufd_ioas_map, iopt_map_user_pages)', () => {
  it('unknown flag or __reserved → EOPNOTSUPP', () => {
    expect(checks(withIoas([map('0x1000', '0x1000', { flags: 8 }), map('0x1000', '0x1000', { __reserved: 1 })]))).toEqual([
      'EOPNOTSUPP iommufd_ioas_map: flags has unknown bits',
      'EOPNOTSUPP iommufd_ioas_map: __reserved is not zero',
    ]);
  });
  it('iova or length == ULONG_MAX → EOVERFLOW, even without FIXED_IOVA', () => {
    expect(checks(withIoas([map('U64_MAX', '0x1000', { flags: RW }), map('0x1000', 'U64_MAX')]))).toEqual([
      'EOVERFLOW iommufd_ioas_map: iova or length not below ULONG_MAX',
      'EOVERFLOW iommufd_ioas_map: iova or length not below ULONG_MAX',
    ]);
  });
  it('neither READABLE nor WRITEABLE → EINVAL, before the IOAS lookup', () => {
    const [r] = withIoas([map('0x1000', '0x1000', { flags: ['FIXED_IOVA'], ioas_id: 9 })]);
    failedAt(r, 'EINVAL iommufd_ioas_map: neither readable nor writeable');
  });
  it('unknown IOAS → ENOENT', () => {
    failedAt(withIoas([map('0x1000', '0x1000', { ioas_id: 9 })])[0], 'ENOENT iommufd_get_object: no IOAS with this id');
  });
  it('user_va + length past 2^64 → EOVERFLOW (iopt_alloc_user_pages)', () => {
    failedAt(withIoas([map('0x1000', '0x2000', { user_va: '0xfffffffffffff000' })])[0], 'EOVERFLOW iopt_alloc_user_pages: uptr + length overflows');
  });
  it('length 0 or above SIZE_MAX - PAGE_SIZE → EINVAL (iopt_alloc_pages)', () => {
    expect(checks(withIoas([map('0x1000', '0'), map('0', '0xfffffffffffff000', { user_va: '0' })]))).toEqual([
      'EINVAL iopt_alloc_pages: length is 0 or too large',
      'EINVAL iopt_alloc_pages: length is 0 or too large',
    ]);
  });
  it('an unmapped user VA is accepted while the IOAS has no domain', () => {
    expect(errnos(withIoas([map('0x1000', '0x1000', { user_va: '0x1000' })]))).toEqual(['ok']);
  });
  it('FIXED_IOVA: intersecting an area → EEXIST, a reserved range → EINVAL, wrapping → EOVERFLOW', () => {
    expect(checks(withIoas([
      map('0x10000', '0x2000'),
      map('0x11000', '0x1000'),
      { op: 'TEST_ADD_RESERVED', args: { id: 1, start: '0x20000', length: '0x1000' } },
      map('0x1f000', '0x2000'),
      map('0xfffffffffffff000', '0x2000'),
    ]))).toEqual([
      'ok',
      'EEXIST iopt_check_iova: range meets an area',
      'ok',
      'EINVAL iopt_check_iova: range meets a reserved range',
      'EOVERFLOW iopt_check_iova: iova + length overflows',
    ]);
  });
  it('FIXED_IOVA is not restricted by the allowed ranges', () => {
    expect(errnos(withIoas([
      { op: 'IOAS_ALLOW_IOVAS', args: { ioas_id: 1, allowed_iovas: [{ start: '0x100000', last: '0x1fffff' }] } },
      map('0x1000', '0x1000'),
    ]))).toEqual(['ok', 'ok']);
  });
  it('with large pages off the alignment is PAGE_SIZE: misaligned iova or length → EINVAL', () => {
    expect(checks(withIoas([
      { op: 'OPTION', args: { option_id: 'HUGE_PAGES', op: 'SET', object_id: 1, val64: 0 } },
      map('0x10800', '0x1000'),
      map('0x10000', '0x800'),
    ]))).toEqual(['ok', 'EINVAL iopt_check_iova: iova unaligned', 'EINVAL iopt_alloc_area_pages: length unaligned or 0']);
  });
  it('writes back the IOVA chosen', () => {
    const [r] = withIoas([{ op: 'IOAS_MAP', args: { ioas_id: 1, flags: RW, user_va: BUF, length: '0x2000' } }], undefined);
    expect(r?.out['iova']).toBe(0x2000n);
  });
});

describe('IOMMU_IOAS_MAP_FILE (iommufd_ioas_map_file, iopt_map_file_pages)', () => {
  const memfd = [{ op: 'MEMFD_CREATE' }, { op: 'FTRUNCATE', args: { fd: 4, length: '0x4000' } }];
  const mapFile = (extra: object = {}) => ({
    op: 'IOAS_MAP_FILE',
    args: { ioas_id: 1, flags: FIXED_RW, fd: 4, start: 0, length: '0x1000', iova: '0x10000', ...extra },
  });
  it('opens with the checks of IOAS_MAP, under its own name', () => {
    expect(checks(withIoas([...memfd, mapFile({ flags: 8 }), mapFile({ flags: ['FIXED_IOVA'] }), mapFile({ ioas_id: 9 })]).slice(2))).toEqual([
      'EOPNOTSUPP iommufd_ioas_map_file: flags has unknown bits',
      'EINVAL iommufd_ioas_map_file: neither readable nor writeable',
      'ENOENT iommufd_get_object: no IOAS with this id',
    ]);
  });
  it('length 0 → EINVAL and start + length wrapping → EOVERFLOW, before the fd is looked up', () => {
    expect(checks(withIoas([mapFile({ length: '0', fd: 9 }), mapFile({ start: '0xfffffffffffff000', length: '0x2000', fd: 9 })]))).toEqual([
      'EINVAL iopt_map_file_pages: length is 0',
      'EOVERFLOW iopt_map_file_pages: start + length overflows',
    ]);
  });
  it('an fd not open → EBADF; a memfd maps', () => {
    expect(checks(withIoas([...memfd, mapFile({ fd: 9 }), mapFile()]).slice(2))).toEqual([
      'EBADF iopt_map_file_pages: fget finds no open file',
      'ok',
    ]);
  });
});

describe('IOMMU_OPTION (iommufd_option, iommufd_option_rlimit_mode, iommufd_ioas_option_huge_pages)', () => {
  const opt = (args: object) => ({ op: 'OPTION', args });
  it('__reserved and unknown options → EOPNOTSUPP', () => {
    expect(checks(withIoas([opt({ __reserved: 1 }), opt({ option_id: 7 })]))).toEqual([
      'EOPNOTSUPP iommufd_option: __reserved is not zero',
      'EOPNOTSUPP iommufd_option: unknown option_id',
    ]);
  });
  it('RLIMIT_MODE: an object_id → EOPNOTSUPP; a context with objects → EBUSY', () => {
    const rlimit = (args: object) => opt({ option_id: 'RLIMIT_MODE', ...args });
    expect(checks(withIoas([rlimit({ op: 'GET', object_id: 1 }), rlimit({ op: 'SET', val64: 1 })]))).toEqual([
      'EOPNOTSUPP iommufd_option_rlimit_mode: object_id is not zero',
      'EBUSY iommufd_option_rlimit_mode: the context has objects',
    ]);
  });
  it('HUGE_PAGES: unknown IOAS → ENOENT; val64 above 1 → EINVAL; off while a domain maps areas → EINVAL', () => {
    const huge = (val64: number, object_id = 1) => opt({ option_id: 'HUGE_PAGES', op: 'SET', object_id, val64 });
    expect(checks(withIoas([huge(0, 9), huge(2), { op: 'TEST_MOCK_DOMAIN', args: { id: 1 } }, map('0x1000000', '0x1000'), huge(0)]))).toEqual([
      'ENOENT iommufd_get_object: no IOAS with this id',
      'EINVAL iommufd_ioas_option_huge_pages: val64 is not 0 or 1',
      'ok',
      'ok',
      'EINVAL iopt_disable_large_pages: a domain already maps areas',
    ]);
  });
});

describe('automatic IOVA (iopt_alloc_iova)', () => {
  const auto = (user_va: string, length: string) => ({ op: 'IOAS_MAP', args: { ioas_id: 1, flags: RW, user_va, length } });
  const iovas = (events: object[]) => withIoas(events).map((r) => r.out['iova']);
  it('alignment = min(roundup_pow_of_two(length), lowest set bit of the VA), from PAGE_SIZE up', () => {
    expect(iovas([auto('0x7f0000001000', '0x2000'), auto('0x7f0000200000', '0x100000'), auto('0x7f0000200000', '0x400000')])).toEqual([
      0x1000n,
      0x100000n,
      0x200000n,
    ]);
  });
  it('the page offset is OR-ed in', () => {
    expect(iovas([auto('0x7f0000000010', '0x10')])).toEqual([0x1010n]);
  });
  it('length >= ULONG_MAX / 2 → EOVERFLOW', () => {
    failedAt(withIoas([auto('0x0', '0x8000000000000000')])[0], 'EOVERFLOW iopt_alloc_iova: length is 0 or too large');
  });
  it('skips reserved ranges and areas; stays inside allowed ranges', () => {
    expect(iovas([
      { op: 'TEST_ADD_RESERVED', args: { id: 1, start: '0x1000', length: '0x1000' } },
      auto('0x7f0000000000', '0x1000'),
      { op: 'IOAS_ALLOW_IOVAS', args: { ioas_id: 1, allowed_iovas: [{ start: '0x40000', last: '0x4ffff' }] } },
      auto('0x7f0000000000', '0x1000'),
      auto('0x7f0000000000', '0x1000'),
    ])).toEqual([undefined, 0x2000n, undefined, 0x40000n, 0x41000n]);
  });
  it('no hole large enough → ENOSPC', () => {
    expect(checks(withIoas([
      { op: 'IOAS_ALLOW_IOVAS', args: { ioas_id: 1, allowed_iovas: [{ start: '0x40000', last: '0x40fff' }] } },
      auto('0x7f0000000000', '0x2000'),
    ]))).toEqual(['ok', 'ENOSPC iopt_alloc_iova: no hole fits']);
  });
});

describe('IOMMU_IOAS_UNMAP (iommufd_ioas_unmap, iopt_unmap_iova_range)', () => {
  const unmap = (iova: string, length: string, ioas_id = 1) => ({ op: 'IOAS_UNMAP', args: { ioas_id, iova, length } });
  it('the IOAS is looked up before any argument check', () => {
    failedAt(withIoas([unmap('0', '0', 9)])[0], 'ENOENT iommufd_get_object: no IOAS with this id');
  });
  it('iova/length == ULONG_MAX → EOVERFLOW; length 0 → EINVAL; wrap → EOVERFLOW', () => {
    expect(checks(withIoas([unmap('U64_MAX', '1'), unmap('0x1000', '0'), unmap('0x2000', '0xfffffffffffff000')]))).toEqual([
      'EOVERFLOW iommufd_ioas_unmap: iova or length not below ULONG_MAX',
      'EINVAL iopt_unmap_iova: length is 0',
      'EOVERFLOW iopt_unmap_iova: iova + length overflows',
    ]);
  });
  it('unmapping nothing → ENOENT; unmap-all of an empty IOAS succeeds with 0', () => {
    const ran = withIoas([unmap('0x1000', '0x1000'), unmap('0', 'U64_MAX')]);
    expect(checks(ran)).toEqual(['ENOENT iommufd_ioas_unmap: nothing mapped in the range', 'ok']);
    expect(ran[1]?.out).toEqual({ length: 0n });
  });
  it('never splits an area: a range cutting the first one → ENOENT, nothing removed', () => {
    const ran = withIoas([map('0x10000', '0x2000'), unmap('0x10000', '0x1000')]);
    expect(errnos(ran)).toEqual(['ok', 'ENOENT']);
    failedAt(ran[1], 'ENOENT iopt_unmap_iova_range: an area straddles the range');
  });
  it('an area straddling the end after earlier removals → ENOENT, the removals stay (spec §3.8)', () => {
    const ran = withIoas([map('0x10000', '0x1000'), map('0x11000', '0x2000'), unmap('0x10000', '0x2000'), unmap('0x10000', '0x1000')]);
    expect(errnos(ran)).toEqual(['ok', 'ok', 'ENOENT', 'ENOENT']);
    expect(ran[2]?.outcome.result?.check).toBe('ENOENT iopt_unmap_iova_range: an area straddles the range');
    expect(ran[2]?.outcome.world).not.toBe(ran[2]?.before);
  });
  it('reports the total length of the areas removed', () => {
    const ran = withIoas([map('0x10000', '0x1000'), map('0x12000', '0x2000'), unmap('0x8000', '0x10000')]);
    expect(ran[2]?.out).toEqual({ length: 0x3000n });
  });
});

describe('IOMMU_IOAS_COPY (iommufd_ioas_copy, iopt_get_pages)', () => {
  const copy = (args: object) => ({
    op: 'IOAS_COPY',
    args: { dst_ioas_id: 2, src_ioas_id: 1, flags: FIXED_RW, length: '0x1000', dst_iova: '0x1000', src_iova: '0x10000', ...args },
  });
  const setup = [map('0x10000', '0x2000'), { op: 'IOAS_ALLOC' }];
  it('checks flags, overflow and R/W before the source lookup', () => {
    expect(checks(withIoas([
      ...setup,
      copy({ flags: 16, src_ioas_id: 9 }),
      copy({ src_iova: 'U64_MAX', src_ioas_id: 9 }),
      copy({ flags: ['FIXED_IOVA'], src_ioas_id: 9 }),
      copy({ src_ioas_id: 9 }),
    ]).slice(2))).toEqual([
      'EOPNOTSUPP iommufd_ioas_copy: flags has unknown bits',
      'EOVERFLOW iommufd_ioas_copy: length or an iova not below ULONG_MAX',
      'EINVAL iommufd_ioas_copy: neither readable nor writeable',
      'ENOENT iommufd_get_object: no IOAS with this id',
    ]);
  });
  it('source range: length 0 → EINVAL, not fully mapped → ENOENT, then the destination lookup', () => {
    expect(checks(withIoas([
      ...setup,
      copy({ length: '0' }),
      copy({ src_iova: '0x11000', length: '0x2000' }),
      copy({ dst_ioas_id: 9 }),
      copy({ src_iova: '0x10800', length: '0x1000' }),
    ]).slice(2))).toEqual([
      'EINVAL iopt_get_pages: length is 0',
      'ENOENT iopt_get_pages: range not covered by contiguous areas',
      'ENOENT iommufd_get_object: no IOAS with this id',
      'ok',
    ]);
  });
  it('a copy may span contiguous areas and start inside one', () => {
    expect(errnos(withIoas([
      map('0x10000', '0x1000'),
      map('0x11000', '0x1000'),
      { op: 'IOAS_ALLOC' },
      copy({ src_iova: '0x10800', length: '0x1000' }),
    ]))).toEqual(['ok', 'ok', 'ok', 'ok']);
  });
  it('WRITEABLE from read-only pages → EPERM', () => {
    expect(checks(withIoas([
      map('0x20000', '0x1000', { flags: ['FIXED_IOVA', 'READABLE'] }),
      { op: 'IOAS_ALLOC' },
      copy({ src_iova: '0x20000' }),
      copy({ src_iova: '0x20000', flags: ['FIXED_IOVA', 'READABLE'] }),
    ]))).toEqual(['ok', 'ok', 'EPERM iopt_insert_area: write to read-only pages', 'ok']);
  });
});

describe('IOMMU_DESTROY (iommufd_destroy)', () => {
  it('id 0 or unknown → ENOENT', () => {
    expect(checks(withIoas([{ op: 'DESTROY', args: { id: 0 } }, { op: 'DESTROY', args: { id: 7 } }]))).toEqual([
      'ENOENT iommufd_object_remove: no object with this id',
      'ENOENT iommufd_object_remove: no object with this id',
    ]);
  });
  it('destroying an IOAS with areas releases them; the id is gone', () => {
    const ran = withIoas([map('0x1000', '0x1000'), { op: 'DESTROY', args: { id: 1 } }, { op: 'DESTROY', args: { id: 1 } }]);
    expect(errnos(ran)).toEqual(['ok', 'ok', 'ENOENT']);
    const ctx = [...(ran[1]?.outcome.world.contexts.values() ?? [])][0];
    expect(ctx?.pages.size).toBe(0);
  });
});
