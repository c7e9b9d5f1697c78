/**
 * The IOVA space of an IOAS (`drivers/iommu/iommufd/io_pagetable.c`): areas, allowed and
 * reserved ranges, and the alignment every area must keep. Pure functions from one
 * `IoPagetable` to the next; errors are returned as `Fail`.
 */
import { Fail, fail } from '../../model/fail.ts';
import { injected } from '../../model/fault-injection.ts';
import { allocIova } from './iova-alloc.ts';
import { GapTree } from '../../model/gap-tree.ts';
import { OrderedMap } from '../../model/ordered-map.ts';
import { U64_MAX, firstIntersecting, spansOf } from '../../model/ranges.ts';
import type { Area, IoPagetable, ModelConfig, Pages, Range, ReservedRange } from '../../model/world.ts';

export const IOMMU_READ = 1;
export const IOMMU_WRITE = 2;

export function emptyIopt(): IoPagetable {
  return {
    areas: OrderedMap.empty(),
    allowed: OrderedMap.empty(),
    reserved: [],
    reservedSpans: OrderedMap.empty(),
    used: GapTree.EMPTY,
    iovaAlignment: 1n,
  };
}

/** Tags in the used-span tree: with the reserved check off, an area may start where a reserved span does. */
const RESERVED = 0;
const AREA = 1;

export interface UsedChange {
  readonly removed?: readonly Area[];
  readonly added?: readonly Area[];
  /** The whole new list of reservations. */
  readonly reserved?: readonly ReservedRange[];
}

/**
 * The one way the used IOVA space changes: the area map, the reservations with their merged
 * spans, and the used-span tree the allocator searches move together. Areas leave before
 * others join, so a split area may hand its start to its left half.
 */
export function changeUsed(iopt: IoPagetable, change: UsedChange): IoPagetable {
  let { areas, reserved, reservedSpans, used } = iopt;
  for (const area of change.removed ?? []) {
    areas = areas.delete(area.start);
    used = used.without(area.start, AREA);
  }
  for (const area of change.added ?? []) {
    areas = areas.set(area.start, area);
    used = used.with(area, AREA);
  }
  if (change.reserved !== undefined) {
    reserved = change.reserved;
    const spans = spansOf(reserved);
    for (const r of reservedSpans.values()) if (spans.get(r.start)?.last !== r.last) used = used.without(r.start, RESERVED);
    for (const r of spans.values()) if (reservedSpans.get(r.start)?.last !== r.last) used = used.with(r, RESERVED);
    reservedSpans = spans;
  }
  return { ...iopt, areas, reserved, reservedSpans, used };
}

/** `check_add_overflow(a, b - 1, &last)`: the last byte of `[a, a + b)`, or null on 64-bit overflow. */
export function lastOf(start: bigint, length: bigint): bigint | null {
  const last = start + length - 1n;
  return last > U64_MAX ? null : last;
}

/** `iopt_check_iova()`: may a FIXED_IOVA range be placed at `iova`? */
export function checkIova(iopt: IoPagetable, config: ModelConfig, iova: bigint, length: bigint): Fail | bigint {
  if ((iova & (iopt.iovaAlignment - 1n)) !== 0n) return fail('EINVAL', 'iopt_check_iova', 'iova unaligned');
  const last = lastOf(iova, length);
  if (last === null) return fail('EOVERFLOW', 'iopt_check_iova', 'iova + length overflows');
  if (!config.bugs.has('fixed-map-ignores-reserved') && firstIntersecting(iopt.reservedSpans, iova, last) !== undefined) {
    return fail('EINVAL', 'iopt_check_iova', 'range meets a reserved range');
  }
  const probe = config.bugs.has('overlap-off-by-one') ? last - 1n : last;
  if (firstIntersecting(iopt.areas, iova, probe) !== undefined) return fail('EEXIST', 'iopt_check_iova', 'range meets an area');
  return last;
}

/** One contiguous run of bytes of a pages object, to become one area (`struct iopt_pages_list`). */
export interface Piece {
  readonly pages: Pages;
  /** Offset from the page-aligned start of `pages`. */
  readonly startByte: bigint;
  readonly length: bigint;
}

/** The page-aligned address (user VA or file offset) a pages object starts at. */
export function pagesBase(pages: Pages, pageSize: bigint): bigint {
  return pages.start - (pages.start % pageSize);
}

/**
 * `iopt_alloc_area_pages()` + `iopt_insert_area()`: place `pieces` back to back at `iova`
 * (or at an automatic IOVA when `iova` is null) as new areas. All or nothing.
 */
