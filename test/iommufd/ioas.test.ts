/**
 * IOAS ioctls, one test per kernel check (ioas.c, io_pagetable.c), in the kernel's order.
 */
import { describe, expect, it } from 'vitest';
import { errnos, runTrace, withIoas } from '../harness.ts';

const BUF = '0x7f0000000000';
const RW = ['READABLE', 'WRITEABLE'];
const FIXED_RW = ['FIXED_IOVA', ...RW];
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
    expect(errnos(withIoas([{ op: 'IOAS_ALLOC', args: { flags: 1 } }]))).toEqual(['EOPNOTSUPP']);
  });
  it('a failed alloc takes no id', () => {
    const ran = withIoas([{ op: 'IOAS_ALLOC', args: { flags: 1 } }, { op: 'IOAS_ALLOC' }]);
    expect(ran[1]?.out['out_ioas_id']).toBe(2n);
  });
});

describe('common ioctl rules (iommufd_fops_ioctl)', () => {
  it('NULL argument → EFAULT (get_user of size)', () => {
    expect(errnos(withIoas([{ op: 'DESTROY', args: null }]))).toEqual(['EFAULT']);
  });
  it('size below offsetofend(last field) → EINVAL', () => {
    expect(errnos(withIoas([{ op: 'IOAS_MAP', args: { size: 39 } }]))).toEqual(['EINVAL']);
  });
  it('non-zero bytes past sizeof → E2BIG; zero ones are fine', () => {
    expect(errnos(withIoas([
      { op: 'DESTROY', args: { size: 9, __trailing: '0xff' } },
      { op: 'DESTROY', args: { size: 9, id: 1 } },
    ]))).toEqual(['E2BIG', 'ok']);
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
    expect(errnos(withIoas([ranges(1, { ioas_id: 9, __reserved: 1 })]))).toEqual(['EOPNOTSUPP']);
  });
  it('unknown IOAS → ENOENT', () => {
    expect(errnos(withIoas([ranges(1, { ioas_id: 9 })]))).toEqual(['ENOENT']);
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
    expect(ran[1]?.errno).toBe('EMSGSIZE');
    expect(ran[1]?.out['num_iovas']).toBe(2n);
    expect(ran[1]?.out['allowed_iovas']).toEqual([{ start: 0n, last: 0xffffn }]);
    expect(ran[2]?.errno).toBe('ok');
  });
  it('an output buffer nobody mapped → EFAULT', () => {
    expect(errnos(withIoas([ranges(1, { allowed_iovas: '0x1000' })]))).toEqual(['EFAULT']);
  });
});

describe('IOMMU_IOAS_ALLOW_IOVAS (iommufd_ioas_load_iovas, iopt_set_allow_iova)', () => {
  const allow = (iovas: object[], extra: object = {}) => ({
    op: 'IOAS_ALLOW_IOVAS',
    args: { ioas_id: 1, allowed_iovas: iovas, ...extra },
  });
  it('start >= last → EINVAL (a one-byte range too)', () => {
    expect(errnos(withIoas([allow([{ start: '0x1000', last: '0x1000' }])]))).toEqual(['EINVAL']);
  });
  it('overlapping an earlier entry → EINVAL', () => {
    expect(errnos(withIoas([allow([{ start: '0x1000', last: '0x2fff' }, { start: '0x2000', last: '0x3fff' }])]))).toEqual(['EINVAL']);
  });
  it('NULL array with entries → EFAULT', () => {
    expect(errnos(withIoas([allow([], { allowed_iovas: null, num_iovas: 1 })]))).toEqual(['EFAULT']);
  });
  it('meeting a reserved range → EADDRINUSE, old list kept', () => {
    const ran = withIoas([
      { op: 'TEST_ADD_RESERVED', args: { id: 1, start: '0x8000', length: '0x1000' } },
      allow([{ start: '0x1000', last: '0x8fff' }]),
    ]);
    expect(errnos(ran)).toEqual(['ok', 'EADDRINUSE']);
    expect(ran[1]?.outcome.world).toBe(ran[1]?.before);
  });
  it('reserving over an allowed range → EADDRINUSE', () => {
    expect(errnos(withIoas([
      allow([{ start: '0x1000', last: '0x8fff' }]),
      { op: 'TEST_ADD_RESERVED', args: { id: 1, start: '0x8000', length: '0x1000' } },
    ]))).toEqual(['ok', 'EADDRINUSE']);
  });
});

