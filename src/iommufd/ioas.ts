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
  setAllowed,
} from './io-pagetable/io-pagetable.ts';
import { areaHasAccesses, areaLocked, notifyUnmap } from './device/access.ts';
import { addHold, areaHoldKey, areaIndexes, dropHolds } from './pages/pages.ts';
import { accountModeFor, checkTransfer, reown } from './pages/accounting.ts';
import { fileOf } from '../mm/files.ts';
import { injected } from '../model/fault-injection.ts';
import { mutated } from '../model/mutants.ts';
import { allocId } from './main/object-table.ts';
import { castDraft, revise } from '../model/revise.ts';
import { U64_MAX, firstIntersecting, holes, intersecting, spansOf } from '../model/ranges.ts';
import { MOCK_FLAGS_ACCESS_SYZ, syzIova } from './selftest/syz-iova.ts';
import { userMemoryWritable } from '../mm/user-memory.ts';
import type { Area, Ctx, Ioas, IoPagetable, Pages, Process, Range, World } from '../model/world.ts';

export const IOMMU_IOAS_MAP_FIXED_IOVA = 1n;
export const IOMMU_IOAS_MAP_WRITEABLE = 2n;
export const IOMMU_IOAS_MAP_READABLE = 4n;
const MAP_FLAGS = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE;
const ULONG_MAX = U64_MAX;
/** `SIZE_MAX - PAGE_SIZE` bound of `iopt_alloc_pages()`. */
const sizeBound = (pageSize: bigint): bigint => U64_MAX - pageSize;

/** An IOAS the command already holds (looked up earlier in it); its absence is a model bug. */
export function ioasIn(ctx: Ctx, id: number): Ioas {
  const obj = ctx.objects.get(id);
  if (obj?.type !== 'ioas') throw new Error(`[iommufd-model] IOAS ${id} vanished mid-command`);
  return obj;
}

/** `iommufd_get_ioas()`: absent or not an IOAS → ENOENT. */
export function getIoas(ctx: Ctx, id: number): Ioas | Fail {
  // iommufd_get_object() is an iommufd_should_fail() site on test kernels.
  const injectedFail = injected('ENOENT');
  if (injectedFail !== null) return injectedFail;
  const obj = ctx.objects.get(id);
  return obj !== undefined && obj.type === 'ioas' ? obj : fail('ENOENT');
}


/** The context with `ioas` stored in its object table. */
export function putIoas(ctx: Ctx, ioas: Ioas): Ctx {
  return revise(ctx, (d) => {
    d.objects = ctx.objects.set(ioas.id, ioas);
  });
}

/** The IOAS with a new IO page table, its lifecycle told how many areas it now holds. */
export function withIopt(ioas: Ioas, iopt: IoPagetable): Ioas {
  if (iopt === ioas.iopt) return ioas;
  return revise(ioas, (d) => {
    d.iopt = castDraft(iopt);
    d.lifecycle = nextRecord(ioasMachine, ioas.lifecycle, { type: 'AREAS_CHANGED', count: iopt.areas.size });
  });
}

const conv = (flags: bigint): number =>
  ((flags & IOMMU_IOAS_MAP_WRITEABLE) !== 0n ? IOMMU_WRITE : 0) | ((flags & IOMMU_IOAS_MAP_READABLE) !== 0n ? IOMMU_READ : 0);

export function ioasAlloc(call: Call, ctx: Ctx, cmd: Fields): Result {
  if (big(cmd, 'flags') !== 0n) return refuse(call, fail('EOPNOTSUPP'));
  const id = allocId(ctx.objects, call.choices, 'out_ioas_id');
  if (id instanceof Fail) return refuse(call, id);
  const ioas: Ioas = {
    type: 'ioas',
    id,
    lifecycle: initialRecord(ioasMachine),
    iopt: emptyIopt(),
    hugePagesDisabled: false,
    domains: [],
    accesses: [],
  };
  return ok(putContext(call.world, putIoas(ctx, ioas)), { out_ioas_id: BigInt(id) });
}

