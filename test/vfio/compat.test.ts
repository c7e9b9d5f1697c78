/**
 * iommufd's VFIO type1 container emulation, one test per kernel check (vfio_compat.c, and
 * iopt_cut_iova()/iopt_area_split() of io_pagetable.c), in the kernel's order.
 */
import { describe, expect, it } from 'vitest';
import { MOCK_PAGE_SIZE, mockDeviceModel } from '../../src/iommufd/selftest/mock.ts';
import type { Ioas } from '../../src/model/world.ts';
import { type Ran, HEADER, errnos, failedAt, runTrace, afterPrologue } from '../harness.ts';

/** A host whose /dev/vfio/vfio is iommufd's compatibility container (CONFIG_IOMMUFD_VFIO_CONTAINER). */
const IOMMUFD_CONTAINER = { ...HEADER, env: { ...HEADER.env, vfio: { container: 'iommufd' } } };

const BUF = 0x7f0000000000n;
const IOVA = 0x1000000n;
const hex = (v: bigint): string => `0x${v.toString(16)}`;

/** /dev/iommu as fd 3, IOAS 1 made the compat IOAS. */
const COMPAT = [{ op: 'OPEN' }, { op: 'IOAS_ALLOC' }, { op: 'VFIO_IOAS', args: { ioas_id: 1, op: 1 } }];
/** A mock device on IOAS 1: stdev 2, device 3, auto HWPT 4. */
const MOCK = { op: 'TEST_MOCK_DOMAIN', args: { id: 1 } };
const setIommu = (type: number) => ({ op: 'VFIO_SET_IOMMU', args: { arg: type } });
const TYPE1 = setIommu(1);
const TYPE1V2 = setIommu(3);
const mapDma = (iova: bigint, size: bigint, extra: object = {}) => ({
  op: 'VFIO_IOMMU_MAP_DMA',
  args: { flags: 3, vaddr: hex(BUF + (iova - IOVA)), iova: hex(iova), size: hex(size), ...extra },
});
const unmapDma = (iova: bigint, size: bigint, extra: object = {}) => ({
  op: 'VFIO_IOMMU_UNMAP_DMA',
  args: { flags: 0, iova: hex(iova), size: hex(size), ...extra },
});
const getInfo = (argsz: number) => ({ op: 'VFIO_IOMMU_GET_INFO', args: { argsz } });
const checkExtension = (ext: number) => ({ op: 'VFIO_CHECK_EXTENSION', args: { arg: ext } });

/** Runs `prologue` then `events`, returning the results of `events`. */
const after = afterPrologue;

/** The areas of IOAS 1 of the first context after an event, as [start, last]. */
function areas(r: Ran | undefined): [bigint, bigint][] {
  const ioas = r?.outcome.world.contexts.values().next().value?.objects.get(1) as Ioas;
  return [...ioas.iopt.areas.values()].map((a) => [a.start, a.last]);
}

const ret = (r: Ran | undefined) => r?.outcome.result?.ret;
/** Each event's failed kernel check (`ENODEV get_compat_ioas: no compat IOAS is set`), or 'ok'. */
const checks = (ran: readonly Ran[]): string[] => ran.map((r) => r.outcome.result?.check ?? r.errno);

