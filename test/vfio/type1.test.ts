/**
 * Native type1 containers (drivers/vfio/vfio_iommu_type1.c), one test per kernel check, in the
 * kernel's order: VFIO_IOMMU_GET_INFO, MAP_DMA, UNMAP_DMA (v1 and v2), the VADDR update QEMU's
 * CPR makes, dma_entry_limit, DIRTY_PAGES and the dirty-bitmap unmap, and locked_vm charging.
 */
import { describe, expect, it } from 'vitest';
import type { Type1 } from '../../src/vfio/state.ts';
import type { World } from '../../src/model/world.ts';
import { type Ran, errnos, failedAt, runTrace } from '../harness.ts';
import { BUF, CONTAINER, HOST, checkExtension, getInfo, hex, host, mapDma, open, setContainer, setIommu, unmapDma } from './native-fixtures.ts';

const IOVA = 0x100000n;
const PAGE = 0x1000n;
const V1 = CONTAINER('TYPE1_IOMMU');
const V2 = CONTAINER('TYPE1v2_IOMMU');

/** Runs `prologue` then `events` on `header`, returning the results of `events`. */
const after = (prologue: readonly object[], events: readonly object[], header: object = HOST): Ran[] =>
  runTrace([...prologue, ...events], header).slice(prologue.length);

const type1Of = (world: World | undefined, id = 1): Type1 => {
  const driver = world?.vfio.containers.get(id)?.driver;
  if (driver?.kind !== 'type1') throw new Error('no type1 container');
  return driver.iommu;
};
const mappings = (r: Ran | undefined): [bigint, bigint][] => [...type1Of(r?.outcome.world).dmas.values()].map((d) => [d.start, d.last]);
const lockedVm = (r: Ran | undefined, pid = 1): bigint | undefined => r?.outcome.world.processes.get(pid)?.lockedVm;
const checks = (ran: readonly Ran[]): string[] => ran.map((r) => r.outcome.result?.check ?? r.errno);

/** The usable IOVA of the host's VT-d groups: the 48-bit aperture less the MSI window. */
const IOVA_RANGES = [
  { start: 0n, end: 0xfedfffffn },
  { start: 0xfef00000n, end: 0xffffffffffffn },
];

describe('VFIO_IOMMU_GET_INFO (vfio_iommu_type1_get_info)', () => {
  it('a NULL argument → EFAULT; argsz below offsetofend(iova_pgsizes) → EINVAL', () => {
    const ran = after(V2, [{ op: 'VFIO_IOMMU_GET_INFO', args: null }, getInfo(15)]);
    failedAt(ran[0], 'EFAULT vfio_iommu_type1_get_info: copy_from_user of a NULL argument');
    failedAt(ran[1], 'EINVAL vfio_iommu_type1_get_info: argsz below minsz');
  });
  it('argsz too small for the chain: argsz comes back as the size needed (24 + 32 + 16 + 48), cap_offset 0, no caps', () => {
    const [r] = after(V2, [getInfo(24)]);
    expect(r?.out).toEqual({ argsz: 120n, flags: 3n, iova_pgsizes: 0x40201000n, cap_offset: 0n });
  });
  it('the chain in kernel order: MIGRATION, DMA_AVAIL, IOVA_RANGE; argsz stays as given', () => {
    const [r] = after(V2, [getInfo(128)]);
    expect(r?.out).toEqual({
      argsz: 128n,
      flags: 3n,
      iova_pgsizes: 0x40201000n,
      cap_offset: 24n,
      caps: [
        { id: 2n, version: 1n, flags: 0n, pgsize_bitmap: 0x1000n, max_dirty_bitmap_size: 0x10000000n },
        { id: 3n, version: 1n, avail: 65535n },
        { id: 1n, version: 1n, nr_iovas: 2n, iova_ranges: IOVA_RANGES },
      ],
    });
  });
  it('DMA_AVAIL counts down with each mapping and back up with each unmap', () => {
    const ran = after(V2, [mapDma(IOVA, PAGE), mapDma(IOVA + PAGE, PAGE, {}, PAGE), getInfo(120), unmapDma(IOVA, PAGE), getInfo(120)]);
    const avail = (r: Ran | undefined) => (r?.out['caps'] as readonly { id: bigint; avail?: bigint }[])[1]?.avail;
    expect([avail(ran[2]), avail(ran[4])]).toEqual([65533n, 65534n]);
  });
  it('before VFIO_SET_IOMMU the container answers EINVAL (no driver)', () => {
    const ran = after([open('/dev/vfio/vfio')], [getInfo(120)]);
    failedAt(ran[0], 'EINVAL vfio_fops_unl_ioctl: no IOMMU driver is set');
  });
});