describe('IOMMU_IOAS_MAP (iommufd_ioas_map, iopt_map_user_pages)', () => {
  it('unknown flag or __reserved → EOPNOTSUPP', () => {
    expect(errnos(withIoas([map('0x1000', '0x1000', { flags: 8 }), map('0x1000', '0x1000', { __reserved: 1 })]))).toEqual([
      'EOPNOTSUPP',
      'EOPNOTSUPP',
    ]);
  });
  it('iova or length == ULONG_MAX → EOVERFLOW, even without FIXED_IOVA', () => {
    expect(errnos(withIoas([map('U64_MAX', '0x1000', { flags: RW }), map('0x1000', 'U64_MAX')]))).toEqual([
      'EOVERFLOW',
      'EOVERFLOW',
    ]);
  });
  it('neither READABLE nor WRITEABLE → EINVAL, before the IOAS lookup', () => {
    expect(errnos(withIoas([map('0x1000', '0x1000', { flags: ['FIXED_IOVA'], ioas_id: 9 })]))).toEqual(['EINVAL']);
  });
  it('unknown IOAS → ENOENT', () => {
    expect(errnos(withIoas([map('0x1000', '0x1000', { ioas_id: 9 })]))).toEqual(['ENOENT']);
  });
  it('user_va + length past 2^64 → EOVERFLOW (iopt_alloc_user_pages)', () => {
    expect(errnos(withIoas([map('0x1000', '0x2000', { user_va: '0xfffffffffffff000' })]))).toEqual(['EOVERFLOW']);
  });
  it('length 0 or above SIZE_MAX - PAGE_SIZE → EINVAL (iopt_alloc_pages)', () => {
    expect(errnos(withIoas([map('0x1000', '0'), map('0', '0xfffffffffffff000', { user_va: '0' })]))).toEqual([
      'EINVAL',
      'EINVAL',
    ]);
  });
  it('an unmapped user VA is accepted while the IOAS has no domain', () => {
    expect(errnos(withIoas([map('0x1000', '0x1000', { user_va: '0x1000' })]))).toEqual(['ok']);
  });
  it('FIXED_IOVA: intersecting an area → EEXIST, a reserved range → EINVAL, wrapping → EOVERFLOW', () => {
    expect(errnos(withIoas([
      map('0x10000', '0x2000'),
      map('0x11000', '0x1000'),
      { op: 'TEST_ADD_RESERVED', args: { id: 1, start: '0x20000', length: '0x1000' } },
      map('0x1f000', '0x2000'),
      map('0xfffffffffffff000', '0x2000'),
    ]))).toEqual(['ok', 'EEXIST', 'ok', 'EINVAL', 'EOVERFLOW']);
  });
  it('FIXED_IOVA is not restricted by the allowed ranges', () => {
    expect(errnos(withIoas([
      { op: 'IOAS_ALLOW_IOVAS', args: { ioas_id: 1, allowed_iovas: [{ start: '0x100000', last: '0x1fffff' }] } },
      map('0x1000', '0x1000'),
    ]))).toEqual(['ok', 'ok']);
  });
  it('with large pages off the alignment is PAGE_SIZE: misaligned iova or length → EINVAL', () => {
    expect(errnos(withIoas([
      { op: 'OPTION', args: { option_id: 'HUGE_PAGES', op: 'SET', object_id: 1, val64: 0 } },
      map('0x10800', '0x1000'),
      map('0x10000', '0x800'),
    ]))).toEqual(['ok', 'EINVAL', 'EINVAL']);
  });
  it('writes back the IOVA chosen', () => {
    const [r] = withIoas([{ op: 'IOAS_MAP', args: { ioas_id: 1, flags: RW, user_va: BUF, length: '0x2000' } }], undefined);
    expect(r?.out['iova']).toBe(0x2000n);
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
    expect(errnos(withIoas([auto('0x0', '0x8000000000000000')]))).toEqual(['EOVERFLOW']);
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
    expect(errnos(withIoas([
      { op: 'IOAS_ALLOW_IOVAS', args: { ioas_id: 1, allowed_iovas: [{ start: '0x40000', last: '0x40fff' }] } },
      auto('0x7f0000000000', '0x2000'),
    ]))).toEqual(['ok', 'ENOSPC']);
  });
});