describe('IOMMU_VFIO_IOAS (iommufd_vfio_ioas)', () => {
  it('__reserved → EOPNOTSUPP', () => {
    const [r] = after(COMPAT, [{ op: 'VFIO_IOAS', args: { op: 0, __reserved: 1 } }]);
    failedAt(r, 'EOPNOTSUPP iommufd_vfio_ioas: __reserved is not zero');
  });
  it('GET without a compat IOAS → ENODEV (get_compat_ioas); GET never creates one', () => {
    const ran = runTrace([{ op: 'OPEN' }, { op: 'VFIO_IOAS', args: { op: 0 } }, { op: 'IOAS_ALLOC' }]);
    failedAt(ran[1], 'ENODEV get_compat_ioas: no compat IOAS is set');
    expect(ran[2]?.out).toEqual({ out_ioas_id: 1n });
  });
  it('SET then GET gives the IOAS id back', () => {
    const [r] = after(COMPAT, [{ op: 'VFIO_IOAS', args: { op: 0 } }]);
    expect(r?.out).toEqual({ ioas_id: 1n });
  });
  it('SET of an id that is not an IOAS → ENOENT (iommufd_get_ioas)', () => {
    const ran = after(COMPAT, [MOCK, { op: 'VFIO_IOAS', args: { ioas_id: 4, op: 1 } }, { op: 'VFIO_IOAS', args: { ioas_id: 9, op: 1 } }]);
    expect(checks(ran)).toEqual(['ok', 'ENOENT iommufd_get_object: no IOAS with this id', 'ENOENT iommufd_get_object: no IOAS with this id']);
    expect(ran[1]?.outcome.world).toBe(ran[1]?.before);
  });
  it('CLEAR unsets the compat IOAS without destroying it', () => {
    const ran = after(COMPAT, [{ op: 'VFIO_IOAS', args: { op: 2 } }, { op: 'VFIO_IOAS', args: { op: 0 } }, { op: 'DESTROY', args: { id: 1 } }]);
    expect(errnos(ran)).toEqual(['ok', 'ENODEV', 'ok']);
  });
  it('an unknown op → EOPNOTSUPP', () => {
    const [r] = after(COMPAT, [{ op: 'VFIO_IOAS', args: { op: 3 } }]);
    failedAt(r, 'EOPNOTSUPP iommufd_vfio_ioas: unknown op');
  });
  it('destroying the compat IOAS clears the setting (iommufd_object_remove)', () => {
    const ran = after(COMPAT, [{ op: 'DESTROY', args: { id: 1 } }, { op: 'VFIO_IOAS', args: { op: 0 } }]);
    expect(errnos(ran)).toEqual(['ok', 'ENODEV']);
  });
});

describe('VFIO_GET_API_VERSION and VFIO_CHECK_EXTENSION (iommufd_vfio_check_extension)', () => {
  it('the API version is VFIO_API_VERSION (0), with or without a compat IOAS', () => {
    const [r] = runTrace([{ op: 'OPEN' }, { op: 'VFIO_GET_API_VERSION' }]).slice(1);
    expect(r?.errno).toBe('ok');
    expect(ret(r)).toBe(0n);
  });
  it('TYPE1, TYPE1v2 and UNMAP_ALL are offered; NOIOMMU, SPAPR, nesting, UPDATE_VADDR and unknown ones are not', () => {
    const ran = runTrace([{ op: 'OPEN' }, ...[1, 3, 9, 8, 2, 7, 6, 10, 5, 11].map(checkExtension)]).slice(1);
    expect(ran.map(ret)).toEqual([1n, 1n, 1n, 0n, 0n, 0n, 0n, 0n, 0n, 0n]);
  });
  it('NOIOMMU is offered when CONFIG_VFIO_NOIOMMU is built (the noiommu driver registered); SPAPR never', () => {
    const header = { ...HEADER, env: { ...HEADER.env, vfio: { drivers: ['noiommu', 'type1'] } } };
    const ran = runTrace([{ op: 'OPEN' }, checkExtension(8), checkExtension(2), checkExtension(7)], header).slice(1);
    expect(ran.map(ret)).toEqual([1n, 0n, 0n]);
  });
  it('DMA_CC without a compat IOAS → ENODEV (iommufd_vfio_cc_iommu)', () => {
    const [r] = runTrace([{ op: 'OPEN' }, checkExtension(4)]).slice(1);
    failedAt(r, 'ENODEV get_compat_ioas: no compat IOAS is set');
  });
  it('DMA_CC: 1 with no HWPT, 0 once a mock HWPT (no enforced coherency) is on the compat IOAS', () => {
    const ran = after(COMPAT, [checkExtension(4), MOCK, checkExtension(4)]);
    expect([ret(ran[0]), ret(ran[2])]).toEqual([1n, 0n]);
  });
});