/** `iommufd_ioas_iova_ranges()`: the holes of the reserved set; EMSGSIZE after writing back when they do not fit. */
export function ioasIovaRanges(call: Call, ctx: Ctx, cmd: Fields): Result {
  if (big(cmd, '__reserved') !== 0n) return refuse(call, fail('EOPNOTSUPP'));
  const ioas = getIoas(ctx, num(cmd, 'ioas_id'));
  if (ioas instanceof Fail) return refuse(call, ioas);
  const max = num(cmd, 'num_iovas');
  const buffer = cmd['allowed_iovas'];
  const written: Fields[] = [];
  let count = 0;
  for (const hole of holes([ioas.iopt.reservedSpans], 0n, ULONG_MAX)) {
    if (count < max) {
      const at = (typeof buffer === 'bigint' ? buffer : 0n) + BigInt(count) * 16n;
      if (!userMemoryWritable(call.world, call.process, at, 16n)) return refuse(call, fail('EFAULT'));
      written.push({ start: hole.start, last: hole.last });
    }
    count++;
  }
  const out = {
    num_iovas: BigInt(count),
    out_iova_alignment: ioas.iopt.iovaAlignment,
    allowed_iovas: written,
  };
  if (count > max) return refuse(call, fail('EMSGSIZE'), out);
  return ok(call.world, out);
}

/** `iommufd_ioas_load_iovas()` then `iopt_set_allow_iova()`. */
export function ioasAllowIovas(call: Call, ctx: Ctx, cmd: Fields): Result {
  if (big(cmd, '__reserved') !== 0n) return refuse(call, fail('EOPNOTSUPP'));
  const ioas = getIoas(ctx, num(cmd, 'ioas_id'));
  if (ioas instanceof Fail) return refuse(call, ioas);
  const count = num(cmd, 'num_iovas');
  const entries = cmd['allowed_iovas'];
  const ranges: Range[] = [];
  for (let i = 0; i < count; i++) {
    const entry = Array.isArray(entries) ? (entries as readonly Value[])[i] : undefined;
    // Entries past the inline array are memory the trace did not give: the copy faults.
    if (entry === undefined || entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
      return refuse(call, fail('EFAULT'));
    }
    const range = { start: big(entry as Fields, 'start'), last: big(entry as Fields, 'last') };
    if (range.start >= range.last) return refuse(call, fail('EINVAL'));
    if (ranges.some((r) => r.start <= range.last && range.start <= r.last)) return refuse(call, fail('EINVAL'));
    ranges.push(range);
  }
  const iopt = setAllowed(ioas.iopt, ranges);
  if (iopt instanceof Fail) return refuse(call, iopt);
  return ok(putContext(call.world, putIoas(ctx, withIopt(ioas, iopt))));
}

/** Commits new areas: the pages objects they use gain a reference each. */
function addAreaRefs(ctx: Ctx, areas: readonly Area[], created: Pages | null): Ctx {
  let pages = created === null ? ctx.pages : ctx.pages.set(created.id, created);
  for (const area of areas) {
    const p = pages.get(area.pages);
    if (p !== undefined) pages = pages.set(p.id, { ...p, areaRefs: p.areaRefs + 1 });
  }
  return revise(ctx, (d) => {
    d.pages = pages;
    if (created !== null) d.nextPagesId = created.id + 1;
  });
}

/**
 * Removed areas drop their pages references; a pages object with none left is freed when the
 * command settles, after what it still has charged is given back.
 */
export function dropAreaRefs(ctx: Ctx, areas: readonly Area[]): Ctx {
  let pages = ctx.pages;
  const freed: number[] = [];
  for (const area of areas) {
    const p = pages.get(area.pages);
    if (p === undefined) continue;
    pages = pages.set(p.id, { ...p, areaRefs: p.areaRefs - 1 });
    if (p.areaRefs === 1) freed.push(p.id);
  }
  return revise(ctx, (d) => {
    d.pages = pages;
    d.unsettled.push(...freed);
  });
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
    !(checkIova(iopt, recorded, length) instanceof Fail) &&
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
      if (held instanceof Fail) return mutated('map-keeps-area-on-pin-failure') ? partial(putContext(call.world, next), held) : refuse(call, held);
      next = held;
    }
  }
  return ok(putContext(call.world, next), { [field]: placed.iova });
}

/**
 * The checks `iommufd_ioas_map()` and `iommufd_ioas_map_file()` open with: flags (and MAP's
 * `__reserved`; MAP_FILE has none), 64-bit bounds, a direction, the IOAS.
 */
function mapArgs(ctx: Ctx, cmd: Fields): Fail | { flags: bigint; iova: bigint; length: bigint; ioas: Ioas } {
  const flags = big(cmd, 'flags');
  if ((flags & ~MAP_FLAGS) !== 0n || big(cmd, '__reserved') !== 0n) return fail('EOPNOTSUPP');
  const iova = big(cmd, 'iova');
  const length = big(cmd, 'length');
  if (iova >= ULONG_MAX || length >= ULONG_MAX) return fail('EOVERFLOW');
  if ((flags & (IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE)) === 0n) return fail('EINVAL');
  const ioas = getIoas(ctx, num(cmd, 'ioas_id'));
  return ioas instanceof Fail ? ioas : { flags, iova, length, ioas };
}

