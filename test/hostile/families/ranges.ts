/**
 * Huge ranges: 1 TiB of memory mapped, forked, touched and checked page by page in the kernel's
 * terms (where a model that kept pages would hang); dirty bitmaps of a HWPT and of a type1
 * container over gigabytes to terabytes, at page sizes from 1 byte up; and sequences of the ops
 * that take an address or a length (every op with a 64-bit input, read from the op plans) with values at the
 * edges of the address space: near 2^64, wrapping past it, 1 TiB, 128 TiB.
 */
import { PLANS } from '../../../events/op-plan.ts';
import type { Bases } from '../bases.ts';
import { BIG } from '../edge-values.ts';
import { fileOf, type Made } from '../hostile-file.ts';
import { type Json, setAt, text } from '../json-text.ts';
import { PLACES, type Place } from '../places.ts';
import type { Rng } from '../rng.ts';

const TIB = '0x10000000000';
const BASE = '0x7f0000000000';

/** The inputs of each op that takes a 64-bit number. */
const WIDE: ReadonlyMap<string, readonly Place[]> = new Map(
  [...PLANS.keys()]
    .map((op): [string, Place[]] => [op, PLACES.filter((p) => p.line === op && p.path[0] === 'args' && p.path.length === 2)])
    .filter(([, places]) => places.some((p) => p.hint.kind === 'int' && p.hint.bits === 64)),
);

/** A value for one input: an edge of the address space for a wide number, a small id for a narrow one. */
function valueOf(rng: Rng, place: Place): Json | undefined {
  const { kind, bits, names = [] } = place.hint;
  if (kind === 'int' && bits === 64) return rng.pick([...BIG, BASE, TIB, `0x${(0x7f0000000000 + 0x10000000000).toString(16)}`]);
  if (kind === 'int') return rng.between(0, 8);
  if (kind === 'flags') return names.filter(() => rng.chance(0.6));
  if (kind === 'enum') return rng.pick(names);
  if (kind === 'bool') return rng.chance(0.5);
  return undefined;
}

function wideEvent(rng: Rng, ops: readonly string[]): string {
  const op = rng.pick(ops);
  let event: Json = { op };
  for (const place of WIDE.get(op) ?? []) {
    const value = rng.chance(0.8) ? valueOf(rng, place) : undefined;
    if (value !== undefined) event = setAt(event, place.path, value);
  }
  if (rng.chance(0.3)) event = setAt(event, ['pid'], rng.pick([1, 2]));
  return text(event);
}

const header = (rng: Rng): string =>
  text({ trace: 'iommufd', version: '1.1', env: rng.chance(0.3) ? { page_size: 65536, hugepage_size: 16777216 } : {} });

/** `MMAP` of 1 TiB, `FORK`, a write `TOUCH` of all of it and `TEST_MD_CHECK_REFS` over all of it, in a few variants. */
function terabyte(rng: Rng): Made {
  const shared = rng.chance(0.5);
  const hugepage = rng.chance(0.3);
  const who = rng.pick([1, 2]);
  const lines = [
    header(rng),
    '{"op":"OPEN","expect":{"out":{"fd":3}}}',
    '{"op":"IOAS_ALLOC","expect":{"out":{"out_ioas_id":1}}}',
    text({ op: 'MMAP', args: { addr: BASE, length: TIB, shared, hugepage, populate: rng.chance(0.3) }, expect: { out: { addr: BASE } } }),
    ...(rng.chance(0.5) ? ['{"op":"TEST_MOCK_DOMAIN","args":{"id":1}}', text({ op: 'IOAS_MAP', args: { ioas_id: 1, flags: ['READABLE', 'WRITEABLE'], user_va: BASE, length: TIB } })] : []),
    '{"op":"FORK","expect":{"out":{"pid":2}}}',
    text({ op: 'TOUCH', pid: who, args: { addr: BASE, length: TIB, write: true } }),
    text({ op: 'TOUCH', pid: 3 - who, args: { addr: BASE, length: rng.pick([TIB, 'U64_MAX', '0x1000']), write: rng.chance(0.5) } }),
    text({ op: 'TEST_MD_CHECK_REFS', args: { length: TIB, uptr: BASE, refs: rng.between(0, 2) } }),
    text({ op: 'TEST_MD_CHECK_REFS', args: { length: '0x7f4000000000', uptr: '0x1000', refs: 0 } }),
    '{"op":"CHECK","args":{"what":"pinned_vm","value":0}}',
    text({ op: 'MUNMAP', pid: who, args: { addr: BASE, length: TIB } }),
    '{"op":"EXIT","args":{"pid":2}}',
  ];
  return { what: `1 TiB ${shared ? 'shared' : 'private'}${hugepage ? ' hugepage' : ''}, FORK, TOUCH by pid ${who}, TEST_MD_CHECK_REFS`, content: fileOf(lines) };
}

const PAGE_SIZES = [1, 2, 512, 4096, 65536, 1 << 20, 1 << 30, '0x8000000000000000', 0, 3];

/**
 * Dirty tracking over a large range: a mock HWPT tracking 1 GiB, every page dirtied from an
 * inline bitmap, then read back at page sizes from 1 byte to 2^63, over the range or past it.
 */
