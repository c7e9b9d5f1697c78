/**
 * The pages objects of a context (`struct iopt_pages`, spec §5): memory backing one or more
 * areas, one per IOAS_MAP, shared by IOAS_COPY and by the halves of a split area. This module
 * is the only one that changes them: it makes them (`iopt_alloc_pages()`), counts the areas
 * that use them, pins and unpins what holds them (checking the charge against
 * RLIMIT_MEMLOCK), re-owns them (IOAS_CHANGE_PROCESS), and settles their charges when a
 * command stores its context back (`putContext()`), freeing those no area uses any more.
 *
 * Within a command, a pages object whose pins or area references changed is recorded in
 * `ctx.unsettled` with what it owes its counter; the counters move only when it settles.
 */
import { accountModeFor, charge, checkTransfer, NOTHING_UNSETTLED, pinnedOf, reown, unsettle } from './accounting.ts';
import { addHoldTo, rehold } from './pinning.ts';
import { injected } from '../../model/fault-injection.ts';
import { Fail, fail } from '../../model/fail.ts';
import { U64_MAX } from '../../model/ranges.ts';
import { revise } from '../../model/revise.ts';
import type { Area, CowBreak, Ctx, Hold, Pages, PinRun, Process, Unsettled, World } from '../../model/world.ts';
import type { HeldPins } from '../../mm/pin-counts.ts';
import type { DmabufFile } from '../../mm/dma-buf.ts';

export { NOTHING_UNSETTLED, pinnedOf, unchargeAll } from './accounting.ts';

/** The index range of its pages object that an area covers. */
export function areaIndexes(area: Area, pageSize: bigint): { first: bigint; last: bigint } {
  return { first: area.startByte / pageSize, last: (area.startByte + (area.last - area.start)) / pageSize };
}

/** An area's hold is named by its whole IOVA range: the left half of a split area is another area. */
export function areaHoldKey(ioasId: number, area: Area): string {
  return `area:${ioasId}:${area.start}:${area.last}`;
}

/** `iopt_alloc_pages()`: the length must be nonzero and at most `SIZE_MAX - PAGE_SIZE`. */
function checkLength(world: World, length: bigint): Fail | null {
  if (length > U64_MAX - world.config.pageSize || length === 0n) return fail('EINVAL', 'iopt_alloc_pages', 'length is 0 or too large');
  return null;
}

/** A new pages object of `process`, numbered next in `ctx` but not yet in it: `addAreaRefs()` puts it there. */
function newPages(process: Process, ctx: Ctx, start: bigint, length: bigint, writable: boolean, file: number | null): Pages {
  return {
    id: ctx.nextPagesId,
    kind: file === null ? 'user' : 'file',
    start,
    length,
    writable,
    file,
    areaRefs: 0,
    owner: process.pid,
    ownerUid: process.uid,
    account: accountModeFor(process, ctx),
    charged: 0n,
    holds: [],
    pins: [],
  };
}

/** `iopt_alloc_user_pages()`: pages of `process`'s memory at `uptr`. */
export function allocUserPages(world: World, process: Process, ctx: Ctx, uptr: bigint, length: bigint, writable: boolean): Fail | Pages {
  if (uptr + length > U64_MAX && !world.config.bugs.has('uptr-overflow-accepted')) {
    return fail('EOVERFLOW', 'iopt_alloc_user_pages', 'uptr + length overflows');
  }
  // The kzalloc() of iopt_alloc_pages() is a failure injection point.
  return checkLength(world, length) ?? injected('ENOMEM', 'iopt_alloc_pages') ?? newPages(process, ctx, uptr, length, writable, null);
}

/** `iopt_alloc_file_pages()`: pages of open file `file` from byte `start`. */
export function allocFilePages(world: World, process: Process, ctx: Ctx, file: number, start: bigint, length: bigint, writable: boolean): Fail | Pages {
  return checkLength(world, length) ?? newPages(process, ctx, start, length, writable, file);
}

/** `MAX_NPFNS`: the pages of a dma-buf area are one batch entry, counted in a u32. */
const MAX_NPFNS = 0xffffffffn;

