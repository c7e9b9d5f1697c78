/**
 * Copy-on-write and pins (mm/gup.c `gup_must_unshare()`, iommufd's `pfn_reader_user_pin()`
 * with FOLL_LONGTERM): a pin takes the process's own copy of a private page it still shares,
 * so the CPU and the device keep seeing the same page; a forked child keeps the old one.
 */
import { describe, expect, it } from 'vitest';
import { traceHeader } from '../fixtures.ts';
import { errnos, refused, runTrace } from '../harness.ts';

const ANON = '0x7f0000000000';
const FILE = '0x7f0000100000';
const SHARED = '0x7f0000200000';
const header = traceHeader({
  memory: 'declared',
  mappings: [
    { addr: ANON, length: '0x4000', shared: false },
    { addr: FILE, length: '0x2000', shared: false, file: '/proc/self/exe', prot: ['READ', 'WRITE'] },
    { addr: SHARED, length: '0x2000', shared: true },
  ],
});
const IOVA = '0x1000000';
const RO = ['FIXED_IOVA', 'READABLE'];
const map = (va: string, flags: readonly string[] = RO) => ({
  op: 'IOAS_MAP',
  args: { ioas_id: 1, flags, user_va: va, length: '0x1000', iova: IOVA },
});
const domain = { op: 'TEST_MOCK_DOMAIN', args: { id: 1 } };
/** The mock domain (HWPT 4) maps IOVA to the page the issuing process has at `va`. */
const checkMap = (va: string, extra: object = {}) => ({
  op: 'TEST_MD_CHECK_MAP',
  args: { id: 4, iova: IOVA, length: '0x1000', uptr: va },
  ...extra,
});
const touch = (va: string, extra: object = {}) => ({ op: 'TOUCH', args: { addr: va, length: '0x1000', write: true }, ...extra });
const child = { pid: 2, fd: 3 };
const prologue = [{ op: 'OPEN' }, { op: 'IOAS_ALLOC' }, domain];

describe('a read-only long-term pin unshares (gup_must_unshare)', () => {
  it('a private file page: the pin takes a copy, so a later write does not move the page the domain maps', () => {
    const ran = runTrace([...prologue, map(FILE), checkMap(FILE), touch(FILE), checkMap(FILE)], header);
    expect(errnos(ran)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok']);
  });
  it('a memfd mapped private is a page-cache page too', () => {
    const ran = runTrace([
      { op: 'MEMFD_CREATE' },
      { op: 'FTRUNCATE', args: { fd: 3, length: '0x1000' } },
      { op: 'MMAP', args: { addr: '0x7f0000400000', length: '0x1000', shared: false, fd: 3, offset: 0 } },
      ...prologue,
      map('0x7f0000400000'),
      touch('0x7f0000400000'),
      checkMap('0x7f0000400000'),
      { op: 'TEST_MD_CHECK_REFS', args: { uptr: '0x7f0000400000', length: '0x1000', refs: 1 } },
    ], header);
    expect(errnos(ran)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok']);
  });
  it('an anonymous page shared with a forked child: the parent pins its own copy, the child keeps the old page', () => {
    const ran = runTrace([
      ...prologue,
      { op: 'FORK' },
      map(ANON),
      touch(ANON),
      checkMap(ANON),
      checkMap(ANON, child),
      touch(ANON, child),
      checkMap(ANON),
    ], header);
    expect(errnos(ran)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'EINVAL', 'ok', 'ok']);
  });
  it('a writeable pin breaks copy-on-write as well (FOLL_WRITE faults for writing)', () => {
    const ran = runTrace([...prologue, { op: 'FORK' }, map(ANON, ['FIXED_IOVA', 'READABLE', 'WRITEABLE']), checkMap(ANON), checkMap(ANON, child)], header);
    expect(errnos(ran)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'EINVAL']);
  });
  it('a read-only access pin: the page behind uptr stays the pinned one after a write; not the child\'s', () => {
    const pages = (extra: object = {}) => ({
      op: 'TEST_ACCESS_PAGES',
      args: { id: 4, flags: 0, iova: IOVA, length: '0x1000', uptr: ANON },
      ...extra,
    });
    const ran = runTrace([
      { op: 'OPEN' },
      { op: 'IOAS_ALLOC' },
      map(ANON),
      { op: 'TEST_CREATE_ACCESS', args: { id: 1, flags: 1 } },
      { op: 'FORK' },
      pages(),
      touch(ANON),
      pages(),
      pages({ pid: 2 }),
    ], header);
    expect(errnos(ran)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'EBADE']);
    expect(ran[8]?.outcome.result?.check).toBe('EBADE iommufd_test_check_pages: pinned page is not the page at uptr');
  });
  it('a page that is already the process\'s own is pinned as it is', () => {
    const ran = runTrace([...prologue, touch(FILE), map(FILE)], header);
    const before = ran[3]?.outcome.world.processes.get(1)?.anonPages.get(BigInt(FILE));
    expect(ran[4]?.outcome.world.processes.get(1)?.anonPages.get(BigInt(FILE))).toBe(before);
  });
  it('a shared mapping is never unshared: the child writes the very page the domain maps', () => {
    const ran = runTrace([...prologue, { op: 'FORK' }, map(SHARED), touch(SHARED, child), checkMap(SHARED), checkMap(SHARED, child)], header);
    expect(errnos(ran)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok']);
    expect(ran[7]?.outcome.world.processes.get(1)?.anonPages.size).toBe(0);
    expect(ran[7]?.outcome.world.processes.get(2)?.anonPages.size).toBe(0);
  });
  it('a pin that fails leaves the very snapshot it was given, the process unshared', () => {
    const ran = runTrace([
      ...prologue,
      { op: 'IOAS_MAP', args: { ioas_id: 1, flags: RO, user_va: FILE, length: '0x3000', iova: IOVA } },
    ], header);
    refused(ran[3], 'EFAULT');
  });
});

