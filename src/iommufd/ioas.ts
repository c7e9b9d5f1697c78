/**
 * IOAS ioctls (`drivers/iommu/iommufd/ioas.c`). Each handler follows its kernel function's
 * check order, so the first failing check decides the errno.
 */
import { putContext } from './main/context.ts';
import type { Fields, Value } from '../../events/types.ts';
import { nextRecord, initialRecord } from '../../machines/adapter.ts';
import { ioasMachine } from '../../machines/ioas.machine.ts';
import { type Call, type Result, big, num, ok, partial, refuse } from '../model/command.ts';
import { Fail, fail } from '../model/fail.ts';
import {
  IOMMU_READ,
  IOMMU_WRITE,
  type Piece,
  checkIova,
  emptyIopt,
  insertAreas,
  lastOf,
  pagesBase,
  changeUsed,
  setAllowed,
} from './io-pagetable/io-pagetable.ts';
import { areaHasAccesses, heldAreas, notifyUnmap } from './device/access.ts';
import { addAreaRefs, addHold, allocDmabufPages, allocFilePages, allocUserPages, areaHoldKey, areaIndexes, changeProcess, dropAreaRefs, dropHoldGroups, groupHold } from './pages/pages.ts';
import { fileOf } from '../mm/files.ts';
import { injected } from '../model/fault-injection.ts';
import { allocId } from './main/object-table.ts';
import { revise } from '../model/revise.ts';
import { U64_MAX, firstIntersecting, holes, intersecting, spansOf } from '../model/ranges.ts';
import { MOCK_FLAGS_ACCESS_SYZ, syzIova } from './selftest/syz-iova.ts';
import { userMemoryWritable } from '../mm/user-memory.ts';
import { hasOlder } from '../kernel/profile.ts';
import type { Area, Ctx, Ioas, IoPagetable, Pages, Range, World } from '../model/world.ts';

export const IOMMU_IOAS_MAP_FIXED_IOVA = 1n;
export const IOMMU_IOAS_MAP_WRITEABLE = 2n;
export const IOMMU_IOAS_MAP_READABLE = 4n;
const MAP_FLAGS = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE;
const ULONG_MAX = U64_MAX;

/** An IOAS the command already holds (looked up earlier in it); its absence is a model bug. */
export function ioasIn(ctx: Ctx, id: number): Ioas {
  const obj = ctx.objects.get(id);
  if (obj?.type !== 'ioas') throw new Error(`[iommufd-model] IOAS ${id} vanished mid-command`);
  return obj;
}

/** `iommufd_get_ioas()`: absent or not an IOAS → ENOENT. */
export function getIoas(ctx: Ctx, id: number): Ioas | Fail {
  // iommufd_get_object() is an iommufd_should_fail() site on test kernels.
  const injectedFail = injected('ENOENT', 'iommufd_get_object');
  if (injectedFail !== null) return injectedFail;
  const obj = ctx.objects.get(id);
  return obj !== undefined && obj.type === 'ioas' ? obj : fail('ENOENT', 'iommufd_get_object', 'no IOAS with this id');
}


/** The context with `ioas` stored in its object table. */
export function putIoas(ctx: Ctx, ioas: Ioas): Ctx {
  return revise(ctx, (d) => {
    d.objects = ctx.objects.set(ioas.id, ioas);
  });
}

/**
 * The IOAS with a new IO page table. Its lifecycle (empty ↔ populated) is told how many areas
 * it now holds only when that count crosses zero: no other count can move it.
 */
export function withIopt(ioas: Ioas, iopt: IoPagetable): Ioas {
  if (iopt === ioas.iopt) return ioas;
  const crosses = (iopt.areas.size === 0) !== (ioas.iopt.areas.size === 0);
  return revise(ioas, (d) => {
    d.iopt = iopt;
    if (crosses) d.lifecycle = nextRecord(ioasMachine, ioas.lifecycle, { type: 'AREAS_CHANGED', count: iopt.areas.size });
  });
}