describe('VFIO_SET_IOMMU (iommufd_vfio_set_iommu)', () => {
  it('a type other than TYPE1/TYPE1v2 → EINVAL, before the compat IOAS is looked up', () => {
    const ran = runTrace([{ op: 'OPEN' }, setIommu(8), setIommu(2), setIommu(0)]).slice(1);
    expect(checks(ran)).toEqual(Array(3).fill('EINVAL iommufd_vfio_set_iommu: not a type1 iommu type, or the context is in no-IOMMU mode'));
  });
  it('NOIOMMU outside no-IOMMU mode, and the SPAPR types → EINVAL, whatever drivers the host has', () => {
    const header = { ...HEADER, env: { ...HEADER.env, vfio: { drivers: ['noiommu', 'type1'] } } };
    const ran = after(COMPAT, [setIommu(8), setIommu(2), setIommu(7)], header);
    expect(errnos(ran)).toEqual(['EINVAL', 'EINVAL', 'EINVAL']);
  });
  it('no compat IOAS → ENODEV (VFIO fails set_iommu without a group)', () => {
    const ran = runTrace([{ op: 'OPEN' }, { op: 'IOAS_ALLOC' }, TYPE1, TYPE1V2]).slice(2);
    expect(checks(ran)).toEqual(['ENODEV get_compat_ioas: no compat IOAS is set', 'ENODEV get_compat_ioas: no compat IOAS is set']);
  });
  it('TYPE1 disables large pages: HUGE_PAGES reads 0 and the IOVA alignment is PAGE_SIZE', () => {
    const ran = after(COMPAT, [
      TYPE1,
      { op: 'OPTION', args: { option_id: 1, op: 1, object_id: 1 } },
      { op: 'IOAS_IOVA_RANGES', args: { ioas_id: 1, num_iovas: 0 } },
    ]);
    expect(ret(ran[0])).toBe(0n);
    expect(ran[1]?.out).toEqual({ val64: 0n });
    expect(ran[2]?.out['out_iova_alignment']).toBe(0x1000n);
  });
  it('large pages back on after TYPE1: the alignment falls to the domain\'s page, not 1 (iopt_calculate_iova_alignment)', () => {
    const ran = after(COMPAT, [
      MOCK,
      TYPE1,
      { op: 'OPTION', args: { option_id: 1, op: 0, object_id: 1, val64: 1 } },
      { op: 'IOAS_IOVA_RANGES', args: { ioas_id: 1, num_iovas: 0 } },
    ]);
    expect(ran[3]?.out['out_iova_alignment']).toBe(MOCK_PAGE_SIZE);
  });
  it('TYPE1v2 leaves large pages on', () => {
    const ran = after(COMPAT, [TYPE1V2, { op: 'OPTION', args: { option_id: 1, op: 1, object_id: 1 } }]);
    expect(ret(ran[0])).toBe(0n);
    expect(ran[1]?.out).toEqual({ val64: 1n });
  });
  it('TYPE1 once a domain holds mappings → EINVAL (iopt_disable_large_pages)', () => {
    const ran = after(COMPAT, [MOCK, mapDma(IOVA, 0x1000n), TYPE1]);
    expect(errnos(ran)).toEqual(['ok', 'ok', 'EINVAL']);
    failedAt(ran[2], 'EINVAL iopt_disable_large_pages: a domain already maps areas');
  });
  it('TYPE1 over an area not aligned to PAGE_SIZE → EADDRINUSE (iopt_calculate_iova_alignment)', () => {
    const ran = after(COMPAT, [mapDma(IOVA + 0x800n, 0x1000n), TYPE1]);
    expect(errnos(ran)).toEqual(['ok', 'EADDRINUSE']);
    failedAt(ran[1], 'EADDRINUSE iopt_check_iova_alignment: an area breaks the new alignment');
  });
});