/** `iommufd_ioas_map()`. */
export function ioasMap(call: Call, ctx: Ctx, cmd: Fields): Result {
  if (mutated('map-checks-ioas-before-flags')) {
    const early = getIoas(ctx, num(cmd, 'ioas_id'));
    if (early instanceof Fail) return refuse(call, early);
  }
  const args = mapArgs(ctx, cmd);
  if (args instanceof Fail) return refuse(call, args);
  const { flags, iova, length, ioas } = args;
  const { pageSize } = call.world.config;
  const uptr = big(cmd, 'user_va');
  const pages = newUserPages(call, ctx, uptr, length, (flags & IOMMU_IOAS_MAP_WRITEABLE) !== 0n);
  if (pages instanceof Fail) return refuse(call, pages);
  const piece: Piece = { pages, startByte: uptr - pagesBase(pages, pageSize), length };
  return mapPieces(call, ctx, ioas, [piece], length, flags, iova, 'iova', pages);
}

/**
 * `iommufd_ioas_map_file()` → `iopt_map_file_pages()`: like a map of user memory, but the pages
 * object is a range of a file, and the file offset guides the automatic IOVA.
 */
export function ioasMapFile(call: Call, ctx: Ctx, cmd: Fields): Result {
  const args = mapArgs(ctx, cmd);
  if (args instanceof Fail) return refuse(call, args);
  const { flags, iova, length, ioas } = args;
  const start = big(cmd, 'start');
  if (length === 0n) return refuse(call, fail('EINVAL'));
  if (lastOf(start, length) === null) return refuse(call, fail('EOVERFLOW'));
  const fd = big(cmd, 'fd');
  const file = fd < 0n ? undefined : fileOf(call.world, call.process, Number(fd));
  if (file === undefined) return refuse(call, fail('EBADF'));
  const { pageSize } = call.world.config;
  if (length > sizeBound(pageSize)) return refuse(call, fail('EINVAL'));
  const pages: Pages = {
    ...userPages(call, ctx, start, length, (flags & IOMMU_IOAS_MAP_WRITEABLE) !== 0n),
    kind: 'file',
    file: file.id,
  };
  const piece: Piece = { pages, startByte: start - pagesBase(pages, pageSize), length };
  return mapPieces(call, ctx, ioas, [piece], length, flags, iova, 'iova', pages);
}

/**
 * `iommufd_ioas_change_process()` (spec §3.19): every area of the context must be file
 * backed (EINVAL); what other processes have charged moves to the caller, checked against the
 * caller's RLIMIT_MEMLOCK first (ENOMEM, nothing moved); every pages object is re-owned.
 */
export function ioasChangeProcess(call: Call, ctx: Ctx, cmd: Fields): Result {
  if (big(cmd, '__reserved') !== 0n) return refuse(call, fail('EOPNOTSUPP'));
  for (const obj of ctx.objects.values()) {
    if (obj.type !== 'ioas') continue;
    for (const area of obj.iopt.areas.values()) {
      if (ctx.pages.get(area.pages)?.kind !== 'file') return refuse(call, fail('EINVAL'));
    }
  }
  const me = call.process;
  const moving = [...ctx.pages.values()].filter((p) => p.owner !== me.pid || p.ownerUid !== me.uid);
  const refused = checkTransfer(call.world, me, moving);
  if (refused !== null) return refuse(call, refused);
  let world = call.world;
  let pages = ctx.pages;
  for (const p of moving) {
    // NONE pages charge no locked_vm, but their pinned_vm moves with them.
    const moved = reown(world, p, world.processes.get(me.pid) as Process);
    world = moved.world;
    pages = pages.set(p.id, moved.pages);
  }
  const next = revise(ctx, (d) => {
    d.pages = pages;
  });
  return ok(putContext(world, next));
}

/** Pages object creation shared by user memory and file maps (`iopt_alloc_pages()`). */
function userPages(call: Call, ctx: Ctx, start: bigint, length: bigint, writable: boolean): Pages {
  return {
    id: ctx.nextPagesId,
    kind: 'user',
    start,
    length,
    writable,
    file: null,
    areaRefs: 0,
    owner: call.process.pid,
    ownerUid: call.process.uid,
    account: accountModeFor(call.process, ctx),
    charged: 0n,
    holds: [],
    pins: [],
  };
}

