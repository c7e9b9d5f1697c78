/**
 * Memory pre-registered for SPAPR TCE v2 containers (arch/powerpc/mm/book3s64/iommu_api.c):
 * each mm keeps a list of regions, pinned and charged to its `locked_vm` once, when the first
 * container registers them (`mm_iommu_new()`). Another container of the same mm registering
 * exactly the same range takes a reference on the region (`mm_iommu_get()`); the region goes,
 * unpinned and uncharged, when its last reference is put and no TCE points into it
 * (`mm_iommu_put()`). TCEs find their region by address (`mm_iommu_lookup()`), in whichever
 * container of the mm they are.
 */
import { storeCowBreaks } from '../mm/cow.ts';
import { pinUser } from '../mm/physical.ts';
import { Fail, fail } from '../model/fail.ts';
import { OrderedMap } from '../model/ordered-map.ts';
import { U64_MAX } from '../model/ranges.ts';
import { revise } from '../model/revise.ts';
import type { Process, World } from '../model/world.ts';
import { charge, chargeRefusal, uncharge } from './container/locked-vm.ts';
import type { PreregRegion, SpaprMm } from './spapr-state.ts';
import type { DmaPin } from './state.ts';
import { capable } from './store.ts';

const NO_MM: SpaprMm = { regions: OrderedMap.empty(), leakedTablePages: 0n };

/** A region's key in its mm's list: by user address, then by size, so that `mm_iommu_get()` finds an exact range. */
export const regionKey = (ua: bigint, entries: bigint): bigint => (ua << 64n) | entries;

export const spaprMmOf = (world: World, pid: number): SpaprMm => world.vfio.spaprMms.get(pid) ?? NO_MM;

/** The world with `pid`'s SPAPR state replaced; an mm with nothing left is dropped. */
export function putSpaprMm(world: World, pid: number, mm: SpaprMm): World {
  const { spaprMms } = world.vfio;
  if (spaprMms.get(pid) === mm) return world;
  const empty = mm.regions.size === 0 && mm.leakedTablePages === 0n;
  if (empty && !spaprMms.has(pid)) return world;
  return revise(world, (d) => {
    d.vfio = { ...world.vfio, spaprMms: empty ? spaprMms.delete(pid) : spaprMms.set(pid, mm) };
  });
}

function regionOf(world: World, pid: number, key: bigint): PreregRegion {
  const region = spaprMmOf(world, pid).regions.get(key);
  if (region === undefined) throw new Error(`[iommufd-model] pid ${pid} has no pre-registered region ${key}`);
  return region;
}

export function putRegion(world: World, pid: number, key: bigint, region: PreregRegion): World {
  const mm = spaprMmOf(world, pid);
  return putSpaprMm(world, pid, { ...mm, regions: mm.regions.set(key, region) });
}

const bytesOf = (world: World, region: PreregRegion): bigint => region.entries * world.config.pageSize;

/**
 * `mm_iommu_lookup()`: the region holding all of `[ua, ua + size)` (`size` > 0). Regions never
 * overlap, so the region with the greatest key at or below `ua` is the only one that may hold it.
 */
export function regionHolding(world: World, pid: number, ua: bigint, size: bigint): [bigint, PreregRegion] | undefined {
  const found = spaprMmOf(world, pid).regions.atOrBelow(regionKey(ua, U64_MAX));
  if (found === undefined) return undefined;
  const region = found[1];
  return region.ua <= ua && ua + size <= region.ua + bytesOf(world, region) ? found : undefined;
}

/**
 * `mm_iommu_do_alloc()`'s overlap test: a region sharing a byte with `[ua, end)` (`end` > `ua`).
 * Regions being disjoint, only the last one starting before `end` may reach past `ua`.
 */
function overlaps(world: World, regions: OrderedMap<bigint, PreregRegion>, ua: bigint, end: bigint): boolean {
  const last = regions.atOrBelow(regionKey(end - 1n, U64_MAX));
  return last !== undefined && last[1].ua + bytesOf(world, last[1]) > ua;
}

/** `__ffs()` of a non-zero value: its lowest set bit. */
function lowestBit(v: bigint): number {
  let n = 0;
  while ((v & (1n << BigInt(n))) === 0n) n++;
  return n;
}

const log2 = (v: bigint): number => v.toString(2).length - 1;