describe('VFIO_IOMMU_GET_INFO (iommufd_vfio_iommu_get_info)', () => {
  it('a NULL argument → EFAULT (copy_from_user)', () => {
    const [r] = after(COMPAT, [{ op: 'VFIO_IOMMU_GET_INFO', args: null }]);
    failedAt(r, 'EFAULT iommufd_vfio_iommu_get_info: copy_from_user of a NULL argument');
  });
  it('argsz below offsetofend(iova_pgsizes) → EINVAL', () => {
    const [r] = after(COMPAT, [getInfo(15)]);
    failedAt(r, 'EINVAL iommufd_vfio_iommu_get_info: argsz below minsz');
  });
  it('no compat IOAS → ENODEV', () => {
    const [r] = runTrace([{ op: 'OPEN' }, getInfo(24)]).slice(1);
    failedAt(r, 'ENODEV get_compat_ioas: no compat IOAS is set');
  });
  it('the whole chain: argsz 72 (DMA_AVAIL 16 + IOVA_RANGE of one range 32) and cap_offset 24', () => {
    const ran = after(COMPAT, [getInfo(24), getInfo(72)]);
    expect(ran[0]?.out).toEqual({ argsz: 72n, flags: 3n, iova_pgsizes: 0xfffffffffffff000n, cap_offset: 0n });
    expect(ran[1]?.out['cap_offset']).toBe(24n);
  });
  it('argsz 16 gets the pre-capability struct only: no cap_offset written', () => {
    const [r] = after(COMPAT, [getInfo(16)]);
    expect(r?.out).toEqual({ argsz: 72n, flags: 3n, iova_pgsizes: 0xfffffffffffff000n });
  });
  it('a reserved range splits the IOVA space: one more range, 16 more bytes', () => {
    const ran = after(COMPAT, [{ op: 'TEST_ADD_RESERVED', args: { id: 1, start: '0x4000', length: '0x1000' } }, getInfo(24)]);
    expect(ran[1]?.out['argsz']).toBe(88n);
  });
  it('iova_pgsizes: the mock domain sizes with those below PAGE_SIZE folded into PAGE_SIZE', () => {
    const [, r] = after(COMPAT, [MOCK, getInfo(24)]);
    const { pgsizeBitmap } = mockDeviceModel(0n);
    expect(pgsizeBitmap & 0xfffn).not.toBe(0n);
    expect(r?.out['iova_pgsizes']).toBe((pgsizeBitmap & ~0xfffn) | 0x1000n);
  });
});

