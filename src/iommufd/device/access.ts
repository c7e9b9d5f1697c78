/**
 * In-kernel accesses (`iommufd_access_*` of device.c, and the selftest's access fds of
 * selftest.c, spec §7.3): an emulated device's CPU view of an IOAS. A pinning access holds the
 * pages under the items it pinned; unmapping an area it pinned makes it drop those items first.
 */
import { initialRecord, nextRecord } from '../../../machines/adapter.ts';
import { accessMachine } from '../../../machines/access.machine.ts';
import { ioasMachine } from '../../../machines/ioas.machine.ts';
import { Fail, fail } from '../../model/fail.ts';
import { alignmentOf } from '../hw-pagetable/hw-pagetable.ts';
import { IOMMU_READ, IOMMU_WRITE, conformsTo, lastOf } from '../io-pagetable/io-pagetable.ts';
import { OrderedMap } from '../../model/ordered-map.ts';
import { addHold, dropHolds } from '../pages/pages.ts';
import { intersecting } from '../../model/ranges.ts';
import { revise } from '../../model/revise.ts';
import { userMemoryReadable, userMemoryWritable } from '../../mm/user-memory.ts';
import type { Access, AccessItem, Area, Ctx, Ioas, Pages, World } from '../../model/world.ts';

/** `xa_limit_16b` of the IOAS's access list. */
const ACCESSES_PER_IOAS = 65536;

export function newAccess(id: number, needsPin: boolean, internal: boolean): Access {
  return {
    type: 'access',
    id,
    lifecycle: initialRecord(accessMachine),
    ioas: null,
    needsPin,
    internal,
    items: OrderedMap.empty(),
    nextItem: 0,
  };
}

function put(ctx: Ctx, obj: Access | Ioas): Ctx {
  return revise(ctx, (d) => {
    d.objects = ctx.objects.set(obj.id, obj);
  });
}

function ioasOf(ctx: Ctx, id: number): Ioas {
  const obj = ctx.objects.get(id);
  if (obj?.type !== 'ioas') throw new Error(`[iommufd-model] access refers to IOAS ${id}, which is gone`);
  return obj;
}

function accessOf(ctx: Ctx, id: number): Access {
  const obj = ctx.objects.get(id);
  if (obj?.type !== 'access') throw new Error(`[iommufd-model] no access ${id}`);
  return obj;
}

/** Drops an item's pins. */
function dropItem(world: World, ctx: Ctx, access: Access, item: AccessItem): Ctx {
  let next = ctx;
  for (const h of item.holds) next = dropHolds(world, next, h.pages, new Set([h.key]));
  const current = accessOf(next, access.id);
  return put(
    next,
    revise(current, (d) => {
      d.items = current.items.delete(item.id);
      d.lifecycle = nextRecord(accessMachine, current.lifecycle, { type: 'UNPIN', count: 1 });
    }),
  );
}

/**
 * `iommufd_access_notify_unmap()` with the selftest's unmap callback: every access of the IOAS
 * but the internal ones drops each item whose range meets `[start, last]`.
 */
export function notifyUnmap(world: World, ctx: Ctx, ioasId: number, start: bigint, last: bigint): Ctx {
  let next = ctx;
  for (const id of ioasOf(ctx, ioasId).accesses) {
    if (accessOf(next, id).internal) continue;
    for (const item of [...accessOf(next, id).items.values()]) {
      if (start > item.iova + item.length - 1n || last < item.iova) continue;
      next = dropItem(world, next, accessOf(next, id), item);
    }
  }
  return next;
}

/** Whether an access has pinned through this area (`area->num_accesses`). */
export function areaHasAccesses(ctx: Ctx, ioas: Ioas, area: Area): boolean {
  for (const id of ioas.accesses) {
    for (const item of accessOf(ctx, id).items.values()) {
      if (item.holds.some((h) => h.area === area.start)) return true;
    }
  }
  return false;
}

/**
 * The first IOVAs of the areas some access has pinned through (`area->num_accesses`), and of
 * those an internal access (a HW queue's) has, which cannot be unmapped (`area->num_locks`):
 * one pass over the items, so that a range unmap does not rescan them for every area.
 */
export function heldAreas(ctx: Ctx, ioas: Ioas): { readonly any: ReadonlySet<bigint>; readonly locked: ReadonlySet<bigint> } {
  const any = new Set<bigint>();
  const locked = new Set<bigint>();
  for (const id of ioas.accesses) {
    const access = accessOf(ctx, id);
    for (const item of access.items.values()) {
      for (const h of item.holds) {
        any.add(h.area);
        if (access.internal) locked.add(h.area);
      }
    }
  }
  return { any, locked };
}

/**
 * `iommufd_access_change_ioas()`: join the new IOAS (its alignment may rise: EADDRINUSE over
 * misaligned areas), drop every item, leave the old one.
 */