/** `iopt_alloc_pages()`'s bounds, for user memory. */
export function newUserPages(call: Call, ctx: Ctx, uptr: bigint, length: bigint, writable: boolean): Fail | Pages {
  if (uptr + length > U64_MAX && !mutated('uptr-overflow-accepted')) return fail('EOVERFLOW');
  if (length > sizeBound(call.world.config.pageSize) || length === 0n) return fail('EINVAL');
  return injected() ?? userPages(call, ctx, uptr, length, writable);
}

/** `iopt_get_pages()`: the contiguous areas covering `[iova, iova + length)`, as pieces. */
function piecesOf(ctx: Ctx, iopt: IoPagetable, pageSize: bigint, iova: bigint, length: bigint): Fail | Piece[] {
  if (length === 0n) return fail('EINVAL');
  const last = lastOf(iova, length);
  if (last === null) return fail('EOVERFLOW');
  const pieces: Piece[] = [];
  let cursor = iova;
  for (const area of intersecting(iopt.areas, iova, last)) {
    // iopt_area_contig_init()/_next(): the first area holds `iova`, each next one starts right after.
    if (area.start > cursor) return fail('ENOENT');
    const pages = ctx.pages.get(area.pages);
    if (pages === undefined) return fail('ENOENT');
    const end: bigint = area.last < last ? area.last : last;
    pieces.push({ pages, startByte: area.startByte + (cursor - area.start), length: end - cursor + 1n });
    if (end === last) return pieces;
    cursor = end + 1n;
  }
  void pageSize;
  return fail('ENOENT');
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
  if ((flags & ~MAP_FLAGS) !== 0n) return refuse(call, fail('EOPNOTSUPP'));
  const length = big(cmd, 'length');
  const dstIova = big(cmd, 'dst_iova');
  if (length >= ULONG_MAX || srcIova >= ULONG_MAX || dstIova >= ULONG_MAX) return refuse(call, fail('EOVERFLOW'));
  if ((flags & (IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE)) === 0n) return refuse(call, fail('EINVAL'));
  const src = getIoas(ctx, num(cmd, 'src_ioas_id'));
  if (src instanceof Fail) return refuse(call, src);
  const pieces = piecesOf(ctx, src.iopt, call.world.config.pageSize, srcIova, length);
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
    if (iova >= ULONG_MAX || length >= ULONG_MAX) return refuse(call, fail('EOVERFLOW'));
    if (length === 0n) return refuse(call, fail('EINVAL'));
    const l = lastOf(iova, length);
    if (l === null) return refuse(call, fail('EOVERFLOW'));
    start = iova;
    last = l;
  }
  const outcome = unmapIovaRange(call.world, ctx, ioas.id, start, last);
  const world = outcome.ctx === ctx ? call.world : putContext(call.world, outcome.ctx);
  if (outcome.error !== null) return partial(world, outcome.error);
  if (!all && outcome.unmapped === 0n) return refuse(call, fail('ENOENT'));
  return ok(world, { length: outcome.unmapped });
}

/**
 * `iopt_unmap_iova_range()`: remove every area inside `[start, last]`, lowest first. An area
 * straddling either end stops the loop with ENOENT, keeping the areas already removed; an area
 * an access pinned first makes the accesses drop their items (`iommufd_access_notify_unmap()`).
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
  for (const area of [...intersecting(before.iopt.areas, start, last)]) {
    // Locked by a HW queue's internal access: EBUSY before the straddle check.
    if (areaLocked(next, ioasIn(next, ioasId), area)) return { ctx: next, unmapped, error: fail('EBUSY') };
    if ((area.start < start || area.last > last) && !mutated('unmap-straddle-removes')) {
      return { ctx: next, unmapped, error: fail('ENOENT') };
    }
    if (areaHasAccesses(next, ioasIn(next, ioasId), area) && !mutated('unmap-skips-access-notify')) {
      next = notifyUnmap(world, next, ioasId, area.start, area.last);
    }
    next = removeArea(world, next, ioasId, area);
    unmapped += area.last - area.start + 1n;
  }
  return { ctx: next, unmapped, error: null };
}

/** One area leaves its IOAS: unpinned from its domains, its pages reference dropped. */
function removeArea(world: World, ctx: Ctx, ioasId: number, area: Area): Ctx {
  const ioas = ioasIn(ctx, ioasId);
  const unheld = ioas.domains.length > 0 ? dropHolds(world, ctx, area.pages, new Set([areaHoldKey(ioasId, area)])) : ctx;
  const iopt = revise(ioas.iopt, (d) => {
    d.areas = castDraft(ioas.iopt.areas.delete(area.start));
  });
  return putIoas(dropAreaRefs(unheld, [area]), withIopt(ioas, iopt));
}