describe('VFIO_IOMMU_MAP_DMA (iommufd_vfio_map_dma)', () => {
  it('a NULL argument → EFAULT', () => {
    const [r] = after(COMPAT, [{ op: 'VFIO_IOMMU_MAP_DMA', args: null }]);
    failedAt(r, 'EFAULT iommufd_vfio_map_dma: copy_from_user of a NULL argument');
  });
  it('argsz below offsetofend(size) → EINVAL', () => {
    const [r] = after(COMPAT, [mapDma(IOVA, 0x1000n, { argsz: 31 })]);
    failedAt(r, 'EINVAL iommufd_vfio_map_dma: argsz below minsz or flags has unknown bits');
  });
  it('a flag other than READ/WRITE (VADDR) → EINVAL', () => {
    const [r] = after(COMPAT, [mapDma(IOVA, 0x1000n, { flags: 7 })]);
    failedAt(r, 'EINVAL iommufd_vfio_map_dma: argsz below minsz or flags has unknown bits');
  });
  it('no compat IOAS → ENODEV', () => {
    const [r] = runTrace([{ op: 'OPEN' }, mapDma(IOVA, 0x1000n)]).slice(1);
    failedAt(r, 'ENODEV get_compat_ioas: no compat IOAS is set');
  });
  it('neither READ nor WRITE is accepted (unlike IOAS_MAP), and nothing is written back', () => {
    const [r] = after(COMPAT, [mapDma(IOVA, 0x1000n, { flags: 0 })]);
    expect(r?.errno).toBe('ok');
    expect(r?.out).toEqual({});
  });
  it('size 0 → EINVAL (iopt_alloc_pages)', () => {
    const [r] = after(COMPAT, [mapDma(IOVA, 0n)]);
    failedAt(r, 'EINVAL iopt_alloc_pages: length is 0 or too large');
  });
  it('vaddr + size past the address space → EOVERFLOW (iopt_alloc_user_pages)', () => {
    const [r] = after(COMPAT, [{ op: 'VFIO_IOMMU_MAP_DMA', args: { flags: 3, vaddr: '0xfffffffffffff000', iova: hex(IOVA), size: '0x2000' } }]);
    failedAt(r, 'EOVERFLOW iopt_alloc_user_pages: uptr + length overflows');
  });
  it('an IOVA off the IOAS alignment → EINVAL (iopt_check_iova)', () => {
    const [, r] = after(COMPAT, [TYPE1, mapDma(IOVA + 0x800n, 0x1000n)]);
    failedAt(r, 'EINVAL iopt_check_iova: iova unaligned');
  });
  it('an overlapping mapping → EEXIST', () => {
    const ran = after(COMPAT, [mapDma(IOVA, 0x2000n), mapDma(IOVA + 0x1000n, 0x1000n)]);
    expect(errnos(ran)).toEqual(['ok', 'EEXIST']);
    failedAt(ran[1], 'EEXIST iopt_check_iova: range meets an area');
  });
  it('with a domain the pages are pinned at once and mapped where asked', () => {
    const ran = after(COMPAT, [
      MOCK,
      mapDma(IOVA, 0x2000n),
      { op: 'TEST_MD_CHECK_MAP', args: { id: 4, iova: hex(IOVA), length: '0x2000', uptr: hex(BUF) } },
      { op: 'TEST_MD_CHECK_REFS', args: { length: '0x2000', uptr: hex(BUF), refs: 1 } },
    ]);
    expect(errnos(ran)).toEqual(['ok', 'ok', 'ok', 'ok']);
  });
});

