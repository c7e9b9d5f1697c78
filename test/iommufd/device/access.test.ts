/**
 * In-kernel accesses through the selftest's access fd, one test per check of
 * `iommufd_access_pin_pages()`, `iommufd_access_rw()` and `iopt_pages_rw_access()` (device.c,
 * pages.c), in the kernel's order.
 */
import { describe, expect, it } from 'vitest';
import { type Ran, failedAt, runTrace } from '../../harness.ts';

const BUF = 0x7f0000000000n;
const hex = (v: bigint): string => `0x${v.toString(16)}`;
const checks = (ran: readonly Ran[]): string[] => ran.map((r) => r.outcome.result?.check ?? r.errno);

/** IOAS 1 with a read-write area at 0x10000 (two pages) and a read-only one at 0x20000; access fd 4. */
const prologue = [
  { op: 'OPEN' },
  { op: 'IOAS_ALLOC' },
  { op: 'IOAS_MAP', args: { ioas_id: 1, flags: ['FIXED_IOVA', 'READABLE', 'WRITEABLE'], user_va: hex(BUF), length: '0x2000', iova: '0x10000' } },
  { op: 'IOAS_MAP', args: { ioas_id: 1, flags: ['FIXED_IOVA', 'READABLE'], user_va: hex(BUF + 0x4000n), length: '0x1000', iova: '0x20000' } },
  { op: 'TEST_CREATE_ACCESS', args: { id: 1, flags: ['NEEDS_PIN_PAGES'] } },
];
const run = (events: readonly object[]) => runTrace([...prologue, ...events]).slice(prologue.length);
const pages = (iova: string, length = '0x1000', flags: string[] = []) => ({
  op: 'TEST_ACCESS_PAGES',
  args: { id: 4, flags, iova, length, uptr: hex(BUF) },
});
const rw = (iova: string, flags: string[] = []) => ({ op: 'TEST_ACCESS_RW', args: { id: 4, flags, iova, length: '0x10', uptr: hex(BUF) } });

describe('TEST_ACCESS_PAGES (iommufd_access_pin_pages)', () => {
  it('a range past the last area → ENOENT; across the hole between areas → ENOENT', () => {
    expect(checks(run([pages('0x30000'), pages('0x11000', '0x2000')]))).toEqual([
      'ENOENT iommufd_access_pin_pages: range not covered by contiguous areas',
      'ENOENT iommufd_access_pin_pages: range not covered by contiguous areas',
    ]);
  });
  it('writing through a read-only area → EPERM, nothing pinned', () => {
    failedAt(run([pages('0x20000', '0x1000', ['WRITE'])])[0], 'EPERM iommufd_access_pin_pages: the area lacks the permission');
  });
  it('a pinning access keeps the IOVA alignment at PAGE_SIZE: an area starting inside a page → EINVAL', () => {
    const ran = run([
      { op: 'IOAS_MAP', args: { ioas_id: 1, flags: ['FIXED_IOVA', 'READABLE'], user_va: hex(BUF + 0x800n), length: '0x1000', iova: '0x40000' } },
    ]);
    failedAt(ran[0], 'EINVAL iopt_insert_area: page offset unaligned');
  });
  it('such an area already there keeps a pinning access out → EADDRINUSE', () => {
    const ran = runTrace([
      ...prologue.slice(0, 2),
      { op: 'IOAS_MAP', args: { ioas_id: 1, flags: ['FIXED_IOVA', 'READABLE'], user_va: hex(BUF + 0x800n), length: '0x1000', iova: '0x40000' } },
      prologue[4] as object,
    ]);
    failedAt(ran[3], 'EADDRINUSE iopt_check_iova_alignment: an area breaks the new alignment');
  });
  it('a pinned range of contiguous areas succeeds', () => {
    expect(checks(run([pages('0x10000', '0x2000', ['WRITE'])]))).toEqual(['ok']);
  });
});

describe('TEST_ACCESS_RW (iommufd_access_rw, iopt_pages_rw_access)', () => {
  it('an unmapped IOVA → ENOENT', () => {
    failedAt(run([rw('0x30000')])[0], 'ENOENT iommufd_access_rw: range not covered by contiguous areas');
  });
  it('writing through a read-only area → EPERM; reading it is fine', () => {
    expect(checks(run([rw('0x20000', ['WRITE']), rw('0x20000')]))).toEqual(['EPERM iommufd_access_rw: the area lacks the permission', 'ok']);
  });
  it('unpinned bytes come from the owner memory, which must be mapped → EFAULT', () => {
    const ran = run([
      { op: 'IOAS_MAP', args: { ioas_id: 1, flags: ['FIXED_IOVA', 'READABLE'], user_va: '0x1000', length: '0x1000', iova: '0x50000' } },
      rw('0x50000'),
    ]);
    expect(checks(ran)).toEqual(['ok', 'EFAULT iopt_pages_rw_access: the owner memory is not accessible']);
  });
});