describe('VFIO_IOMMU_MAP_DMA (vfio_iommu_type1_map_dma, vfio_dma_do_map)', () => {
  it('a NULL argument → EFAULT; argsz below offsetofend(size) or an unknown flag → EINVAL', () => {
    const ran = after(V2, [{ op: 'VFIO_IOMMU_MAP_DMA', args: null }, mapDma(IOVA, PAGE, { argsz: 31 }), mapDma(IOVA, PAGE, { flags: 8 })]);
    expect(checks(ran)).toEqual([
      'EFAULT vfio_iommu_type1_map_dma: copy_from_user of a NULL argument',
      'EINVAL vfio_iommu_type1_map_dma: argsz below minsz or flags has unknown bits',
      'EINVAL vfio_iommu_type1_map_dma: argsz below minsz or flags has unknown bits',
    ]);
  });
  it('neither READ nor WRITE, or either with VADDR → EINVAL', () => {
    const ran = after(V2, [mapDma(IOVA, PAGE, { flags: 0 }), mapDma(IOVA, PAGE, { flags: ['READ', 'VADDR'] })]);
    expect(checks(ran)).toEqual(Array(2).fill('EINVAL vfio_dma_do_map: READ or WRITE with VADDR, or neither without'));
  });
  it('size 0, or size, iova or vaddr off the smallest page size → EINVAL', () => {
    const ran = after(V2, [mapDma(IOVA, 0n), mapDma(IOVA, 0x800n), mapDma(IOVA + 0x800n, PAGE), mapDma(IOVA, PAGE, {}, 0x800n)]);
    expect(checks(ran)).toEqual(Array(4).fill('EINVAL vfio_dma_do_map: size 0, or not aligned to the smallest page size'));
  });
  it('an iova or vaddr range past 2^64 → EINVAL (not EOVERFLOW, as iommufd says)', () => {
    const ran = after(V2, [
      { op: 'VFIO_IOMMU_MAP_DMA', args: { flags: 3, vaddr: hex(BUF), iova: '0xfffffffffffff000', size: '0x2000' } },
      { op: 'VFIO_IOMMU_MAP_DMA', args: { flags: 3, vaddr: '0xfffffffffffff000', iova: hex(IOVA), size: '0x2000' } },
    ]);
    expect(checks(ran)).toEqual(Array(2).fill('EINVAL vfio_dma_do_map: the iova or vaddr range wraps'));
  });
  it('an overlap with a mapping → EEXIST, checked before the entry limit and the IOVA ranges', () => {
    const ran = after(V2, [mapDma(IOVA, 2n * PAGE), mapDma(IOVA + PAGE, 2n * PAGE, {}, PAGE)]);
    failedAt(ran[1], 'EEXIST vfio_dma_do_map: the range overlaps a mapping');
  });
  it('a range in the MSI window or past the aperture → EINVAL (vfio_iommu_iova_dma_valid)', () => {
    const ran = after(V2, [mapDma(0xfee00000n, PAGE), mapDma(0xfedff000n, 2n * PAGE), mapDma(0x1000000000000n, PAGE)]);
    expect(checks(ran)).toEqual(Array(3).fill('EINVAL vfio_iommu_iova_dma_valid: the range is not inside one usable IOVA range'));
  });
  it('memory that is not there → EFAULT, nothing mapped or charged', () => {
    const ran = after(V2, [mapDma(IOVA, 0x200000n)]);
    failedAt(ran[0], 'EFAULT vaddr_get_pfns: no vma, or one without the access');
  });
  it('a WRITE map of read-only memory → EFAULT; a READ-only map of it pins', () => {
    const ro = { op: 'MMAP', args: { addr: '0x7f1000000000', length: '0x2000', prot: ['READ'] } };
    const map = (flags: string[]) => ({ op: 'VFIO_IOMMU_MAP_DMA', args: { flags, vaddr: '0x7f1000000000', iova: hex(IOVA), size: '0x2000' } });
    const ran = after(V2, [ro, map(['READ', 'WRITE']), map(['READ'])]);
    expect(errnos(ran)).toEqual(['ok', 'EFAULT', 'ok']);
  });
  it('pins and charges each page to the mapper\'s locked_vm; one mapping per map, never merged', () => {
    const ran = after(V2, [mapDma(IOVA, 2n * PAGE), mapDma(IOVA + 2n * PAGE, PAGE, {}, 2n * PAGE), { op: 'CHECK', args: { what: 'locked_vm', value: '0x3000' } }]);
    expect(errnos(ran)).toEqual(['ok', 'ok', 'ok']);
    expect(mappings(ran[1])).toEqual([
      [IOVA, IOVA + 0x1fffn],
      [IOVA + 0x2000n, IOVA + 0x2fffn],
    ]);
    expect(lockedVm(ran[1])).toBe(3n);
  });
  it('pinned_vm is iommufd\'s alone: type1 charges locked_vm only', () => {
    const ran = after(V2, [mapDma(IOVA, 2n * PAGE), { op: 'CHECK', args: { what: 'pinned_vm', value: '0' } }]);
    expect(errnos(ran)).toEqual(['ok', 'ok']);
  });
});