/**
 * `iopt_alloc_dmabuf_pages()`: the range must lie inside the dma-buf and fit one batch entry
 * (EINVAL); then `iopt_map_dmabuf()` attaches to it: a revoked dma-buf is ENODEV, and from VFIO
 * iommufd takes only a dma-buf of one range (`vfio_pci_dma_buf_iommufd_map()`: EOPNOTSUPP).
 * Device memory is neither pinned nor charged: its account mode is NONE.
 */
export function allocDmabufPages(world: World, process: Process, ctx: Ctx, dmabuf: DmabufFile, start: bigint, length: bigint, writable: boolean): Fail | Pages {
  if (dmabuf.size <= start + length - 1n || length / world.config.pageSize >= MAX_NPFNS) {
    return fail('EINVAL', 'iopt_alloc_dmabuf_pages', 'the range is past the dma-buf or too long');
  }
  const refused = checkLength(world, length);
  if (refused !== null) return refused;
  if (dmabuf.revoked) return fail('ENODEV', 'iopt_map_dmabuf', 'the dma-buf is revoked');
  if (dmabuf.exporter.kind === 'vfio' && dmabuf.ranges !== 1) return fail('EOPNOTSUPP', 'vfio_pci_dma_buf_iommufd_map', 'more than one range');
  return { ...newPages(process, ctx, start, length, writable, dmabuf.id), kind: 'dmabuf', account: 'none' };
}

/** A pages object the command reached through an area; its absence is a model bug. */
function pagesIn(ctx: Ctx, id: number): Pages {
  const pages = ctx.pages.get(id);
  if (pages === undefined) throw new Error(`[iommufd-model] pages object ${id} vanished mid-command`);
  return pages;
}

/** The pages table of a context and what its changes left unsettled, as they are being changed. */
interface Table {
  readonly pages: Ctx['pages'];
  readonly unsettled: Unsettled;
}

const tableOf = (ctx: Ctx): Table => ({ pages: ctx.pages, unsettled: ctx.unsettled });

/** `before` replaced by `after`; `changed` (pins or the last area reference) leaves it for `settle()`. */
function replaced(table: Table, before: Pages, after: Pages, changed: boolean): Table {
  return { pages: table.pages.set(after.id, after), unsettled: unsettle(table.unsettled, before, after, changed) };
}

function stored(ctx: Ctx, table: Table, breaks: readonly CowBreak[] = []): Ctx {
  return revise(ctx, (d) => {
    d.pages = table.pages;
    d.unsettled = table.unsettled;
    let log = ctx.cowBroken;
    for (const b of breaks) log = log.set(log.size, b);
    d.cowBroken = log;
  });
}

/**
 * New areas take a reference each on their pages objects (`iopt_map_pages()`, and the right
 * half in `iopt_area_split()`); the map's new pages object, `created`, joins the context with them.
 */
export function addAreaRefs(ctx: Ctx, areas: readonly Area[], created: Pages | null): Ctx {
  let table = created === null ? tableOf(ctx) : { ...tableOf(ctx), pages: ctx.pages.set(created.id, created) };
  for (const area of areas) {
    const p = table.pages.get(area.pages);
    if (p !== undefined) table = replaced(table, p, { ...p, areaRefs: p.areaRefs + 1 }, false);
  }
  return revise(stored(ctx, table), (d) => {
    if (created !== null) d.nextPagesId = created.id + 1;
  });
}

/**
 * Removed areas drop their pages references; a pages object with none left is freed when the
 * command settles, after what it still has charged is given back.
 */
export function dropAreaRefs(ctx: Ctx, areas: readonly Area[]): Ctx {
  let table = tableOf(ctx);
  for (const area of areas) {
    const p = table.pages.get(area.pages);
    if (p !== undefined) table = replaced(table, p, { ...p, areaRefs: p.areaRefs - 1 }, p.areaRefs === 1);
  }
  return stored(ctx, table);
}

/** Adds a hold on `pages` (by id) in the context, pinning as needed. */
export function addHold(world: World, ctx: Ctx, pagesId: number, hold: Hold): Fail | Ctx {
  const pages = pagesIn(ctx, pagesId);
  const next = addHoldTo(world, ctx, pages, hold);
  if (next instanceof Fail) return next;
  return stored(ctx, replaced(tableOf(ctx), pages, next.pages, true), next.breaks);
}