describe('VFIO_IOMMU_UNMAP_DMA (iommufd_vfio_unmap_dma)', () => {
  it('a NULL argument → EFAULT', () => {
    const [r] = after(COMPAT, [{ op: 'VFIO_IOMMU_UNMAP_DMA', args: null }]);
    failedAt(r, 'EFAULT iommufd_vfio_unmap_dma: copy_from_user of a NULL argument');
  });
  it('argsz below offsetofend(size) → EINVAL', () => {
    const [r] = after(COMPAT, [unmapDma(IOVA, 0x1000n, { argsz: 23 })]);
    failedAt(r, 'EINVAL iommufd_vfio_unmap_dma: argsz below minsz or flags has unknown bits');
  });
  it('a flag other than ALL (GET_DIRTY_BITMAP, VADDR) → EINVAL', () => {
    const ran = after(COMPAT, [unmapDma(IOVA, 0x1000n, { flags: 1 }), unmapDma(IOVA, 0x1000n, { flags: 4 })]);
    expect(checks(ran)).toEqual(Array(2).fill('EINVAL iommufd_vfio_unmap_dma: argsz below minsz or flags has unknown bits'));
  });
  it('no compat IOAS → ENODEV', () => {
    const [r] = runTrace([{ op: 'OPEN' }, unmapDma(IOVA, 0x1000n)]).slice(1);
    failedAt(r, 'ENODEV get_compat_ioas: no compat IOAS is set');
  });
  it('ALL with a non-zero iova or size → EINVAL, nothing written back', () => {
    const ran = after(COMPAT, [mapDma(IOVA, 0x1000n), unmapDma(0n, 0x1000n, { flags: 2 })]);
    failedAt(ran[1], 'EINVAL iommufd_vfio_unmap_dma: unmap all with a non-zero iova or size');
    expect(ran[1]?.out).toEqual({});
  });
  it('ALL removes every mapping, and succeeds on an empty IOAS (iopt_unmap_all)', () => {
    const ran = after(COMPAT, [mapDma(IOVA, 0x1000n), mapDma(IOVA + 0x4000n, 0x2000n), unmapDma(0n, 0n, { flags: 2 }), unmapDma(0n, 0n, { flags: 2 })]);
    expect(ran.slice(2).map((r) => r.out)).toEqual([{ size: 0x3000n }, { size: 0n }]);
    expect(areas(ran[2])).toEqual([]);
  });
  it('a range with no mapping succeeds with size 0 (iopt_unmap_iova_range)', () => {
    const [r] = after(COMPAT, [unmapDma(IOVA, 0x1000n)]);
    expect(r?.errno).toBe('ok');
    expect(r?.out).toEqual({ size: 0n });
  });
  it('size 0 → EINVAL with size 0 written back (iopt_unmap_iova)', () => {
    const [r] = after(COMPAT, [unmapDma(IOVA, 0n)]);
    expect(r?.outcome.result?.check).toBe('EINVAL iopt_unmap_iova: length is 0');
    expect(r?.out).toEqual({ size: 0n });
  });
  it('iova + size - 1 past U64_MAX → EOVERFLOW with size 0 written back', () => {
    const [r] = after(COMPAT, [unmapDma(0x1000n, (1n << 64n) - 1n)]);
    expect(r?.outcome.result?.check).toBe('EOVERFLOW iopt_unmap_iova: iova + length overflows');
    expect(r?.out).toEqual({ size: 0n });
  });
  it('TYPE1v2: a range that cuts a mapping → ENOENT, keeping the mappings removed before it', () => {
    const ran = after(COMPAT, [TYPE1V2, mapDma(IOVA, 0x1000n), mapDma(IOVA + 0x2000n, 0x2000n), unmapDma(IOVA, 0x3000n)]);
    const r = ran[3];
    expect(r?.outcome.result?.check).toBe('ENOENT iopt_unmap_iova_range: an area straddles the range');
    expect(r?.out).toEqual({ size: 0x1000n });
    expect(areas(r)).toEqual([[IOVA + 0x2000n, IOVA + 0x3fffn]]);
  });
  it('TYPE1: a range inside a mapping is cut out of it (iopt_cut_iova)', () => {
    const ran = after(COMPAT, [TYPE1, mapDma(IOVA, 0x4000n), unmapDma(IOVA + 0x1000n, 0x1000n)]);
    expect(ran[2]?.out).toEqual({ size: 0x1000n });
    expect(areas(ran[2])).toEqual([
      [IOVA, IOVA + 0xfffn],
      [IOVA + 0x2000n, IOVA + 0x3fffn],
    ]);
  });
  it('TYPE1 with a domain: the halves stay mapped and pinned, the hole is unpinned', () => {
    const ran = after(COMPAT, [
      MOCK,
      TYPE1,
      mapDma(IOVA, 0x4000n),
      unmapDma(IOVA + 0x1000n, 0x1000n),
      { op: 'TEST_MD_CHECK_MAP', args: { id: 4, iova: hex(IOVA), length: '0x1000', uptr: hex(BUF) } },
      { op: 'TEST_MD_CHECK_MAP', args: { id: 4, iova: hex(IOVA + 0x2000n), length: '0x2000', uptr: hex(BUF + 0x2000n) } },
      { op: 'TEST_MD_CHECK_REFS', args: { length: '0x1000', uptr: hex(BUF), refs: 1 } },
      { op: 'TEST_MD_CHECK_REFS', args: { length: '0x1000', uptr: hex(BUF + 0x1000n), refs: 0 } },
      { op: 'TEST_MD_CHECK_REFS', args: { length: '0x2000', uptr: hex(BUF + 0x2000n), refs: 1 } },
      { op: 'CHECK', args: { what: 'pinned_vm', value: '0x3000' } },
      unmapDma(0n, 0n, { flags: 2 }),
      { op: 'TEST_MD_CHECK_REFS', args: { length: '0x4000', uptr: hex(BUF), refs: 0 } },
      { op: 'CHECK', args: { what: 'pinned_vm', value: '0' } },
    ]);
    expect(errnos(ran)).toEqual(Array(13).fill('ok'));
    expect(ran[10]?.out).toEqual({ size: 0x3000n });
  });
  it('TYPE1: a cut at an area\'s first byte is no cut (iopt_area_split), so the unmap → ENOENT', () => {
    const ran = after(COMPAT, [TYPE1, mapDma(IOVA, 0x4000n), unmapDma(IOVA + 1n, 0x1fffn)]);
    expect(ran[2]?.outcome.result?.check).toBe('ENOENT iopt_unmap_iova_range: an area straddles the range');
    expect(ran[2]?.out).toEqual({ size: 0n });
    expect(areas(ran[2])).toEqual([
      [IOVA, IOVA + 0x1fffn],
      [IOVA + 0x2000n, IOVA + 0x3fffn],
    ]);
  });
  it('TYPE1: a cut off the IOVA alignment → EINVAL (iopt_area_split), nothing written back', () => {
    const ran = after(COMPAT, [TYPE1, mapDma(IOVA, 0x4000n), unmapDma(IOVA + 0x1000n, 0x800n)]);
    failedAt(ran[2], 'EINVAL iopt_area_split: split point unaligned');
    expect(ran[2]?.out).toEqual({});
  });
  it('TYPE1: when the second cut fails the first one stays (a partial effect)', () => {
    const ran = after(COMPAT, [TYPE1, mapDma(IOVA, 0x4000n), unmapDma(IOVA + 0x800n, 0x1800n)]);
    expect(ran[2]?.outcome.result?.check).toBe('EINVAL iopt_area_split: split point unaligned');
    expect(areas(ran[2])).toEqual([
      [IOVA, IOVA + 0x1fffn],
      [IOVA + 0x2000n, IOVA + 0x3fffn],
    ]);
  });
  it('TYPE1: an area an access pinned is not split → EINVAL', () => {
    const ran = after(COMPAT, [
      TYPE1,
      mapDma(IOVA, 0x4000n),
      { op: 'TEST_CREATE_ACCESS', args: { id: 1, flags: 1 } },
      { op: 'TEST_ACCESS_PAGES', args: { id: 4, flags: 0, iova: hex(IOVA), length: '0x1000', uptr: hex(BUF) } },
      unmapDma(IOVA + 0x1000n, 0x1000n),
    ]);
    expect(errnos(ran)).toEqual(['ok', 'ok', 'ok', 'ok', 'EINVAL']);
    failedAt(ran[4], 'EINVAL iopt_area_split: area has accesses');
  });
});