const conv = (flags: bigint): number =>
  ((flags & IOMMU_IOAS_MAP_WRITEABLE) !== 0n ? IOMMU_WRITE : 0) | ((flags & IOMMU_IOAS_MAP_READABLE) !== 0n ? IOMMU_READ : 0);

/** `iommufd_ioas_alloc()`: an empty IOAS. */
export const newIoas = (id: number): Ioas => ({
  type: 'ioas',
  id,
  lifecycle: initialRecord(ioasMachine),
  iopt: emptyIopt(),
  hugePagesDisabled: false,
  domains: [],
  accesses: [],
});

export function ioasAlloc(call: Call, ctx: Ctx, cmd: Fields): Result {
  if (big(cmd, 'flags') !== 0n) return refuse(call, fail('EOPNOTSUPP', 'iommufd_ioas_alloc_ioctl', 'flags is not zero'));
  const id = allocId(ctx.objects, call.choices, 'out_ioas_id');
  if (id instanceof Fail) return refuse(call, id);
  return ok(putContext(call.world, putIoas(ctx, newIoas(id))), { out_ioas_id: BigInt(id) });
}

/** `iommufd_ioas_iova_ranges()`: the holes of the reserved set; EMSGSIZE after writing back when they do not fit. */
export function ioasIovaRanges(call: Call, ctx: Ctx, cmd: Fields): Result {
  if (big(cmd, '__reserved') !== 0n) return refuse(call, fail('EOPNOTSUPP', 'iommufd_ioas_iova_ranges', '__reserved is not zero'));
  const ioas = getIoas(ctx, num(cmd, 'ioas_id'));
  if (ioas instanceof Fail) return refuse(call, ioas);
  const max = num(cmd, 'num_iovas');
  const buffer = cmd['allowed_iovas'];
  const written: Fields[] = [];
  let count = 0;
  for (const hole of holes([ioas.iopt.reservedSpans], 0n, ULONG_MAX)) {
    if (count < max) {
      const at = (typeof buffer === 'bigint' ? buffer : 0n) + BigInt(count) * 16n;
      if (!userMemoryWritable(call.world, call.process, at, 16n)) {
        return refuse(call, fail('EFAULT', 'iommufd_ioas_iova_ranges', 'copy_to_user of allowed_iovas faults'));
      }
      written.push({ start: hole.start, last: hole.last });
    }
    count++;
  }
  const out = {
    num_iovas: BigInt(count),
    out_iova_alignment: ioas.iopt.iovaAlignment,
    allowed_iovas: written,
  };
  if (count > max) return refuse(call, fail('EMSGSIZE', 'iommufd_ioas_iova_ranges', 'more ranges than num_iovas'), out);
  return ok(call.world, out);
}

/** `iommufd_ioas_load_iovas()` then `iopt_set_allow_iova()`. */
export function ioasAllowIovas(call: Call, ctx: Ctx, cmd: Fields): Result {
  if (big(cmd, '__reserved') !== 0n) return refuse(call, fail('EOPNOTSUPP', 'iommufd_ioas_allow_iovas', '__reserved is not zero'));
  const ioas = getIoas(ctx, num(cmd, 'ioas_id'));
  if (ioas instanceof Fail) return refuse(call, ioas);
  const count = num(cmd, 'num_iovas');
  const entries = cmd['allowed_iovas'];
  const ranges: Range[] = [];
  for (let i = 0; i < count; i++) {
    const entry = Array.isArray(entries) ? (entries as readonly Value[])[i] : undefined;
    // Entries past the inline array are memory the trace did not give: the copy faults.
    if (entry === undefined || entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
      return refuse(call, fail('EFAULT', 'iommufd_ioas_load_iovas', 'copy_from_user of an entry faults'));
    }
    const range = { start: big(entry as Fields, 'start'), last: big(entry as Fields, 'last') };
    if (range.start >= range.last) return refuse(call, fail('EINVAL', 'iommufd_ioas_load_iovas', 'start is not below last'));
    if (ranges.some((r) => r.start <= range.last && range.start <= r.last)) return refuse(call, fail('EINVAL', 'iommufd_ioas_load_iovas', 'ranges overlap'));
    ranges.push(range);
  }
  const iopt = setAllowed(ioas.iopt, ranges);
  if (iopt instanceof Fail) return refuse(call, iopt);
  return ok(putContext(call.world, putIoas(ctx, withIopt(ioas, iopt))));
}