/** Drops every hold whose key is in `keys` from `pages` (by id); unpinning cannot fail. */
export function dropHolds(world: World, ctx: Ctx, pagesId: number, keys: ReadonlySet<string>): Ctx {
  const pages = ctx.pages.get(pagesId);
  if (pages === undefined) return ctx;
  const holds = pages.holds.filter((h) => !keys.has(h.key));
  if (holds.length === pages.holds.length) return ctx;
  const next = rehold(world, ctx, pages, holds);
  if (next instanceof Fail) throw new Error('[iommufd-model] unpinning asked to pin');
  return stored(ctx, replaced(tableOf(ctx), pages, next.pages, true), next.breaks);
}

/**
 * Drops holds of many pages objects at once, keys by pages id: a pages object that many
 * leaving areas share is re-pinned once, not once per area (its holds are a list).
 */
export function dropHoldGroups(world: World, ctx: Ctx, groups: ReadonlyMap<number, ReadonlySet<string>>): Ctx {
  let next = ctx;
  for (const [pagesId, keys] of groups) next = dropHolds(world, next, pagesId, keys);
  return next;
}

/** Adds `key` to the group of `pagesId` (see `dropHoldGroups()`). */
export function groupHold(groups: Map<number, Set<string>>, pagesId: number, key: string): void {
  const keys = groups.get(pagesId);
  if (keys === undefined) groups.set(pagesId, new Set([key]));
  else keys.add(key);
}

/**
 * `iommufd_ioas_change_process()` once every area is known to be file backed: what other
 * processes have charged moves to `to`, checked against its RLIMIT_MEMLOCK first
 * (`charge_current()`: ENOMEM, nothing moved), then every pages object is re-owned.
 */
export function changeProcess(world: World, ctx: Ctx, to: Process): Fail | { world: World; ctx: Ctx } {
  const moving = [...ctx.pages.values()].filter((p) => p.owner !== to.pid || p.ownerUid !== to.uid);
  const refused = checkTransfer(world, to, moving);
  if (refused !== null) return refused;
  let next = world;
  let table = tableOf(ctx);
  for (const p of moving) {
    // NONE pages charge no locked_vm, but their pinned_vm moves with them.
    const moved = reown(next, p, next.processes.get(to.pid) as Process);
    next = moved.world;
    table = replaced(table, p, moved.pages, false);
  }
  return { world: next, ctx: moving.length === 0 ? ctx : stored(ctx, table) };
}

/**
 * Charges and uncharges what the command's pin changes left owed, and frees the pages objects
 * no area uses any more; the context comes back settled.
 */
export function settle(world: World, ctx: Ctx): { world: World; ctx: Ctx } {
  if (ctx.unsettled.pages.size === 0) return { world, ctx };
  let next = world;
  let pages = ctx.pages;
  for (const id of ctx.unsettled.pages.keys()) {
    const p = pages.get(id);
    if (p === undefined) continue;
    const pinned = p.areaRefs === 0 ? 0n : pinnedOf(p);
    const delta = pinned - p.charged;
    next = charge(next, p, world.config.bugs.has('double-charge') && delta > 0n ? 2n * delta : delta);
    pages = p.areaRefs === 0 ? pages.delete(id) : pages.set(id, { ...p, charged: pinned });
  }
  return { world: next, ctx: stored(ctx, { pages, unsettled: NOTHING_UNSETTLED }) };
}

/** The physical page the pages object has pinned at `index`, if pinned. */
export function pinnedAt(pages: Pages, index: bigint): { obj: string; index: bigint } | null {
  const r = pinRunAt(pages, index);
  return r === null ? null : { obj: r.obj, index: r.index + (index - r.first) };
}

/** The pin run of the pages object that holds `index`, if it is pinned (`pins` is ascending). */
export function pinRunAt(pages: Pages, index: bigint): PinRun | null {
  let lo = 0;
  let hi = pages.pins.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const r = pages.pins[mid] as PinRun;
    if (index < r.first) hi = mid - 1;
    else if (index > r.last) lo = mid + 1;
    else return r;
  }
  return null;
}

/** The pins of every pages object of every context: a page once for each index of the object that maps it. */
export function* iommufdPins(world: World): Generator<HeldPins> {
  for (const ctx of world.contexts.values()) {
    for (const pages of ctx.pages.values()) {
      for (const r of pages.pins) yield { obj: r.obj, index: r.index, count: r.last - r.first + 1n, pins: 1n };
    }
  }
}
