/**
 * VFIO_IOMMU_MAP_DMA and VFIO_IOMMU_UNMAP_DMA on SPAPR TCE containers (tce_iommu_ioctl(),
 * tce_iommu_build(), tce_iommu_build_v2(), tce_iommu_clear()): windows, page sizes, the raw
 * return of 1, TCEs replacing TCEs, a failed build clearing what it set, v2's regions looked
 * up page by page, and TCEs written past a window's end.
 */
import { describe, expect, it } from 'vitest';
import { type Ran, afterPrologue, errnos, failedAt, refused } from '../harness.ts';
import { spaprMmOf } from '../../src/vfio/prereg.ts';
import { spaprOf } from '../../src/vfio/store.ts';
import type { World } from '../../src/model/world.ts';
import { hex } from './native-fixtures.ts';
import { PAGE, POWER, RAM, RAM_SIZE, V1, V2, create, enable, map, power, quirksOf, register, remove, unmap, unregister } from './spapr-fixtures.ts';

const after = (prologue: readonly object[], events: readonly object[], header: object = POWER) => afterPrologue(prologue, events, header);
const worldOf = (r: Ran | undefined): World => {
  if (r === undefined) throw new Error('no event');
  return r.outcome.world;
};
const tces = (r: Ran | undefined, slot: 0 | 1 = 0) => [...(spaprOf(worldOf(r), 1).tables[slot]?.tces.values() ?? [])];
const mapped = (r: Ran | undefined) => [...spaprMmOf(worldOf(r), 1).regions.values()].map((g) => g.mapped);

/** v2 with the default window removed and a 1 GiB window of 64 KiB pages at 0. */
const WINDOWED = [...V2, remove(0n), create(16, 1n << 30n, 1)];

describe('the window and the page size', () => {
  it('an IOVA in no window is ENXIO; size and vaddr go by the window page (EINVAL); neither READ nor WRITE EINVAL', () => {
    const ran = after(WINDOWED, [register(RAM, RAM_SIZE), map(1n << 30n, RAM, PAGE), map(0n, RAM, 0x1000n), map(0n, RAM + 0x8000n, PAGE), map(0n, RAM, PAGE, [])]);
    expect(ran.slice(1).map((r) => r.outcome.result?.check)).toEqual([
      'ENXIO tce_iommu_find_table: no window holds the IOVA',
      'EINVAL tce_iommu_ioctl: size or vaddr not aligned to the window page size',
      'EINVAL tce_iommu_ioctl: size or vaddr not aligned to the window page size',
      'EINVAL tce_iommu_ioctl: neither READ nor WRITE',
    ]);
    for (const r of ran.slice(1)) refused(r, r.errno);
  });
  it("an IOVA inside the window but off its page boundary answers 1, MAP's and UNMAP's, and changes nothing", () => {
    const ran = after(WINDOWED, [register(RAM, RAM_SIZE), map(0x8000n, RAM, PAGE), unmap(0x8000n, PAGE)]);
    for (const r of ran.slice(1)) {
      expect([r.errno, r.outcome.result?.ret]).toEqual(['ok', 1n]);
      expect(r.outcome.world).toBe(r.before);
    }
  });
  it('UNMAP takes no flag, clears set and unset TCEs alike and writes nothing back', () => {
    const ran = after(WINDOWED, [register(RAM, RAM_SIZE), map(0n, RAM, 4n * PAGE), unmap(0n, PAGE, { flags: ['ALL'] }), unmap(PAGE, 8n * PAGE), unmap(0n, 0n)]);
    failedAt(ran[2], 'EINVAL tce_iommu_ioctl: no flag is supported');
    expect(ran[3]?.out).toEqual({});
    expect(tces(ran[3]).map((t) => [t.start, t.last])).toEqual([[0n, 0n]]);
    expect(mapped(ran[3])).toEqual([1n]);
    expect(ran[4]?.outcome.world).toBe(ran[4]?.before);
  });
  it('MAP and UNMAP need an enabled container (EPERM): v2 by a registration, v1 by ENABLE', () => {
    expect(errnos(after(V2, [map(0n, RAM, PAGE), unmap(0n, PAGE)]))).toEqual(['EPERM', 'EPERM']);
    expect(errnos(after(V1, [map(0n, RAM, PAGE), enable(), map(0n, RAM, PAGE)]))).toEqual(['EPERM', 'ok', 'ok']);
  });
});