describe('RLIMIT_MEMLOCK (vfio_pin_pages_remote, __account_locked_vm)', () => {
  const limited = (caps: string[]) => host({}, [{ pid: 1, uid: 1000, rlimit_memlock: '0x2000', caps }]);
  it('a map past the limit → ENOMEM, nothing charged; within it, charged', () => {
    const ran = after(V2, [mapDma(IOVA, 3n * PAGE), mapDma(IOVA, 2n * PAGE), mapDma(IOVA + 2n * PAGE, PAGE, {}, 2n * PAGE)], limited([]));
    expect(checks(ran)).toEqual(['ENOMEM vfio_pin_pages_remote: RLIMIT_MEMLOCK exceeded', 'ok', 'ENOMEM vfio_pin_pages_remote: RLIMIT_MEMLOCK exceeded']);
    expect(lockedVm(ran[1])).toBe(2n);
    expect(ran[2]?.outcome.world).toBe(ran[2]?.before);
  });
  it('GUP comes before the limit, page by page: a hole before the first page past the limit is EFAULT, after it ENOMEM', () => {
    const hole = { op: 'MUNMAP', args: { addr: hex(BUF + PAGE), length: '0x1000' } };
    const ran = after(V2, [hole, mapDma(IOVA, 4n * PAGE)], limited([]));
    expect(checks(ran.slice(1))).toEqual(['EFAULT vaddr_get_pfns: no vma, or one without the access']);
    const later = { op: 'MUNMAP', args: { addr: hex(BUF + 3n * PAGE), length: '0x1000' } };
    expect(checks(after(V2, [later, mapDma(IOVA, 4n * PAGE)], limited([])).slice(1))).toEqual(['ENOMEM vfio_pin_pages_remote: RLIMIT_MEMLOCK exceeded']);
  });
  it('CAP_IPC_LOCK bypasses the limit but still charges (lock_cap)', () => {
    const ran = after(V2, [mapDma(IOVA, 4n * PAGE)], limited(['CAP_IPC_LOCK']));
    expect(ran[0]?.errno).toBe('ok');
    expect(lockedVm(ran[0])).toBe(4n);
  });
});