describe('the legacy ioctls by raw number (iommufd_fops_ioctl → iommufd_vfio_ioctl)', () => {
  it('runs the container ioctl the number names: GET_API_VERSION answers 0', () => {
    const [r] = after(COMPAT, [{ op: 'IOCTL', args: { cmd: '0x3b64' } }]);
    expect(r?.errno).toBe('ok');
    expect(ret(r)).toBe(0n);
  });
  it('a struct ioctl reads zeroed memory (argsz 0 → EINVAL), or faults on NULL (EFAULT)', () => {
    const ran = after(COMPAT, [
      { op: 'IOCTL', args: { cmd: '0x3b70' } },
      { op: 'IOCTL', args: { cmd: '0x3b71' } },
      { op: 'IOCTL', args: { cmd: '0x3b72', arg: null } },
    ]);
    expect(checks(ran)).toEqual([
      'EINVAL iommufd_vfio_iommu_get_info: argsz below minsz',
      'EINVAL iommufd_vfio_map_dma: argsz below minsz or flags has unknown bits',
      'EFAULT iommufd_vfio_unmap_dma: copy_from_user of a NULL argument',
    ]);
  });
  it('a value ioctl reads the argument itself', () => {
    const ran = after(COMPAT, [{ op: 'IOCTL', args: { cmd: '0x3b65', arg: 3 } }, { op: 'IOCTL', args: { cmd: '0x3b66' } }]);
    expect(ret(ran[0])).toBe(1n);
    expect(ran[1]?.errno).toBe('EINVAL');
  });
  it('a container number iommufd does not emulate (ENABLE, DIRTY_PAGES) → ENOTTY', () => {
    const ran = after(COMPAT, [{ op: 'IOCTL', args: { cmd: '0x3b73' } }, { op: 'IOCTL', args: { cmd: '0x3b75' } }]);
    expect(errnos(ran)).toEqual(['ENOTTY', 'ENOTTY']);
  });
});