/**
 * An automatic IOVA recorded by the trace is adopted when a FIXED_IOVA map of the same length
 * would accept it, it is at or above the first page, and it lies inside the allowed ranges.
 */
function recordedIova(call: Call, iopt: IoPagetable, field: string, length: bigint): bigint | null {
  const recorded = call.choices.proposed(field);
  if (typeof recorded !== 'bigint') return null;
  const last = lastOf(recorded, length);
  const legal =
    recorded >= call.world.config.pageSize &&
    last !== null &&
    !(checkIova(iopt, call.world.config, recorded, length) instanceof Fail) &&
    (iopt.allowed.size === 0 || insideAllowed(iopt, recorded, last));
  if (legal) return recorded;
  call.choices.reject(field, recorded, 'a FIXED_IOVA map of that length would not be accepted there');
  return null;
}

function insideAllowed(iopt: IoPagetable, start: bigint, last: bigint): boolean {
  const spans = spansOf(iopt.allowed.values());
  const span = firstIntersecting(spans, start, last);
  return span !== undefined && span.start <= start && span.last >= last;
}

/** Places pieces into the IOAS (fixed, adopted or allocated IOVA) and commits them. */
export function mapPieces(
  call: Call,
  ctx: Ctx,
  ioas: Ioas,
  pieces: readonly Piece[],
  length: bigint,
  flags: bigint,
  iova: bigint,
  field: string,
  created: Pages | null,
): Result {
  const fixed = (flags & IOMMU_IOAS_MAP_FIXED_IOVA) !== 0n;
  const wanted = fixed ? iova : recordedIova(call, ioas.iopt, field, length);
  const placed = insertAreas(ioas.iopt, call.world.config, pieces, length, wanted, conv(flags));
  if (placed instanceof Fail) return refuse(call, placed);
  let next = putIoas(addAreaRefs(ctx, placed.areas, created), withIopt(ioas, placed.iopt));
  // iopt_fill_domains_pages(): with a domain, the new areas are pinned now (or the map fails).
  if (ioas.domains.length > 0) {
    for (const area of placed.areas) {
      const held = addHold(call.world, next, area.pages, {
        key: areaHoldKey(ioas.id, area),
        ...areaIndexes(area, call.world.config.pageSize),
      });
      if (held instanceof Fail) return call.world.config.bugs.has('map-keeps-area-on-pin-failure') ? partial(putContext(call.world, next), held) : refuse(call, held);
      next = held;
    }
  }
  return ok(putContext(call.world, next), { [field]: placed.iova });
}

/**
 * Whether MAP or COPY flags give the new area no direction, which the kernel refuses since
 * 996dc53ac289 (6.11); before, `iopt_map_pages()` made the area with no IOMMU_READ or IOMMU_WRITE.
 */
const lacksDirection = (call: Call, flags: bigint): boolean =>
  (flags & (IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE)) === 0n && !hasOlder(call.world.config.kernel, 'map-takes-no-prot');

/**
 * The checks `iommufd_ioas_map()` and `iommufd_ioas_map_file()` open with: flags (and MAP's
 * `__reserved`; MAP_FILE has none), 64-bit bounds, a direction, the IOAS. `where` is the one
 * of the two that checks.
 */