describe('per-container charging: two containers mapping the same memory charge it twice', () => {
  const TWO = [
    open('/dev/vfio/vfio'),
    open('/dev/vfio/7'),
    setContainer(4, 3),
    setIommu('TYPE1v2_IOMMU', 3),
    open('/dev/vfio/vfio'),
    open('/dev/vfio/8'),
    setContainer(6, 5),
    setIommu('TYPE1v2_IOMMU', 5),
  ];
  it('each container pins and charges the 16 pages; the mm carries 32; each unmap gives its own back', () => {
    const ran = after(TWO, [
      { ...mapDma(IOVA, 16n * PAGE), fd: 3 },
      { ...mapDma(IOVA, 16n * PAGE), fd: 5 },
      { op: 'CHECK', args: { what: 'locked_vm', value: '0x20000' } },
      { ...unmapDma(0n, 0n, { flags: ['ALL'] }), fd: 3 },
      { op: 'CHECK', args: { what: 'locked_vm', value: '0x10000' } },
    ]);
    expect(errnos(ran)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
    const world = ran[1]?.outcome.world;
    expect([type1Of(world, 1).charged.get(1), type1Of(world, 2).charged.get(1)]).toEqual([16n, 16n]);
  });
  it('the second container passes the limit the first one left room under', () => {
    const limited = host({}, [{ pid: 1, uid: 1000, rlimit_memlock: '0x18000', caps: [] }]);
    const ran = after(TWO, [{ ...mapDma(IOVA, 16n * PAGE), fd: 3 }, { ...mapDma(IOVA, 16n * PAGE), fd: 5 }], limited);
    expect(checks(ran)).toEqual(['ok', 'ENOMEM vfio_pin_pages_remote: RLIMIT_MEMLOCK exceeded']);
  });
});

describe('dma_entry_limit (vfio_iommu_type1_open, ENOSPC)', () => {
  const limit = (n: number) => host({ params: { 'vfio_iommu_type1.dma_entry_limit': n } });
  it('the limit read when type1 opens bounds the mappings; an unmap frees one; DMA_AVAIL follows', () => {
    const ran = after(
      V2,
      [mapDma(IOVA, PAGE), mapDma(IOVA + PAGE, PAGE, {}, PAGE), mapDma(IOVA + 2n * PAGE, PAGE, {}, 2n * PAGE), unmapDma(IOVA, PAGE), mapDma(IOVA + 2n * PAGE, PAGE, {}, 2n * PAGE), getInfo(120)],
      limit(2),
    );
    expect(checks(ran).slice(0, 5)).toEqual(['ok', 'ok', 'ENOSPC vfio_dma_do_map: dma_entry_limit mappings exist', 'ok', 'ok']);
    expect((ran[5]?.out['caps'] as readonly { avail?: bigint }[])[1]?.avail).toBe(0n);
  });
  it('ENOSPC comes after EEXIST and before the IOVA range check', () => {
    const ran = after(V2, [mapDma(IOVA, PAGE), mapDma(IOVA, PAGE), mapDma(0xfee00000n, PAGE)], limit(1));
    expect(errnos(ran)).toEqual(['ok', 'EEXIST', 'ENOSPC']);
  });
  it('a limit of 0 refuses every map', () => {
    failedAt(after(V2, [mapDma(IOVA, PAGE)], limit(0))[0], 'ENOSPC vfio_dma_do_map: dma_entry_limit mappings exist');
  });
});

describe('VFIO_IOMMU_UNMAP_DMA (vfio_iommu_type1_unmap_dma, vfio_dma_do_unmap)', () => {
  const THREE = [mapDma(IOVA, 2n * PAGE), mapDma(IOVA + 2n * PAGE, 2n * PAGE, {}, 2n * PAGE), mapDma(IOVA + 8n * PAGE, PAGE, {}, 8n * PAGE)];
  it('a NULL argument → EFAULT; argsz below minsz or an unknown flag → EINVAL; DIRTY with ALL or VADDR → EINVAL', () => {
    const ran = after(V2, [
      { op: 'VFIO_IOMMU_UNMAP_DMA', args: null },
      unmapDma(IOVA, PAGE, { argsz: 23 }),
      unmapDma(IOVA, PAGE, { flags: 8 }),
      unmapDma(0n, 0n, { flags: ['GET_DIRTY_BITMAP', 'ALL'] }),
    ]);
    expect(checks(ran)).toEqual([
      'EFAULT vfio_iommu_type1_unmap_dma: copy_from_user of a NULL argument',
      'EINVAL vfio_iommu_type1_unmap_dma: argsz below minsz or flags has unknown bits',
      'EINVAL vfio_iommu_type1_unmap_dma: argsz below minsz or flags has unknown bits',
      'EINVAL vfio_iommu_type1_unmap_dma: GET_DIRTY_BITMAP with ALL or VADDR',
    ]);
  });
  it('an unaligned iova, a size 0, unaligned, or wrapping → EINVAL', () => {
    const ran = after(V2, [unmapDma(IOVA + 0x800n, PAGE), unmapDma(IOVA, 0n), unmapDma(IOVA, 0x800n), unmapDma(0xfffffffffffff000n, 0x2000n)]);
    expect(checks(ran)).toEqual([
      'EINVAL vfio_dma_do_unmap: iova not aligned to the smallest page size',
      'EINVAL vfio_dma_do_unmap: size 0, unaligned, or the range wraps',
      'EINVAL vfio_dma_do_unmap: size 0, unaligned, or the range wraps',
      'EINVAL vfio_dma_do_unmap: size 0, unaligned, or the range wraps',
    ]);
  });
  it('an empty range succeeds with size 0, v1 and v2', () => {
    for (const prologue of [V1, V2]) {
      const [r] = after(prologue, [unmapDma(IOVA, PAGE)]);
      expect(r?.errno).toBe('ok');
      expect(r?.out).toEqual({ size: 0n });
    }
  });
  it('v2: whole mappings and the holes between them go; size counts the mappings', () => {
    const [r] = after([...V2, ...THREE], [unmapDma(IOVA, 16n * PAGE)]);
    expect(r?.out).toEqual({ size: 0x5000n });
    expect(mappings(r)).toEqual([]);
  });
  it('v2: a range that would cut a mapping at its start or its end → EINVAL, nothing unmapped', () => {
    const ran = after([...V2, ...THREE], [unmapDma(IOVA + PAGE, 3n * PAGE), unmapDma(IOVA, 3n * PAGE)]);
    expect(checks(ran)).toEqual(Array(2).fill('EINVAL vfio_dma_do_unmap: the range would cut a mapping'));
    expect(ran[1]?.outcome.world).toBe(ran[1]?.before);
  });
  it('v1: a range covering a mapping\'s first IOVA takes the whole mapping, however short', () => {
    const [r] = after([...V1, ...THREE], [unmapDma(IOVA + 2n * PAGE, PAGE)]);
    expect(r?.out).toEqual({ size: 0x2000n });
    expect(mappings(r)).toEqual([
      [IOVA, IOVA + 0x1fffn],
      [IOVA + 0x8000n, IOVA + 0x8fffn],
    ]);
  });
  it('v1: a range starting inside a mapping unmaps nothing, even the mappings after it: success, size 0', () => {
    const [r] = after([...V1, ...THREE], [unmapDma(IOVA + PAGE, 15n * PAGE)]);
    expect(r?.errno).toBe('ok');
    expect(r?.out).toEqual({ size: 0n });
    expect(mappings(r)).toHaveLength(3);
  });
  it('ALL needs iova and size 0 (EINVAL), then takes everything and gives every charge back', () => {
    const ran = after([...V2, ...THREE], [unmapDma(0n, PAGE, { flags: ['ALL'] }), unmapDma(0n, 0n, { flags: ['ALL'] }), unmapDma(0n, 0n, { flags: ['ALL'] })]);
    failedAt(ran[0], 'EINVAL vfio_dma_do_unmap: unmap all with a non-zero iova or size');
    expect([ran[1]?.out, ran[2]?.out]).toEqual([{ size: 0x5000n }, { size: 0n }]);
    expect(lockedVm(ran[1])).toBe(0n);
  });
});

describe('VADDR: invalidate and update, as QEMU CPR does (VFIO_UPDATE_VADDR)', () => {
  it('CHECK_EXTENSION(UPDATE_VADDR) is 1 on a type1 container', () => {
    expect(after(V2, [checkExtension('UPDATE_VADDR')])[0]?.outcome.result?.ret).toBe(1n);
  });
  it('UNMAP with VADDR invalidates the vaddrs but keeps the pins and charges; size counts them', () => {
    const ran = after(V2, [mapDma(IOVA, 2n * PAGE), unmapDma(0n, 0n, { flags: ['VADDR', 'ALL'] })]);
    expect(ran[1]?.out).toEqual({ size: 0x2000n });
    expect(type1Of(ran[1]?.outcome.world).vaddrInvalid).toBe(1);
    expect(lockedVm(ran[1])).toBe(2n);
  });
  it('invalidating a vaddr twice → EINVAL, and none of the range is invalidated', () => {
    const ran = after(V2, [mapDma(IOVA, PAGE), mapDma(IOVA + PAGE, PAGE, {}, PAGE), unmapDma(IOVA + PAGE, PAGE, { flags: ['VADDR'] }), unmapDma(IOVA, 2n * PAGE, { flags: ['VADDR'] })]);
    failedAt(ran[3], 'EINVAL vfio_dma_do_unmap: a vaddr is invalid already');
  });
  it('the update names the mapping exactly (EINVAL otherwise), one that exists (ENOENT), invalidated (EINVAL)', () => {
    const update = (iova: bigint, size: bigint) => mapDma(iova, size, { flags: ['VADDR'] }, 0x10000n);
    const ran = after(V2, [mapDma(IOVA, 2n * PAGE), update(IOVA, 2n * PAGE), unmapDma(IOVA, 2n * PAGE, { flags: ['VADDR'] }), update(IOVA, PAGE), update(IOVA + 16n * PAGE, PAGE), update(IOVA, 2n * PAGE)]);
    expect(checks(ran)).toEqual([
      'ok',
      'EINVAL vfio_dma_do_map: the mapping is not exactly the range or its vaddr is valid',
      'ok',
      'EINVAL vfio_dma_do_map: the mapping is not exactly the range or its vaddr is valid',
      'ENOENT vfio_dma_do_map: no mapping to update',
      'ok',
    ]);
    const dma = type1Of(ran[5]?.outcome.world).dmas.get(IOVA);
    expect([dma?.vaddr, dma?.vaddrInvalid]).toEqual([BUF + 0x10000n, false]);
  });
  it('while a vaddr is invalid a group cannot join the container (EBUSY)', () => {
    const ran = after(V2, [mapDma(IOVA, PAGE), unmapDma(IOVA, PAGE, { flags: ['VADDR'] }), open('/dev/vfio/8'), setContainer(5, 3)]);
    failedAt(ran[3], 'EBUSY vfio_iommu_type1_attach_group: a mapping has its vaddr invalidated');
  });
  it('an update from another process moves the charge to its mm (vfio_change_dma_owner), which may refuse (ENOMEM)', () => {
    // The new process is a FORK child, which inherits the container fd (CPR's new QEMU gets it across exec).
    const handover = [...V2, mapDma(IOVA, 2n * PAGE), unmapDma(IOVA, 2n * PAGE, { flags: ['VADDR'] }), { op: 'FORK', expect: { out: { pid: 2 } } }];
    const ran = after(handover, [
      { ...mapDma(IOVA, 2n * PAGE, { flags: ['VADDR'] }), pid: 2 },
      { op: 'CHECK', args: { what: 'locked_vm', pid: 1, value: '0' } },
      { op: 'CHECK', args: { what: 'locked_vm', pid: 2, value: '0x2000' } },
    ]);
    expect(errnos(ran)).toEqual(['ok', 'ok', 'ok']);
    expect(type1Of(ran[0]?.outcome.world).dmas.get(IOVA)?.owner).toBe(2);
    const limited = runTrace([...handover, { op: 'SET_RLIMIT', pid: 2, args: { rlimit_memlock: '0x1000' } }, { ...mapDma(IOVA, 2n * PAGE, { flags: ['VADDR'] }), pid: 2 }], HOST);
    failedAt(limited[limited.length - 1], 'ENOMEM __account_locked_vm: locked_vm would pass RLIMIT_MEMLOCK');
  });
});

describe('VFIO_IOMMU_DIRTY_PAGES and the dirty-bitmap unmap', () => {
  const dirty = (flags: string[], more: object = {}) => ({ op: 'VFIO_IOMMU_DIRTY_PAGES', args: { flags, ...more } });
  const bitmapAt = '0x7f0000080000';
  const get = (iova: bigint, size: bigint, more: object = {}) =>
    dirty(['GET_BITMAP'], { iova: hex(iova), size: hex(size), bitmap: { pgsize: 4096, size: 8, data: bitmapAt }, ...more });
  /** struct vfio_bitmap {pgsize, size, data} after the unmap struct, little-endian. */
  const le = (v: bigint) => Buffer.from(v.toString(16).padStart(16, '0'), 'hex').reverse().toString('hex');
  const trailing = (pgsize: bigint, size: bigint, data: bigint) => `0x${le(pgsize)}${le(size)}${le(data)}`;
  it('a v1 container → EACCES, before the argument is read', () => {
    failedAt(after(V1, [{ op: 'VFIO_IOMMU_DIRTY_PAGES', args: null }])[0], 'EACCES vfio_iommu_type1_dirty_pages: a v1 container');
  });
  it('not exactly one flag, or an unknown one → EINVAL', () => {
    const ran = after(V2, [dirty([]), dirty(['START', 'STOP']), dirty([], { flags: 8 })]);
    expect(errnos(ran)).toEqual(['EINVAL', 'EINVAL', 'EINVAL']);
  });
  it('GET_BITMAP with tracking off → EINVAL; START then GET: every page of each mapping is dirty, holes are not', () => {
    const ran = after(V2, [mapDma(IOVA, 2n * PAGE), mapDma(IOVA + 4n * PAGE, PAGE, {}, 4n * PAGE), get(IOVA, 8n * PAGE), dirty(['START']), get(IOVA, 8n * PAGE)]);
    failedAt(ran[2], 'EINVAL vfio_iommu_type1_dirty_pages: dirty tracking is off');
    expect(ran[4]?.out).toEqual({ bitmap: '0x1300000000000000' });
  });
  it('GET_BITMAP: argsz without the range, a bitmap page size not the smallest, an unaligned iova, a range cutting a mapping → EINVAL', () => {
    const ran = after(V2, [
      mapDma(IOVA, 2n * PAGE),
      dirty(['START']),
      get(IOVA, 8n * PAGE, { argsz: 47 }),
      get(IOVA, 8n * PAGE, { bitmap: { pgsize: 8192, size: 8, data: bitmapAt } }),
      get(IOVA + 0x800n, 8n * PAGE),
      get(IOVA + PAGE, 8n * PAGE),
      get(IOVA, PAGE),
    ]);
    expect(checks(ran.slice(2))).toEqual([
      'EINVAL vfio_iommu_type1_dirty_pages: argsz has no room for the range',
      'EINVAL vfio_iommu_type1_dirty_pages: the bitmap page size is not the smallest',
      'EINVAL vfio_iommu_type1_dirty_pages: iova or size not aligned to the smallest page size, or size 0',
      'EINVAL vfio_iova_dirty_bitmap: the range would cut a mapping',
      'EINVAL vfio_iova_dirty_bitmap: the range would cut a mapping',
    ]);
  });
  it('a bitmap too small for the range → EINVAL (verify_bitmap_size); one that is not user memory → EFAULT', () => {
    const ran = after(V2, [mapDma(IOVA, 2n * PAGE), dirty(['START']), get(IOVA, 0x1000n * PAGE), get(IOVA, 2n * PAGE, { bitmap: { pgsize: 4096, size: 8, data: '0x1000' } })]);
    expect(checks(ran.slice(2))).toEqual(['EINVAL verify_bitmap_size: no pages, or a bitmap too small or too large', 'EFAULT update_user_bitmap: the bitmap is not writable']);
  });
  it('the dirty-bitmap unmap writes each mapping\'s bits, then unmaps; it needs tracking on and argsz for the bitmap', () => {
    const unmap = (extra: object = {}) => unmapDma(IOVA, 8n * PAGE, { flags: ['GET_DIRTY_BITMAP'], argsz: 48, __trailing: trailing(4096n, 8n, BigInt(bitmapAt)), ...extra });
    const ran = after(V2, [mapDma(IOVA + PAGE, 2n * PAGE), unmap(), unmap({ argsz: 47, __trailing: undefined }), dirty(['START']), unmap()]);
    expect(checks(ran.slice(1, 3))).toEqual([
      'EINVAL vfio_dma_do_unmap: dirty tracking off, or the bitmap page size is not the smallest',
      'EINVAL vfio_iommu_type1_unmap_dma: argsz has no room for the bitmap',
    ]);
    expect(ran[4]?.out).toEqual({ size: 0x2000n, bitmap: '0x0600000000000000' });
    expect(mappings(ran[4])).toEqual([]);
  });
  it('a dirty-bitmap unmap that faults on the bitmap keeps the mappings it removed before (EFAULT, a partial effect)', () => {
    // The bitmap's first word is the last 8 bytes of a page; the next page is not mapped. Mapping 1
    // at IOVA writes word 0; mapping 2, 1024 pages on, writes word 16, past the page.
    const page = { op: 'MMAP', args: { addr: '0x7f2000000000', length: '0x1000' } };
    const ran = after(V2, [
      page,
      mapDma(IOVA, PAGE),
      mapDma(IOVA + 0x400000n, PAGE, {}, PAGE),
      dirty(['START']),
      unmapDma(IOVA, 0x800000n, { flags: ['GET_DIRTY_BITMAP'], argsz: 48, __trailing: trailing(4096n, 0x1000n, 0x7f2000000ff8n) }),
    ]);
    expect(ran[4]?.outcome.result?.check).toBe('EFAULT update_user_bitmap: the bitmap is not writable');
    expect(mappings(ran[4])).toEqual([[IOVA + 0x400000n, IOVA + 0x400fffn]]);
  });
  it('a bitmap of DIRTY_BITMAP_PAGES_MAX pages (256 MiB) is shown up to 16 MiB, where its hex would pass the longest string the runtime holds', () => {
    // 8 TiB of memory mapped at 4 GiB: 2^31 - 1 pages, every one dirty.
    const size = 0x7fffffff000n;
    const ran = after(V2, [
      { op: 'MMAP', args: { addr: '0x100000000000', length: '0x80000000000' } },
      { op: 'VFIO_IOMMU_MAP_DMA', args: { flags: ['READ', 'WRITE'], vaddr: '0x100000000000', iova: '0x100000000', size: hex(size) } },
      dirty(['START']),
      get(0x100000000n, size, { bitmap: { pgsize: 4096, size: '0x10000000', data: '0x100000000000' } }),
    ]);
    expect(errnos(ran)).toEqual(['ok', 'ok', 'ok', 'ok']);
    // It was 2^28 bytes written as one string: "Cannot create a string longer than 0x1fffffe8 characters".
    const bitmap = (ran[3]?.out as { bitmap: string }).bitmap;
    expect(bitmap).toHaveLength(2 + 2 * (1 << 24));
    expect(/^0x(?:ff)+$/.test(bitmap)).toBe(true);
  });
  it('START and STOP may repeat; STOP ends tracking', () => {
    const ran = after(V2, [dirty(['START']), dirty(['START']), dirty(['STOP']), mapDma(IOVA, PAGE), get(IOVA, PAGE), dirty(['STOP'])]);
    expect(errnos(ran)).toEqual(['ok', 'ok', 'ok', 'ok', 'EINVAL', 'ok']);
  });
});

describe('reserved and MSI ranges from the devices', () => {
  it('a DIRECT_RELAXABLE region stays usable; others are cut out of the IOVA ranges', () => {
    const devices = [
      {
        name: 'a',
        kind: 'k',
        group: 7,
        aperture: { start: '0', last: '0xffffffff' },
        reserved: [
          { start: '0x1000', last: '0x1fff', type: 'DIRECT_RELAXABLE' },
          { start: '0x8000', last: '0x8fff', type: 'RESERVED' },
        ],
      },
    ];
    const header = host({ devices });
    const [r] = after(V2, [getInfo(120)], header);
    expect((r?.out['caps'] as readonly Record<string, unknown>[])[2]).toEqual({
      id: 1n,
      version: 1n,
      nr_iovas: 2n,
      iova_ranges: [
        { start: 0n, end: 0x7fffn },
        { start: 0x9000n, end: 0xffffffffn },
      ],
    });
  });
  it('a group whose MSIs are not isolated cannot join without allow_unsafe_interrupts (EPERM)', () => {
    const devices = [{ name: 'a', kind: 'k', group: 7, msi_isolated: false }];
    const refused = runTrace(CONTAINER('TYPE1v2_IOMMU'), host({ devices }));
    failedAt(refused[3], 'EPERM vfio_iommu_type1_attach_group: no interrupt remapping and allow_unsafe_interrupts is off');
    const allowed = runTrace(CONTAINER('TYPE1v2_IOMMU'), host({ devices, params: { 'vfio_iommu_type1.allow_unsafe_interrupts': 'Y' } }));
    expect(allowed[3]?.errno).toBe('ok');
  });
});