describe('/dev/vfio/vfio served by iommufd (env.vfio.container "iommufd", iommufd_fops_open)', () => {
  it('the context starts in MM accounting mode', () => {
    const ran = runTrace(
      [
        { op: 'OPEN', args: { path: '/dev/vfio/vfio' } },
        { op: 'OPTION', fd: 3, args: { option_id: 0, op: 1 } },
        { op: 'OPEN' },
        { op: 'OPTION', fd: 4, args: { option_id: 0, op: 1 } },
      ],
      IOMMUFD_CONTAINER,
    );
    expect([ran[1]?.out, ran[3]?.out]).toEqual([{ val64: 1n }, { val64: 0n }]);
  });
  it('is not a /dev/iommu fd: an iommufd op without fd goes to the lowest /dev/iommu one', () => {
    const ran = runTrace(
      [
        { op: 'OPEN', args: { path: '/dev/vfio/vfio' } },
        { op: 'IOAS_ALLOC' },
        { op: 'OPEN' },
        { op: 'IOAS_ALLOC' },
        { op: 'VFIO_IOAS', fd: 3, args: { op: 0 } },
        { op: 'VFIO_IOAS', args: { ioas_id: 1, op: 1 } },
        { op: 'VFIO_GET_API_VERSION', fd: 3 },
      ],
      IOMMUFD_CONTAINER,
    );
    expect(errnos(ran)).toEqual(['ok', 'EBADF', 'ok', 'ok', 'ENODEV', 'ok', 'ok']);
  });
  it('a container op without fd goes to the lowest container fd (format 1.1), before any /dev/iommu fd', () => {
    const ran = runTrace(
      [
        { op: 'OPEN' },
        { op: 'IOAS_ALLOC' },
        { op: 'VFIO_IOAS', args: { ioas_id: 1, op: 1 } },
        { op: 'OPEN', args: { path: '/dev/vfio/vfio' } },
        { op: 'VFIO_SET_IOMMU', args: { arg: 3 } },
        { op: 'VFIO_SET_IOMMU', fd: 3, args: { arg: 3 } },
      ],
      IOMMUFD_CONTAINER,
    );
    // fd 4's context has no compat IOAS; fd 3's has.
    expect(checks(ran.slice(4))).toEqual(['ENODEV get_compat_ioas: no compat IOAS is set', 'ok']);
  });
  it('without env.vfio the node is the native container: iommufd ops on it find no driver (EINVAL)', () => {
    const ran = runTrace([{ op: 'OPEN', args: { path: '/dev/vfio/vfio' } }, { op: 'VFIO_IOAS', fd: 3, args: { op: 0 } }]);
    failedAt(ran[1], 'EINVAL vfio_fops_unl_ioctl: no IOMMU driver is set');
  });
});