function mapArgs(call: Call, ctx: Ctx, cmd: Fields, where: string): Fail | { flags: bigint; iova: bigint; length: bigint; ioas: Ioas } {
  const flags = big(cmd, 'flags');
  if ((flags & ~MAP_FLAGS) !== 0n) return fail('EOPNOTSUPP', where, 'flags has unknown bits');
  if (big(cmd, '__reserved') !== 0n) return fail('EOPNOTSUPP', where, '__reserved is not zero');
  const iova = big(cmd, 'iova');
  const length = big(cmd, 'length');
  if (iova >= ULONG_MAX || length >= ULONG_MAX) return fail('EOVERFLOW', where, 'iova or length not below ULONG_MAX');
  if (lacksDirection(call, flags)) return fail('EINVAL', where, 'neither readable nor writeable');
  const ioas = getIoas(ctx, num(cmd, 'ioas_id'));
  return ioas instanceof Fail ? ioas : { flags, iova, length, ioas };
}

/** `iommufd_ioas_map()`. */
export function ioasMap(call: Call, ctx: Ctx, cmd: Fields): Result {
  if (call.world.config.bugs.has('map-checks-ioas-before-flags')) {
    const early = getIoas(ctx, num(cmd, 'ioas_id'));
    if (early instanceof Fail) return refuse(call, early);
  }
  const args = mapArgs(call, ctx, cmd, 'iommufd_ioas_map');
  if (args instanceof Fail) return refuse(call, args);
  const { flags, iova, length, ioas } = args;
  const { pageSize } = call.world.config;
  const uptr = big(cmd, 'user_va');
  const pages = allocUserPages(call.world, call.process, ctx, uptr, length, (flags & IOMMU_IOAS_MAP_WRITEABLE) !== 0n);
  if (pages instanceof Fail) return refuse(call, pages);
  const piece: Piece = { pages, startByte: uptr - pagesBase(pages, pageSize), length };
  return mapPieces(call, ctx, ioas, [piece], length, flags, iova, 'iova', pages);
}

/**
 * `iommufd_ioas_map_file()` → `iopt_map_file_pages()`: like a map of user memory, but the pages
 * object is a range of a file or of a dma-buf's device memory, and the offset guides the
 * automatic IOVA.
 */
export function ioasMapFile(call: Call, ctx: Ctx, cmd: Fields): Result {
  const args = mapArgs(call, ctx, cmd, 'iommufd_ioas_map_file');
  if (args instanceof Fail) return refuse(call, args);
  const { flags, iova, length, ioas } = args;
  const start = big(cmd, 'start');
  if (length === 0n) return refuse(call, fail('EINVAL', 'iopt_map_file_pages', 'length is 0'));
  if (lastOf(start, length) === null) return refuse(call, fail('EOVERFLOW', 'iopt_map_file_pages', 'start + length overflows'));
  const fd = big(cmd, 'fd');
  const file = fd < 0n ? undefined : fileOf(call.world, call.process, Number(fd));
  if (file === undefined) return refuse(call, fail('EBADF', 'iopt_map_file_pages', 'fget finds no open file'));
  // dma_buf_get() is tried first: a dma-buf maps device memory, anything else a file's pages.
  const writable = (flags & IOMMU_IOAS_MAP_WRITEABLE) !== 0n;
  const pages =
    file.kind === 'dmabuf'
      ? allocDmabufPages(call.world, call.process, ctx, file, start, length, writable)
      : allocFilePages(call.world, call.process, ctx, file.id, start, length, writable);
  if (pages instanceof Fail) return refuse(call, pages);
  const piece: Piece = { pages, startByte: start - pagesBase(pages, call.world.config.pageSize), length };
  return mapPieces(call, ctx, ioas, [piece], length, flags, iova, 'iova', pages);
}

/**
 * `iommufd_ioas_change_process()` (spec §3.19): every area of the context must be file
 * backed (EINVAL); what other processes have charged moves to the caller, checked against the
 * caller's RLIMIT_MEMLOCK first (ENOMEM, nothing moved); every pages object is re-owned.
 */
