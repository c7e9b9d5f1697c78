/**
 * Memory kept by extents: a fork, a write, a pin or a reference check over a range costs the
 * runs of pages it meets, not its pages. Each trace here spans far more pages than could be
 * visited one by one within its time limit (1 TiB is 268 million 4 KiB pages).
 */
import { describe, expect, it } from 'vitest';
import { traceHeader } from '../fixtures.ts';
import { type Ran, errnos, runTrace } from '../harness.ts';

/** Generous for what these traces do, and far below what a step per page would take. */
const LIMIT_MS = 3000;
const TIB = 1n << 40n;
const BASE = 0x7f4000000000n;
const hex = (v: bigint): string => `0x${v.toString(16)}`;

const header = (memory: 'declared' | 'any') =>
  traceHeader({
    page_size: 4096,
    memory,
    processes: [{ pid: 1, uid: 0, rlimit_memlock: 'unlimited', caps: ['CAP_IPC_LOCK'] }],
    devices: [{ name: 'nic', kind: 'intel-vtd', aperture: { start: '0', last: '0xffffffffffff' }, pgsize_bitmap: '0x40201000' }],
  });

function timed(events: readonly object[], memory: 'declared' | 'any'): { ran: Ran[]; ms: number } {
  const t0 = performance.now();
  const ran = runTrace(events, header(memory), false);
  return { ran, ms: performance.now() - t0 };
}

const touch = (addr: bigint, length: bigint, pid = 1) => ({ op: 'TOUCH', pid, args: { addr: hex(addr), length: hex(length), write: true } });
const refs = (uptr: bigint, length: bigint, n: number, pid = 1) => ({ op: 'TEST_MD_CHECK_REFS', pid, args: { uptr: hex(uptr), length: hex(length), refs: n } });
const anonPagesOf = (r: Ran | undefined, pid: number) => r?.outcome.world.processes.get(pid)?.anonPages;

describe('a 1 TiB private mapping', () => {
  /** fd 3, IOAS 1, the header device bound (device 2) and attached (HWPT 3), 1 TiB mapped at BASE. */
  const PROLOGUE = [
    { op: 'OPEN' },
    { op: 'IOAS_ALLOC' },
    { op: 'VFIO_DEVICE_BIND_IOMMUFD', args: { dev: 'nic', iommufd: 3 } },
    { op: 'VFIO_DEVICE_ATTACH_IOMMUFD_PT', args: { dev: 'nic', pt_id: 1 } },
    { op: 'MMAP', args: { addr: hex(BASE), length: hex(TIB), shared: false } },
  ];
  it('FORK, a write TOUCH of all of it in the child, and a reference check over all of it', () => {
    const { ran, ms } = timed([...PROLOGUE, { op: 'FORK' }, touch(BASE, TIB, 2), refs(BASE, TIB, 0, 2), refs(BASE, TIB, 0), refs(BASE, TIB, 1)], 'declared');
    expect(errnos(ran)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'EIO']);
    // The child's copies are one run; the parent still maps its mapping's own pages.
    expect(anonPagesOf(ran[6], 2)?.size).toBe(1);
    expect(anonPagesOf(ran[6], 1)?.size).toBe(0);
    expect(ms).toBeLessThan(LIMIT_MS);
  });
  it('pinned by IOAS_MAP: the pin holds every page once, FORK leaves the pinned pages to the parent, unmapping unpins them', () => {
    const map = { op: 'IOAS_MAP', args: { ioas_id: 1, flags: ['FIXED_IOVA', 'READABLE', 'WRITEABLE'], user_va: hex(BASE), length: hex(TIB), iova: hex(TIB) } };
    const { ran, ms } = timed(
      [
        ...PROLOGUE,
        map,
        { op: 'FORK' },
        touch(BASE, TIB, 2),
        touch(BASE, TIB),
        refs(BASE, TIB, 1),
        refs(BASE, TIB, 0, 2),
        { op: 'IOAS_UNMAP', args: { ioas_id: 1, iova: '0', length: 'U64_MAX' } },
        refs(BASE, TIB, 0),
      ],
      'declared',
    );
    expect(errnos(ran)).toEqual(Array(13).fill('ok'));
    // The parent's pinned pages are its own, the child's are its copies made at FORK: one run each.
    expect(anonPagesOf(ran[6], 1)?.size).toBe(1);
    expect(anonPagesOf(ran[6], 2)?.size).toBe(1);
    expect(anonPagesOf(ran[8], 1)).toBe(anonPagesOf(ran[6], 1));
    expect(ms).toBeLessThan(LIMIT_MS);
  });
  it('writes to parts make runs of their own; after another FORK one write over runs and gaps alike makes one run', () => {
    const HALF = TIB / 2n;
    const { ran } = timed([...PROLOGUE, { op: 'FORK' }, touch(BASE + 0x1000n, 0x1000n), touch(BASE + HALF, HALF), { op: 'FORK' }, touch(BASE, TIB)], 'declared');
    expect(errnos(ran)).toEqual(Array(10).fill('ok'));
    const spans = (r: Ran | undefined, pid: number) => [...(anonPagesOf(r, pid)?.values() ?? [])].map((x) => [x.start - BASE, x.last - BASE, x.exclusive]);
    expect(spans(ran[7], 1)).toEqual([
      [0x1000n, 0x1fffn, true],
      [HALF, TIB - 1n, true],
    ]);
    // The second FORK shares the parent's copies with the child (pid 3); the parent's write then copies everything.
    expect(spans(ran[9], 3)).toEqual([
      [0x1000n, 0x1fffn, false],
      [HALF, TIB - 1n, false],
    ]);
    expect(spans(ran[9], 1)).toEqual([[0n, TIB - 1n, true]]);
  });
});

describe('ranges as wide as the address space, with every address memory (memory: "any")', () => {
  it('a write TOUCH of 0..U64_MAX', () => {
    const { ran, ms } = timed([touch(0n, (1n << 64n) - 1n)], 'any');
    expect(errnos(ran)).toEqual(['ok']);
    expect(ms).toBeLessThan(LIMIT_MS);
  });
  it('TEST_MD_CHECK_REFS over 0x7f4000000000 bytes, around a pinned mapping', () => {
    const GIB = 1n << 30n;
    const { ran, ms } = timed(
      [
        { op: 'OPEN' },
        { op: 'IOAS_ALLOC' },
        { op: 'VFIO_DEVICE_BIND_IOMMUFD', args: { dev: 'nic', iommufd: 3 } },
        { op: 'VFIO_DEVICE_ATTACH_IOMMUFD_PT', args: { dev: 'nic', pt_id: 1 } },
        { op: 'IOAS_MAP', args: { ioas_id: 1, flags: ['FIXED_IOVA', 'READABLE'], user_va: hex(GIB), length: hex(GIB), iova: '0' } },
        refs(0n, 0x7f4000000000n, 0),
        refs(0n, GIB, 0),
        refs(GIB, GIB, 1),
      ],
      'any',
    );
    expect(errnos(ran)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'EIO', 'ok', 'ok']);
    expect(ms).toBeLessThan(LIMIT_MS);
  });
});