/**
 * The largest IOMMU page the region backs (`mem->pageshift`): the natural alignment of its
 * address and size, cut to each page's size in page order, where the kernel's loop carries the
 * size of the last huge page it saw over the small pages after it.
 */
function pageShiftOf(world: World, ua: bigint, entries: bigint, pins: readonly DmaPin[]): number {
  const pageShift = log2(world.config.pageSize);
  const hugeShift = log2(world.config.hugepageSize);
  let shift = lowestBit(ua | ((entries << BigInt(pageShift)) & U64_MAX));
  let seen = pageShift;
  for (const run of pins) {
    if (shift > pageShift && run.compound) seen = hugeShift;
    if (seen < shift) shift = seen;
  }
  return shift;
}

/**
 * `mm_iommu_new()` for `entries` pages from `ua`, in the kernel's order: the pages are charged
 * (ENOMEM past RLIMIT_MEMLOCK but with CAP_IPC_LOCK), their array allocated (ENOMEM for no
 * page, so no region is ever empty), pinned for writing and long term (EFAULT
 * when a page cannot be), and the range must not overlap a region of the mm (EINVAL); each
 * failure gives back what came before it. The new region has one user, container `holder`.
 */
export function newRegion(world: World, process: Process, ua: bigint, entries: bigint, holder: number): Fail | World {
  const { pid } = process;
  const lockCap = capable(process, 'CAP_IPC_LOCK');
  const refused = chargeRefusal(world, pid, entries, lockCap);
  if (refused !== null) return refused;
  // account_locked_vm() of no page succeeds, then vzalloc() of an empty hpas array is NULL.
  if (entries === 0n) return fail('ENOMEM', 'mm_iommu_do_alloc', 'vzalloc of an empty page array fails');
  const pinned = pinUser(world, process, ua, entries, true);
  if (pinned === null) return fail('EFAULT', 'mm_iommu_do_alloc', 'a page could not be pinned for writing');
  const mm = spaprMmOf(world, pid);
  if (overlaps(world, mm.regions, ua, ua + entries * world.config.pageSize)) {
    return fail('EINVAL', 'mm_iommu_do_alloc', 'the range overlaps a registered region of another address or size');
  }
  const region: PreregRegion = { ua, entries, used: 1, holders: [holder], mapped: 0n, stranded: 0n, pageShift: pageShiftOf(world, ua, entries, pinned.runs), pins: pinned.runs };
  const next = charge(storeCowBreaks(world, pinned.breaks), pid, entries, lockCap);
  if (next instanceof Fail) throw new Error('[iommufd-model] a checked charge failed');
  return putSpaprMm(next, pid, { ...mm, regions: mm.regions.set(regionKey(ua, entries), region) });
}

/**
 * A container lets its reference go (`tce_iommu_prereg_free()`, and the unregister's own
 * `mm_iommu_put()`): it no longer holds the region, and `mm_iommu_put()` drops the reference.
 * The last one releases the region, unpinned and uncharged, unless TCEs still point into it:
 * then `mm_iommu_put()` restores the reference and answers EBUSY, which no caller passes on,
 * and the region stays listed, pinned and charged, held by no container.
 */
export function letGoOf(world: World, pid: number, key: bigint, container: number): World {
  const region = regionOf(world, pid, key);
  const holders = region.holders.filter((c) => c !== container);
  if (region.used > 1 || region.mapped > 0n) return putRegion(world, pid, key, { ...region, holders, used: Math.max(region.used - 1, 1) });
  const mm = spaprMmOf(world, pid);
  return uncharge(putSpaprMm(world, pid, { ...mm, regions: mm.regions.delete(key) }), pid, region.entries);
}

/** `mm_iommu_mapped_inc()` / `mm_iommu_mapped_dec()`, `delta` TCEs at once. */
export function addMapped(world: World, pid: number, key: bigint, delta: bigint): World {
  const region = regionOf(world, pid, key);
  return putRegion(world, pid, key, { ...region, mapped: region.mapped + delta });
}

/** `n` of the region's mapped TCEs went with a freed table, still counted. */
export function strand(world: World, pid: number, key: bigint, n: bigint): World {
  const region = regionOf(world, pid, key);
  return putRegion(world, pid, key, { ...region, stranded: region.stranded + n });
}