export function changeIoas(world: World, ctx: Ctx, accessId: number, ioasId: number | null): Fail | Ctx {
  const access = accessOf(ctx, accessId);
  if (access.ioas === ioasId) return ctx;
  let next = ctx;
  if (ioasId !== null) {
    const ioas = ioasOf(next, ioasId);
    if (ioas.accesses.length >= ACCESSES_PER_IOAS) return fail('EBUSY', 'iopt_add_access', 'the access list is full');
    const accesses = [...ioas.accesses, accessId];
    const alignment = world.config.bugs.has('access-skips-alignment') ? ioas.iopt.iovaAlignment : alignmentOf(world, put(next, access), { ...ioas, accesses });
    if (alignment > ioas.iopt.iovaAlignment && !conformsTo(ioas.iopt, world.config, alignment)) {
      return fail('EADDRINUSE', 'iopt_check_iova_alignment', 'an area breaks the new alignment');
    }
    next = put(
      next,
      revise(ioas, (d) => {
        d.accesses = accesses;
        if (alignment !== ioas.iopt.iovaAlignment) d.iopt = { ...ioas.iopt, iovaAlignment: alignment };
        d.lifecycle = nextRecord(ioasMachine, ioas.lifecycle, { type: 'USER_GET' });
      }),
    );
  }
  if (access.ioas !== null) {
    for (const item of [...access.items.values()]) next = dropItem(world, next, accessOf(next, accessId), item);
    const old = ioasOf(next, access.ioas);
    const left = revise(old, (d) => {
      d.accesses = old.accesses.filter((id) => id !== accessId);
      d.lifecycle = nextRecord(ioasMachine, old.lifecycle, { type: 'USER_PUT' });
    });
    next = put(
      next,
      revise(left, (d) => {
        const alignment = alignmentOf(world, next, left);
        if (alignment !== left.iopt.iovaAlignment) d.iopt = { ...left.iopt, iovaAlignment: alignment };
      }),
    );
  }
  const moved = accessOf(next, accessId);
  return put(
    next,
    revise(moved, (d) => {
      d.ioas = ioasId;
      d.lifecycle = nextRecord(accessMachine, moved.lifecycle, { type: ioasId === null ? 'DETACH' : 'ATTACH' });
    }),
  );
}

/** The checks `iommufd_access_pin_pages()` and `iommufd_access_rw()` open with: a range, and an IOAS to find it in. */
function accessRange(ctx: Ctx, accessId: number, iova: bigint, length: bigint, where: string): Fail | { access: Access; ioas: Ioas; last: bigint } {
  if (length === 0n) return fail('EINVAL', where, 'length is 0');
  const last = lastOf(iova, length);
  if (last === null) return fail('EOVERFLOW', where, 'iova + length overflows');
  const access = accessOf(ctx, accessId);
  if (access.ioas === null) return fail('ENOENT', where, 'the access has no IOAS');
  return { access, ioas: ioasOf(ctx, access.ioas), last };
}

/** `iopt_area_contig_is_aligned()`: pins start on a page and cross areas only at page ends. */
function contigAligned(area: Area, cur: bigint, done: boolean, pageSize: bigint): boolean {
  if ((area.startByte + (cur - area.start)) % pageSize !== 0n) return false;
  return done || (area.startByte + (area.last - area.start)) % pageSize === pageSize - 1n;
}

/** `check_area_prot()`. */
const permits = (area: Area, write: boolean): boolean => (area.prot & (write ? IOMMU_WRITE : IOMMU_READ)) !== 0;

/**
 * `iommufd_access_pin_pages()`: pin `[iova, iova + length)` area by area. Returns the new
 * item (not yet stored) and the context with its holds, or the first failure.
 */
export function pinPages(
  world: World,
  ctx: Ctx,
  accessId: number,
  iova: bigint,
  length: bigint,
  write: boolean,
): Fail | { ctx: Ctx; item: AccessItem } {
  const { pageSize } = world.config;
  const range = accessRange(ctx, accessId, iova, length, 'iommufd_access_pin_pages');
  if (range instanceof Fail) return range;
  const { access, ioas, last } = range;
  const holds: AccessItem['holds'][number][] = [];
  let next = ctx;
  let cur = iova;
  let covered = false;
  for (const area of intersecting(ioas.iopt.areas, iova, last)) {
    if (area.start > cur) break;
    const end: bigint = area.last < last ? area.last : last;
    const done = end === last;
    if (!contigAligned(area, cur, done, pageSize)) return fail('EINVAL', 'iommufd_access_pin_pages', 'a piece is not page aligned');
    if (!permits(area, write)) return fail('EPERM', 'iommufd_access_pin_pages', 'the area lacks the permission');
    const key = `acc:${accessId}:${access.nextItem}:${area.start}`;
    const first = (area.startByte + (cur - area.start)) / pageSize;
    const past = world.config.bugs.has('access-pin-past-end') && done ? 1n : 0n;
    const lastIndex = (area.startByte + (end - area.start)) / pageSize + past;
    if (!accessCanHold(next, area.pages, first, lastIndex)) return fail('EFAULT', 'pfn_reader_user_pin', 'a dma-buf has no user memory to pin');
    const held = addHold(world, next, area.pages, { key, first, last: lastIndex });
    if (held instanceof Fail) return held;
    next = held;
    holds.push({ pages: area.pages, key, area: area.start });
    if (done) {
      covered = true;
      break;
    }
    cur = end + 1n;
  }
  if (!covered) return fail('ENOENT', 'iommufd_access_pin_pages', 'range not covered by contiguous areas');
  return { ctx: next, item: { id: access.nextItem, iova, length, holds } };
}