describe('IOMMU_IOAS_UNMAP (iommufd_ioas_unmap, iopt_unmap_iova_range)', () => {
  const unmap = (iova: string, length: string, ioas_id = 1) => ({ op: 'IOAS_UNMAP', args: { ioas_id, iova, length } });
  it('the IOAS is looked up before any argument check', () => {
    expect(errnos(withIoas([unmap('0', '0', 9)]))).toEqual(['ENOENT']);
  });
  it('iova/length == ULONG_MAX → EOVERFLOW; length 0 → EINVAL; wrap → EOVERFLOW', () => {
    expect(errnos(withIoas([unmap('U64_MAX', '1'), unmap('0x1000', '0'), unmap('0x2000', '0xfffffffffffff000')]))).toEqual([
      'EOVERFLOW',
      'EINVAL',
      'EOVERFLOW',
    ]);
  });
  it('unmapping nothing → ENOENT; unmap-all of an empty IOAS succeeds with 0', () => {
    const ran = withIoas([unmap('0x1000', '0x1000'), unmap('0', 'U64_MAX')]);
    expect(errnos(ran)).toEqual(['ENOENT', 'ok']);
    expect(ran[1]?.out).toEqual({ length: 0n });
  });
  it('never splits an area: a range cutting the first one → ENOENT, nothing removed', () => {
    const ran = withIoas([map('0x10000', '0x2000'), unmap('0x10000', '0x1000')]);
    expect(errnos(ran)).toEqual(['ok', 'ENOENT']);
    expect(ran[1]?.outcome.world).toBe(ran[1]?.before);
  });
  it('an area straddling the end after earlier removals → ENOENT, the removals stay (spec §3.8)', () => {
    const ran = withIoas([map('0x10000', '0x1000'), map('0x11000', '0x2000'), unmap('0x10000', '0x2000'), unmap('0x10000', '0x1000')]);
    expect(errnos(ran)).toEqual(['ok', 'ok', 'ENOENT', 'ENOENT']);
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
    expect(errnos(withIoas([
      ...setup,
      copy({ flags: 16, src_ioas_id: 9 }),
      copy({ src_iova: 'U64_MAX', src_ioas_id: 9 }),
      copy({ flags: ['FIXED_IOVA'], src_ioas_id: 9 }),
      copy({ src_ioas_id: 9 }),
    ]).slice(2))).toEqual(['EOPNOTSUPP', 'EOVERFLOW', 'EINVAL', 'ENOENT']);
  });
  it('source range: length 0 → EINVAL, not fully mapped → ENOENT, then the destination lookup', () => {
    expect(errnos(withIoas([
      ...setup,
      copy({ length: '0' }),
      copy({ src_iova: '0x11000', length: '0x2000' }),
      copy({ dst_ioas_id: 9 }),
      copy({ src_iova: '0x10800', length: '0x1000' }),
    ]).slice(2))).toEqual(['EINVAL', 'ENOENT', 'ENOENT', 'ok']);
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
    expect(errnos(withIoas([
      map('0x20000', '0x1000', { flags: ['FIXED_IOVA', 'READABLE'] }),
      { op: 'IOAS_ALLOC' },
      copy({ src_iova: '0x20000' }),
      copy({ src_iova: '0x20000', flags: ['FIXED_IOVA', 'READABLE'] }),
    ]))).toEqual(['ok', 'ok', 'EPERM', 'ok']);
  });
});

describe('IOMMU_DESTROY (iommufd_destroy)', () => {
  it('id 0 or unknown → ENOENT', () => {
    expect(errnos(withIoas([{ op: 'DESTROY', args: { id: 0 } }, { op: 'DESTROY', args: { id: 7 } }]))).toEqual(['ENOENT', 'ENOENT']);
  });
  it('destroying an IOAS with areas releases them; the id is gone', () => {
    const ran = withIoas([map('0x1000', '0x1000'), { op: 'DESTROY', args: { id: 1 } }, { op: 'DESTROY', args: { id: 1 } }]);
    expect(errnos(ran)).toEqual(['ok', 'ok', 'ENOENT']);
    const ctx = [...(ran[1]?.outcome.world.contexts.values() ?? [])][0];
    expect(ctx?.pages.size).toBe(0);
  });
});