export function insertAreas(
  iopt: IoPagetable,
  config: ModelConfig,
  pieces: readonly Piece[],
  length: bigint,
  iova: bigint | null,
  prot: number,
): Fail | { readonly iopt: IoPagetable; readonly iova: bigint; readonly areas: readonly Area[] } {
  const align = iopt.iovaAlignment;
  if ((length & (align - 1n)) !== 0n || length === 0n) return fail('EINVAL', 'iopt_alloc_area_pages', 'length unaligned or 0');
  let dst: bigint;
  if (iova === null) {
    // The first piece's source address guesses the ideal alignment.
    const first = pieces[0];
    if (first === undefined) return fail('EINVAL', 'iopt_alloc_area_pages', 'no pages to map');
    const chosen = allocIova(iopt, config, pagesBase(first.pages, config.pageSize) + first.startByte, length);
    if (chosen instanceof Fail) return chosen;
    dst = chosen;
  } else {
    const checked = checkIova(iopt, config, iova, length);
    if (checked instanceof Fail) return checked;
    dst = iova;
  }
  const added: Area[] = [];
  let at = dst;
  for (const piece of pieces) {
    // iopt_area_alloc() for each piece.
    const nomem = injected();
    if (nomem !== null) return nomem;
    if ((prot & IOMMU_WRITE) !== 0 && !piece.pages.writable && !config.bugs.has('copy-ignores-readonly')) return fail('EPERM', 'iopt_insert_area', 'write to read-only pages');
    const pageOffset = piece.startByte % config.pageSize;
    if ((pageOffset & (align - 1n)) !== 0n) return fail('EINVAL', 'iopt_insert_area', 'page offset unaligned');
    const last = lastOf(at, piece.length);
    if (last === null || lastOf(piece.startByte, piece.length) === null) return fail('EOVERFLOW', 'iopt_insert_area', 'iova or start byte + length overflows');
    added.push({ start: at, last, pages: piece.pages.id, startByte: piece.startByte, prot });
    at = last + 1n;
  }
  return { iopt: changeUsed(iopt, { added }), iova: dst, areas: added };
}

/** The `n`th area in IOVA order (from 0), by walking them as `iopt_area_iter_next()` does: the btree has no rank query. */
export function nthArea(iopt: IoPagetable, n: bigint): Area | undefined {
  let left = n;
  for (const area of iopt.areas.values()) {
    if (left === 0n) return area;
    left--;
  }
  return undefined;
}

/** `iopt_reserve_iova()`: reserved space may not cover an area or an allowed range. */
export function reserve(iopt: IoPagetable, range: ReservedRange): Fail | IoPagetable {
  if (
    firstIntersecting(iopt.areas, range.start, range.last) !== undefined ||
    firstIntersecting(iopt.allowed, range.start, range.last) !== undefined
  ) {
    return fail('EADDRINUSE', 'iopt_reserve_iova', 'range meets an area or an allowed range');
  }
  return changeUsed(iopt, { reserved: [...iopt.reserved, range] });
}

/** `iopt_remove_reserved_iova()`: drop every reservation of `owner`. */
export function unreserve(iopt: IoPagetable, owner: string): IoPagetable {
  const reserved = iopt.reserved.filter((r) => r.owner !== owner);
  if (reserved.length === iopt.reserved.length) return iopt;
  return changeUsed(iopt, { reserved });
}

/**
 * `iopt_set_allow_iova()`: replace the allowed list; EADDRINUSE (old list kept) when a new
 * range meets a reserved one.
 */
export function setAllowed(iopt: IoPagetable, ranges: readonly Range[]): Fail | IoPagetable {
  for (const r of ranges) {
    if (firstIntersecting(iopt.reservedSpans, r.start, r.last) !== undefined) {
      return fail('EADDRINUSE', 'iopt_set_allow_iova', 'an allowed range meets a reserved range');
    }
  }
  return { ...iopt, allowed: OrderedMap.of(ranges.map((r) => [r.start, r] as const)) };
}

/**
 * `iopt_check_iova_alignment()`: raising the alignment needs every area's IOVA, length and
 * page offset to be multiples of it (EADDRINUSE otherwise).
 */
export function conformsTo(iopt: IoPagetable, config: ModelConfig, alignment: bigint): boolean {
  const mask = alignment - 1n;
  for (const area of iopt.areas.values()) {
    const length = area.last - area.start + 1n;
    if ((area.start & mask) !== 0n || (length & mask) !== 0n || ((area.startByte % config.pageSize) & mask) !== 0n) {
      return false;
    }
  }
  return true;
}
