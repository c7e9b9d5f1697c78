/**
 * The selftest's syzkaller IOVAs (`MOCK_FLAGS_ACCESS_SYZ`, selftest.c
 * `iommufd_test_syz_conv_iova()`): the u64 is `{ u32 nth_area; u32 offset; }`, low half first.
 */
import { describe, expect, it } from 'vitest';
import { errnos, runTrace } from '../../harness.ts';

const SYZ = 1 << 16;
const BUF = 0x7f0000000000n;
const hex = (v: bigint): string => `0x${v.toString(16)}`;
/** The value naming byte `offset` of the `nth` area. */
const syz = (nth: number, offset: number): string => hex((BigInt(offset) << 32n) | BigInt(nth));

/** Area 0 at 0x10000 (two pages of BUF), area 1 at 0x20000 (the page at BUF + 0x4000); access fd 4. */
const prologue = [
  { op: 'OPEN' },
  { op: 'IOAS_ALLOC' },
  { op: 'IOAS_MAP', args: { ioas_id: 1, flags: ['FIXED_IOVA', 'READABLE', 'WRITEABLE'], user_va: hex(BUF), length: '0x2000', iova: '0x10000' } },
  { op: 'IOAS_MAP', args: { ioas_id: 1, flags: ['FIXED_IOVA', 'READABLE', 'WRITEABLE'], user_va: hex(BUF + 0x4000n), length: '0x1000', iova: '0x20000' } },
  { op: 'TEST_CREATE_ACCESS', args: { id: 1, flags: 1 } },
];
const run = (events: readonly object[]) => runTrace([...prologue, ...events]).slice(prologue.length);

describe('TEST_ACCESS_PAGES with MOCK_FLAGS_ACCESS_SYZ', () => {
  const pages = (iova: string, uptr: bigint, flags = SYZ) => ({
    op: 'TEST_ACCESS_PAGES',
    args: { id: 4, flags, iova, length: '0x1000', uptr: hex(uptr) },
  });
  it('pins the nth area plus the offset, and the item keeps that IOVA', () => {
    const ran = run([pages(syz(1, 0), BUF + 0x4000n), pages(syz(0, 0x1000), BUF + 0x1000n), pages(syz(1, 0), BUF)]);
    expect(errnos(ran)).toEqual(['ok', 'ok', 'EBADE']);
    const access = ran[1]?.outcome.world.contexts.get(1)?.objects.get(2);
    expect(access?.type === 'access' ? [...access.items.values()].map((i) => i.iova) : []).toEqual([0x20000n, 0x11000n]);
  });
  it('without the flag the value is an IOVA like any other', () => {
    expect(errnos(run([pages(syz(1, 0), BUF + 0x4000n, 0)]))).toEqual(['ENOENT']);
  });
  it('no nth area gives IOVA 0; an offset past the area is not checked', () => {
    expect(errnos(run([pages(syz(2, 0), BUF), pages(syz(1, 0x1000), BUF)]))).toEqual(['ENOENT', 'ENOENT']);
  });
});

describe('TEST_ACCESS_RW with MOCK_FLAGS_ACCESS_SYZ', () => {
  const rw = (iova: string, flags = SYZ) => ({ op: 'TEST_ACCESS_RW', args: { id: 4, flags, iova, length: '0x10', uptr: hex(BUF) } });
  it('reads and writes through the nth area; no such area → IOVA 0 → ENOENT', () => {
    expect(errnos(run([rw(syz(1, 0xff0)), rw(syz(1, 0xff0), SYZ | 1), rw(syz(1, 0xff0), 0), rw(syz(2, 0))]))).toEqual(['ok', 'ok', 'ENOENT', 'ENOENT']);
  });
});

describe('IOAS_COPY with MOCK_FLAGS_ACCESS_SYZ (iommufd_test_syz_conv_iova_id)', () => {
  const FIXED_RW = 1 | 2 | 4;
  const copy = (args: object) => ({
    op: 'IOAS_COPY',
    args: { dst_ioas_id: 3, src_ioas_id: 1, flags: FIXED_RW | SYZ, length: '0x1000', dst_iova: '0x1000', ...args },
  });
  const copies = (events: readonly object[]) => run([{ op: 'IOAS_ALLOC' }, ...events]).slice(1);
  it('the flag is cleared before the flags are checked, and the source IOVA names the nth area', () => {
    const ran = copies([copy({ src_iova: syz(1, 0) }), copy({ src_iova: syz(1, 0), flags: FIXED_RW })]);
    expect(errnos(ran)).toEqual(['ok', 'ENOENT']);
    const dst = ran[0]?.outcome.world.contexts.get(1)?.objects.get(3);
    const src = ran[0]?.outcome.world.contexts.get(1)?.objects.get(1);
    const pagesOf = (o: typeof dst, iova: bigint) => (o?.type === 'ioas' ? o.iopt.areas.get(iova)?.pages : undefined);
    expect(pagesOf(dst, 0x1000n)).toBe(pagesOf(src, 0x20000n));
  });
  it('no nth area: source IOVA 0 → ENOENT; another unknown flag still → EOPNOTSUPP', () => {
    expect(errnos(copies([copy({ src_iova: syz(2, 0) }), copy({ src_iova: syz(0, 0), flags: FIXED_RW | SYZ | 8 })]))).toEqual(['ENOENT', 'EOPNOTSUPP']);
  });
  it('a missing source IOAS: nothing converted, the flag still cleared, then the lookup → ENOENT', () => {
    expect(errnos(copies([copy({ src_iova: syz(0, 0), src_ioas_id: 9 })]))).toEqual(['ENOENT']);
  });
});