function dirtyHwpt(rng: Rng): Made {
  const pageSize = rng.pick(PAGE_SIZES);
  const length = rng.pick(['0x40000000', '0x100000000', '0xffffffffc0000000', '0x1000']);
  const lines = [
    header(rng),
    '{"op":"OPEN"}',
    '{"op":"IOAS_ALLOC"}',
    '{"op":"TEST_MOCK_DOMAIN","args":{"id":1}}',
    text({ op: 'MMAP', args: { addr: BASE, length: '0x40000000', hugepage: rng.chance(0.5) } }),
    text({ op: 'IOAS_MAP', args: { ioas_id: 1, flags: ['FIXED_IOVA', 'READABLE', 'WRITEABLE'], user_va: BASE, length: '0x40000000', iova: '0x40000000' } }),
    '{"op":"HWPT_ALLOC","args":{"dev_id":3,"pt_id":1,"flags":["DIRTY_TRACKING"]}}',
    '{"op":"HWPT_SET_DIRTY_TRACKING","args":{"hwpt_id":5,"flags":["ENABLE"]}}',
    text({ op: 'TEST_DIRTY', args: { id: 5, iova: '0x40000000', length: '0x40000000', page_size: 4096, data: `0x${rng.pick(['ff', '55', '80']).repeat(1 << 15)}` } }),
    text({ op: 'HWPT_GET_DIRTY_BITMAP', args: { hwpt_id: 5, iova: '0x40000000', length, page_size: pageSize, flags: ['NO_CLEAR'], data: BASE } }),
    text({ op: 'HWPT_GET_DIRTY_BITMAP', args: { hwpt_id: 5, iova: rng.pick(['0x0', '0x40000000']), length, page_size: rng.pick(PAGE_SIZES), data: BASE } }),
  ];
  return { what: `HWPT dirty bitmap of ${length} bytes at page size ${pageSize}`, content: fileOf(lines) };
}

/** A type1 container tracking dirty pages of up to 8 TiB mapped, read back with bitmaps up to the kernel's largest. */
function dirtyType1(rng: Rng): Made {
  const size = rng.pick(['0x40000000', '0x10000000000', '0x7fffffff000', '0x80000000000']);
  const bitmapSize = rng.pick(['0x8000', '0x2000000', '0x10000000', '0x10000008', '0xffffffffffffffff']);
  const lines = [
    '{"trace":"iommufd","version":"1.1","env":{"devices":[{"name":"d","kind":"intel-vtd","group":8}]}}',
    '{"op":"OPEN","args":{"path":"/dev/vfio/vfio"}}',
    '{"op":"OPEN","args":{"path":"/dev/vfio/8"}}',
    '{"op":"VFIO_GROUP_SET_CONTAINER","fd":4,"args":{"container_fd":3}}',
    '{"op":"VFIO_SET_IOMMU","fd":3,"args":{"arg":"TYPE1v2_IOMMU"}}',
    '{"op":"MMAP","args":{"addr":"0x100000000000","length":"0x80000000000"}}',
    text({ op: 'VFIO_IOMMU_MAP_DMA', fd: 3, args: { flags: ['READ', 'WRITE'], vaddr: '0x100000000000', iova: '0x100000000', size } }),
    '{"op":"VFIO_IOMMU_DIRTY_PAGES","fd":3,"args":{"flags":["START"]}}',
    text({ op: 'VFIO_IOMMU_DIRTY_PAGES', fd: 3, args: { flags: ['GET_BITMAP'], iova: '0x100000000', size, bitmap: { pgsize: rng.pick([4096, 1, 0]), size: bitmapSize, data: '0x100000000000' } } }),
    text({ op: 'VFIO_IOMMU_UNMAP_DMA', fd: 3, args: { flags: rng.pick([['GET_DIRTY_BITMAP'], ['ALL']]), iova: '0x100000000', size } }),
  ];
  return { what: `type1 dirty bitmap over ${size} bytes, bitmap size ${bitmapSize}`, content: fileOf(lines) };
}

export function ranges(rng: Rng, _bases: Bases): Made {
  const scenario = rng.int(10);
  if (scenario < 3) return terabyte(rng);
  if (scenario === 3) return dirtyHwpt(rng);
  if (scenario === 4) return dirtyType1(rng);
  const ops = [...WIDE.keys()];
  const setup = [
    header(rng),
    '{"op":"OPEN"}',
    '{"op":"IOAS_ALLOC"}',
    text({ op: 'MMAP', args: { addr: BASE, length: rng.pick([TIB, '0x40000000', '0x800000000000']) } }),
    '{"op":"TEST_MOCK_DOMAIN","args":{"id":1}}',
    '{"op":"TEST_CREATE_ACCESS","args":{"id":1}}',
    '{"op":"MEMFD_CREATE"}',
  ];
  const events = Array.from({ length: rng.between(3, 14) }, () => wideEvent(rng, ops));
  const names = events.map((e) => (JSON.parse(e) as { op: string }).op);
  return { what: `huge ranges: ${names.join(' ')}`, content: fileOf([...setup, ...events]) };
}