export function ioasChangeProcess(call: Call, ctx: Ctx, cmd: Fields): Result {
  if (big(cmd, '__reserved') !== 0n) return refuse(call, fail('EOPNOTSUPP', 'iommufd_ioas_change_process', '__reserved is not zero'));
  for (const obj of ctx.objects.values()) {
    if (obj.type !== 'ioas') continue;
    for (const area of obj.iopt.areas.values()) {
      if (ctx.pages.get(area.pages)?.kind !== 'file') return refuse(call, fail('EINVAL', 'iommufd_ioas_change_process', 'an area is not file backed'));
    }
  }
  const moved = changeProcess(call.world, ctx, call.process);
  if (moved instanceof Fail) return refuse(call, moved);
  return ok(putContext(moved.world, moved.ctx));
}

/** `iopt_get_pages()`: the contiguous areas covering `[iova, iova + length)`, as pieces. */
function piecesOf(ctx: Ctx, iopt: IoPagetable, iova: bigint, length: bigint): Fail | Piece[] {
  if (length === 0n) return fail('EINVAL', 'iopt_get_pages', 'length is 0');
  const last = lastOf(iova, length);
  if (last === null) return fail('EOVERFLOW', 'iopt_get_pages', 'iova + length overflows');
  const pieces: Piece[] = [];
  let cursor = iova;
  for (const area of intersecting(iopt.areas, iova, last)) {
    // iopt_area_contig_init()/_next(): the first area holds `iova`, each next one starts right after.
    if (area.start > cursor) return fail('ENOENT', 'iopt_get_pages', 'range not covered by contiguous areas');
    const pages = ctx.pages.get(area.pages);
    if (pages === undefined) return fail('ENOENT', 'iopt_get_pages', 'range not covered by contiguous areas');
    const end: bigint = area.last < last ? area.last : last;
    pieces.push({ pages, startByte: area.startByte + (cursor - area.start), length: end - cursor + 1n });
    if (end === last) return pieces;
    cursor = end + 1n;
  }
  return fail('ENOENT', 'iopt_get_pages', 'range not covered by contiguous areas');
}

/**
 * `iommufd_test_syz_conv_iova_id()`, which `iommufd_ioas_copy()` calls first: with
 * MOCK_FLAGS_ACCESS_SYZ the flag is cleared, before the flags are checked, and the source IOVA
 * is converted through the source IOAS, if there is one.
 */
function syzCopySource(ctx: Ctx, cmd: Fields): { flags: bigint; srcIova: bigint } {
  const flags = big(cmd, 'flags');
  const srcIova = big(cmd, 'src_iova');
  if ((flags & MOCK_FLAGS_ACCESS_SYZ) === 0n) return { flags, srcIova };
  const src = getIoas(ctx, num(cmd, 'src_ioas_id'));
  return { flags: flags & ~MOCK_FLAGS_ACCESS_SYZ, srcIova: src instanceof Fail ? srcIova : syzIova(src.iopt, srcIova) };
}

/** `iommufd_ioas_copy()`: the new areas share the source's pages objects. */
export function ioasCopy(call: Call, ctx: Ctx, cmd: Fields): Result {
  const { flags, srcIova } = syzCopySource(ctx, cmd);
  if ((flags & ~MAP_FLAGS) !== 0n) return refuse(call, fail('EOPNOTSUPP', 'iommufd_ioas_copy', 'flags has unknown bits'));
  const length = big(cmd, 'length');
  const dstIova = big(cmd, 'dst_iova');
  if (length >= ULONG_MAX || srcIova >= ULONG_MAX || dstIova >= ULONG_MAX) {
    return refuse(call, fail('EOVERFLOW', 'iommufd_ioas_copy', 'length or an iova not below ULONG_MAX'));
  }
  if (lacksDirection(call, flags)) {
    return refuse(call, fail('EINVAL', 'iommufd_ioas_copy', 'neither readable nor writeable'));
  }
  const src = getIoas(ctx, num(cmd, 'src_ioas_id'));
  if (src instanceof Fail) return refuse(call, src);
  const pieces = piecesOf(ctx, src.iopt, srcIova, length);
  if (pieces instanceof Fail) return refuse(call, pieces);
  const dst = getIoas(ctx, num(cmd, 'dst_ioas_id'));
  if (dst instanceof Fail) return refuse(call, dst);
  return mapPieces(call, ctx, dst, pieces, length, flags, dstIova, 'dst_iova', null);
}