describe('fork (copy_present_pte)', () => {
  it('a pinned copy stays the parent\'s: the child gets its own, and the parent writes the pinned page', () => {
    const ran = runTrace([...prologue, map(FILE), { op: 'FORK' }, checkMap(FILE, child), touch(FILE), checkMap(FILE)], header);
    expect(errnos(ran)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'EINVAL', 'ok', 'ok']);
  });
  it('a copy not pinned is shared with the child: a later pin by the parent unshares it again', () => {
    const ran = runTrace([...prologue, touch(FILE), { op: 'FORK' }, map(FILE), checkMap(FILE), checkMap(FILE, child)], header);
    expect(errnos(ran)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'EINVAL']);
  });
  it('the child\'s write to a copy it shares gives it its own; the parent\'s pinned page does not move', () => {
    const ran = runTrace([...prologue, touch(ANON), { op: 'FORK' }, touch(ANON, child), map(ANON), checkMap(ANON), checkMap(ANON, child)], header);
    expect(errnos(ran)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'EINVAL']);
    expect(ran[8]?.outcome.result?.check).toBe('EINVAL iommufd_test_md_check_pa: iova maps another page');
  });
});

describe('TOUCH', () => {
  it('a write to a mapping without PROT_WRITE faults, shared or private', () => {
    const ro = { ...header, env: { ...header.env, mappings: [{ addr: SHARED, length: '0x1000', shared: true, prot: ['READ'] }] } };
    const ran = runTrace([touch(SHARED), { op: 'TOUCH', args: { addr: SHARED, length: '0x1000' } }], ro);
    expect(errnos(ran)).toEqual(['EFAULT', 'ok']);
    expect(ran[0]?.outcome.result?.check).toBe('EFAULT access_error: write to a read-only mapping');
  });
  it('an address with no mapping faults', () => {
    const [r] = runTrace([{ op: 'TOUCH', args: { addr: '0x10000', length: '0x1000' } }], header);
    refused(r, 'EFAULT');
    expect(r?.outcome.result?.check).toBe('EFAULT do_user_addr_fault: no mapping at the address');
  });
});