describe('v2: pre-registered memory only', () => {
  it('a TCE set over another replaces it (no EEXIST), each region counting the TCEs pointing into it', () => {
    const ran = after(WINDOWED, [register(RAM, 4n * PAGE), register(RAM + 4n * PAGE, 4n * PAGE), map(0n, RAM, 4n * PAGE), map(2n * PAGE, RAM + 4n * PAGE, 4n * PAGE)]);
    expect(errnos(ran)).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect(mapped(ran[3])).toEqual([2n, 4n]);
    expect(tces(ran[3]).map((t) => [t.start, t.last, t.ua])).toEqual([
      [0n, 1n, RAM],
      [2n, 5n, RAM + 4n * PAGE],
    ]);
  });
  it('one MAP may span adjacent regions, page by page', () => {
    const ran = after(WINDOWED, [register(RAM, 2n * PAGE), register(RAM + 2n * PAGE, 2n * PAGE), map(0n, RAM, 4n * PAGE)]);
    expect(ran[2]?.errno).toBe('ok');
    expect(mapped(ran[2])).toEqual([2n, 2n]);
  });
  it('a page in no region fails the MAP (EINVAL) and clears the TCEs it set before, and those they replaced', () => {
    const ran = after(WINDOWED, [register(RAM, PAGE), register(RAM + 2n * PAGE, PAGE), map(0n, RAM, PAGE), map(0n, RAM, 3n * PAGE)]);
    expect(ran[3]?.outcome.result?.check).toBe('EINVAL tce_iommu_prereg_ua_to_hpa: the IOMMU page is in no pre-registered region');
    expect(tces(ran[3])).toEqual([]);
    expect(mapped(ran[3])).toEqual([0n, 0n]);
  });
  it("a window page larger than the region's (EINVAL); a huge page followed by small ones keeps the region's shift, and the small ones fail tce_page_is_contained (EPERM)", () => {
    const HUGE = 0x7ffe00000000n;
    const M16 = 0x1000000n;
    const header = power(undefined, undefined, undefined, {
      mappings: [
        { addr: hex(RAM), length: hex(RAM_SIZE), shared: true },
        { addr: hex(HUGE), length: hex(M16), hugepage: true },
        { addr: hex(HUGE + M16), length: hex(M16) },
      ],
    });
    const huge = [...V2, remove(0n), create(24, 1n << 32n, 1)];
    const ran = after(huge, [register(RAM, RAM_SIZE), register(HUGE, 2n * M16), map(0n, RAM, M16), map(0n, HUGE, 2n * M16)], header);
    expect(spaprMmOf(worldOf(ran[1]), 1).regions.get((HUGE << 64n) | ((2n * M16) / PAGE))?.pageShift).toBe(24);
    failedAt(ran[2], "EINVAL mm_iommu_ua_to_hpa: the region's pages are smaller than the IOMMU page");
    expect(ran[3]?.outcome.result?.check).toBe('EPERM tce_page_is_contained: the page is smaller than the IOMMU page');
    expect(tces(ran[3])).toEqual([]);
  });
  it('TCEs past the window: only the first IOVA is checked, the rest is written, and removing the window leaves their counts: a kernel quirk', () => {
    const events = [...WINDOWED, register(RAM, RAM_SIZE), map((1n << 30n) - PAGE, RAM, 2n * PAGE), remove(0n), unregister(RAM, RAM_SIZE)];
    const { quirks, world } = quirksOf(events);
    expect(quirks[7]).toEqual([{ quirk: 'tce-past-window', detail: 'container 1 window 0: TCEs 0x3fff..0x4000 lie past its last entry 0x3fff' }]);
    expect(quirks[9]?.map((q) => q.quirk)).toEqual(['prereg-region-leaked']);
    expect([...spaprMmOf(world, 1).regions.values()].map((r) => [r.used, r.holders, r.mapped, r.stranded])).toEqual([[1, [], 1n, 1n]]);
  });
});

describe('v1: each page pinned as it is mapped', () => {
  it('the TCEs hold the pages they pinned; a page that cannot be pinned fails the MAP (EFAULT) and clears what it set', () => {
    const end = RAM + RAM_SIZE;
    const ran = after([...V1, enable()], [map(0n, end - PAGE, PAGE), map(0n, end - PAGE, 2n * PAGE)]);
    expect(tces(ran[0]).map((t) => [t.start, t.last, t.pins.reduce((n, p) => n + p.count, 0n)])).toEqual([[0n, 15n, 1n]]);
    expect(ran[1]?.outcome.result?.check).toBe('EFAULT tce_iommu_use_page: a page could not be pinned');
    expect(tces(ran[1])).toEqual([]);
  });
  it('a TCE set over a part of another splits it, the pages pinned going with their TCEs', () => {
    const ran = after([...V1, enable()], [map(0n, RAM, 4n * PAGE), map(0x10000n, RAM + 8n * PAGE, 0x1000n)]);
    expect(tces(ran[1]).map((t) => [t.start, t.last, t.ua, t.pins.reduce((n, p) => n + p.count, 0n)])).toEqual([
      [0n, 15n, RAM, 1n],
      [16n, 16n, RAM + 8n * PAGE, 1n],
      [17n, 63n, RAM + PAGE + 0x1000n, 3n],
    ]);
  });
});