/** `iommufd_ioas_unmap()`; the loop keeps what it removed before failing (spec §3.8). */
export function ioasUnmap(call: Call, ctx: Ctx, cmd: Fields): Result {
  const ioas = getIoas(ctx, num(cmd, 'ioas_id'));
  if (ioas instanceof Fail) return refuse(call, ioas);
  const iova = big(cmd, 'iova');
  const length = big(cmd, 'length');
  let start = 0n;
  let last = ULONG_MAX;
  const all = iova === 0n && length === U64_MAX;
  if (!all) {
    if (iova >= ULONG_MAX || length >= ULONG_MAX) return refuse(call, fail('EOVERFLOW', 'iommufd_ioas_unmap', 'iova or length not below ULONG_MAX'));
    if (length === 0n) return refuse(call, fail('EINVAL', 'iopt_unmap_iova', 'length is 0'));
    const l = lastOf(iova, length);
    if (l === null) return refuse(call, fail('EOVERFLOW', 'iopt_unmap_iova', 'iova + length overflows'));
    start = iova;
    last = l;
  }
  const outcome = unmapIovaRange(call.world, ctx, ioas.id, start, last);
  const world = outcome.ctx === ctx ? call.world : putContext(call.world, outcome.ctx);
  if (outcome.error !== null) return partial(world, outcome.error);
  if (!all && outcome.unmapped === 0n) return refuse(call, fail('ENOENT', 'iommufd_ioas_unmap', 'nothing mapped in the range'));
  return ok(world, { length: outcome.unmapped });
}

/**
 * `iopt_unmap_iova_range()`: remove every area inside `[start, last]`, lowest first. An area
 * straddling either end stops the loop with ENOENT, keeping the areas already removed; an area
 * an access pinned first makes the accesses drop their items (`iommufd_access_notify_unmap()`).
 * The held areas are found once: notifying never drops an internal access's item, and an area
 * not held at the start is not held later. The areas' domain holds are dropped together at
 * the end: only the final set of holds decides what stays pinned.
 */
export function unmapIovaRange(
  world: World,
  ctx: Ctx,
  ioasId: number,
  start: bigint,
  last: bigint,
): { ctx: Ctx; unmapped: bigint; error: Fail | null } {
  let next = ctx;
  let unmapped = 0n;
  const before = ioasIn(ctx, ioasId);
  const held = heldAreas(ctx, before);
  const unpin = new Map<number, Set<string>>();
  const done = (error: Fail | null) => ({ ctx: dropHoldGroups(world, next, unpin), unmapped, error });
  for (const area of [...intersecting(before.iopt.areas, start, last)]) {
    // Locked by a HW queue's internal access: EBUSY before the straddle check.
    if (held.locked.has(area.start)) return done(fail('EBUSY', 'iopt_unmap_iova_range', 'area locked by an internal access'));
    if ((area.start < start || area.last > last) && !world.config.bugs.has('unmap-straddle-removes')) {
      return done(fail('ENOENT', 'iopt_unmap_iova_range', 'an area straddles the range'));
    }
    if (held.any.has(area.start) && areaHasAccesses(next, ioasIn(next, ioasId), area) && !world.config.bugs.has('unmap-skips-access-notify')) {
      next = notifyUnmap(world, next, ioasId, area.start, area.last);
    }
    if (before.domains.length > 0) groupHold(unpin, area.pages, areaHoldKey(ioasId, area));
    next = removeArea(next, ioasId, area);
    unmapped += area.last - area.start + 1n;
  }
  return done(null);
}

/** One area leaves its IOAS, its pages reference dropped (its domain hold is the caller's to drop). */
function removeArea(ctx: Ctx, ioasId: number, area: Area): Ctx {
  const ioas = ioasIn(ctx, ioasId);
  return putIoas(dropAreaRefs(ctx, [area]), withIopt(ioas, changeUsed(ioas.iopt, { removed: [area] })));
}