/**
 * Whether an access can have indexes `[first, last]` of a pages object. For a dma-buf it
 * can only where a domain or another access holds them already (`iopt_pages_fill_xarray()`
 * reads those from there); elsewhere it would pin user memory at the dma-buf's address, which
 * is no user address: the kernel supports no access to a dma-buf.
 */
function accessCanHold(ctx: Ctx, pagesId: number, first: bigint, last: bigint): boolean {
  const pages = ctx.pages.get(pagesId);
  if (pages?.kind !== 'dmabuf') return true;
  let at = first;
  for (const h of [...pages.holds].sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0))) {
    if (h.first > at) break;
    if (h.last >= at) at = h.last + 1n;
    if (at > last) return true;
  }
  return false;
}

/** Stores a pinned item in its access; item ids count up and are never reused. */
export function addItem(ctx: Ctx, accessId: number, item: AccessItem): Ctx {
  const access = accessOf(ctx, accessId);
  return put(
    ctx,
    revise(access, (d) => {
      d.items = access.items.set(item.id, item);
      d.nextItem = item.id + 1;
      d.lifecycle = nextRecord(accessMachine, access.lifecycle, { type: 'PIN' });
    }),
  );
}

/** `iommufd_test_access_item_destroy()`: unpin one item; ENOENT for an unknown one. */
export function destroyItem(world: World, ctx: Ctx, accessId: number, itemId: number): Fail | Ctx {
  const access = accessOf(ctx, accessId);
  const item = access.items.get(itemId);
  if (item === undefined) return fail('ENOENT', 'iommufd_test_access_item_destroy', 'no item with this id');
  return dropItem(world, ctx, access, item);
}

/**
 * `iommufd_access_rw()`: a CPU copy through the IOAS, pinning nothing for good; a range not
 * covered by contiguous areas is ENOENT (`iopt_area_contig_done()`).
 */
export function accessRw(world: World, ctx: Ctx, accessId: number, iova: bigint, length: bigint, write: boolean): Fail | null {
  const range = accessRange(ctx, accessId, iova, length, 'iommufd_access_rw');
  if (range instanceof Fail) return range;
  const { ioas, last } = range;
  let cur = iova;
  for (const area of intersecting(ioas.iopt.areas, iova, last)) {
    if (area.start > cur) break;
    if (!permits(area, write)) return fail('EPERM', 'iommufd_access_rw', 'the area lacks the permission');
    const end: bigint = area.last < last ? area.last : last;
    const copied = copyThrough(world, ctx, area, cur, end, write);
    if (copied !== null) return copied;
    if (end === last) return null;
    cur = end + 1n;
  }
  return fail('ENOENT', 'iommufd_access_rw', 'range not covered by contiguous areas');
}

/**
 * `iopt_pages_rw_access()` for `[cur, end]` of an area: writing needs writable pages; bytes
 * not pinned are copied from the owner's memory, which must still be there.
 */
function copyThrough(world: World, ctx: Ctx, area: Area, cur: bigint, end: bigint, write: boolean): Fail | null {
  const pages = ctx.pages.get(area.pages);
  if (pages === undefined) return fail('ENOENT', 'iommufd_access_rw', 'range not covered by contiguous areas');
  if (write && !pages.writable) return fail('EPERM', 'iopt_pages_rw_access', 'write to read-only pages');
  if (pages.kind === 'dmabuf') return fail('EINVAL', 'iopt_pages_rw_access', 'a dma-buf is no memory the CPU copies');
  const { pageSize } = world.config;
  const from = area.startByte + (cur - area.start);
  const to = area.startByte + (end - area.start);
  if (pages.kind === 'file' || isPinned(pages, from / pageSize, to / pageSize)) return null;
  const owner = world.processes.get(pages.owner);
  const base = pages.start - (pages.start % pageSize);
  const accessible = write ? userMemoryWritable : userMemoryReadable;
  const reachable = owner !== undefined && accessible(world, owner, base + from, to - from + 1n);
  return reachable ? null : fail('EFAULT', 'iopt_pages_rw_access', 'the owner memory is not accessible');
}

function isPinned(pages: Pages, first: bigint, last: bigint): boolean {
  let at = first;
  for (const r of pages.pins) {
    if (r.last < at) continue;
    if (r.first > at) return false;
    at = r.last + 1n;
    if (at > last) return true;
  }
  return false;
}

/** Destroys an access (its fd closed): items dropped, detached, object gone. */
export function destroyAccess(world: World, ctx: Ctx, accessId: number): Ctx {
  const detached = changeIoas(world, ctx, accessId, null);
  if (detached instanceof Fail) throw new Error('[iommufd-model] detaching an access failed');
  return revise(detached, (d) => {
    d.objects = detached.objects.delete(accessId);
  });
}
