/**
 * Pinning (`drivers/iommu/iommufd/pages.c`, spec §5.2). A pages object is pinned wherever
 * something holds it: each area of an IOAS that has a domain holds its index range, each
 * access item holds the indexes it pinned. The pinned set is the union of the holds, pinned
 * once however many hold an index; new indexes are pinned from the owner's memory (GUP, which
 * fails with EFAULT on memory that is not there), indexes nothing holds any more are unpinned.
 */
import { checkCharge, pinnedOf } from './accounting.ts';
import { injected } from '../../model/fault-injection.ts';
import { Fail, fail } from '../../model/fail.ts';
import { pinUser } from '../../mm/physical.ts';
import { castDraft, revise } from '../../model/revise.ts';
import type { Area, CowBreak, Ctx, Hold, Pages, PinRun, World } from '../../model/world.ts';

/** The index range of its pages object that an area covers. */
export function areaIndexes(area: Area, pageSize: bigint): { first: bigint; last: bigint } {
  return { first: area.startByte / pageSize, last: (area.startByte + (area.last - area.start)) / pageSize };
}

/** An area's hold is named by its whole IOVA range: the left half of a split area is another area. */
export function areaHoldKey(ioasId: number, area: Area): string {
  return `area:${ioasId}:${area.start}:${area.last}`;
}

/** Merged, sorted index ranges of a set of holds. */
function unionOf(holds: readonly Hold[]): { first: bigint; last: bigint }[] {
  const sorted = [...holds].sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
  const out: { first: bigint; last: bigint }[] = [];
  for (const h of sorted) {
    const prev = out[out.length - 1];
    if (prev !== undefined && h.first <= prev.last + 1n) {
      if (h.last > prev.last) prev.last = h.last;
    } else {
      out.push({ first: h.first, last: h.last });
    }
  }
  return out;
}

/** The pins of `runs` that lie inside `[first, last]`, cut to it. */
function pinsWithin(runs: readonly PinRun[], first: bigint, last: bigint): PinRun[] {
  const out: PinRun[] = [];
  for (const r of runs) {
    if (r.last < first || r.first > last) continue;
    const from = r.first > first ? r.first : first;
    const to = r.last < last ? r.last : last;
    out.push({ ...r, first: from, last: to, index: r.index + (from - r.first) });
  }
  return out;
}

/** What pinning a range gives: the pins, and the copy-on-write GUP broke to make them. */
interface Pinned {
  readonly pins: PinRun[];
  readonly breaks: CowBreak[];
}

/** Pins `[first, last]` of `pages` from its owner's memory (or its file). */
function pinRange(world: World, pages: Pages, first: bigint, last: bigint): Fail | Pinned {
  const { pageSize } = world.config;
  const base = pages.start - (pages.start % pageSize);
  if (pages.kind === 'file') {
    const file = pages.file === null ? undefined : world.files.get(pages.file);
    if (file === undefined || file.kind !== 'memfd') return fail('EINVAL');
    // Pinning file folios finds none past the end of the file.
    if ((base / pageSize + last + 1n) * pageSize > file.size) return fail('EINVAL');
    return { pins: [{ first, last, obj: `memfd:${file.id}`, index: base / pageSize + first, compound: file.hugetlb }], breaks: [] };
  }
  // pfn_reader_user_pin() is an iommufd_should_fail() site (EFAULT).
  const injectedFail = injected('EFAULT');
  if (injectedFail !== null) return injectedFail;
  const owner = world.processes.get(pages.owner);
  if (owner === undefined) return fail('EFAULT');
  const pinned = pinUser(world, owner, base + first * pageSize, last - first + 1n, pages.writable);
  if (pinned === null) return fail('EFAULT');
  const pins: PinRun[] = [];
  let at = first;
  for (const r of pinned.runs) {
    pins.push({ first: at, last: at + r.count - 1n, obj: r.obj, index: r.index, compound: r.compound });
    at += r.count;
  }
  return { pins, breaks: pinned.breaks };
}

/**
 * The pages object with a new set of holds, pinning what they newly cover (GUP, then the
 * RLIMIT_MEMLOCK check of its charge) and unpinning what they left.
 */
function rehold(world: World, ctx: Ctx, pages: Pages, holds: readonly Hold[]): Fail | { pages: Pages; breaks: CowBreak[] } {
  const pins: PinRun[] = [];
  let breaks: CowBreak[] = [];
  const pinFresh = (first: bigint, last: bigint): Fail | null => {
    const fresh = pinRange(world, pages, first, last);
    if (fresh instanceof Fail) return fresh;
    pins.push(...fresh.pins);
    breaks = breaks.concat(fresh.breaks);
    return null;
  };
  for (const range of unionOf(holds)) {
    let at = range.first;
    for (const kept of pinsWithin(pages.pins, range.first, range.last)) {
      if (kept.first > at) {
        const failed = pinFresh(at, kept.first - 1n);
        if (failed !== null) return failed;
      }
      pins.push(kept);
      at = kept.last + 1n;
    }
    if (at <= range.last) {
      const failed = pinFresh(at, range.last);
      if (failed !== null) return failed;
    }
  }
  const next = revise(pages, (d) => {
    d.holds = [...holds];
    d.pins = pins;
  });
  // update_pinned() is an iommufd_should_fail() site (ENOMEM) when the charge grows.
  const grows = pinnedOf(next) > pinnedOf(pages);
  const refused = (grows ? injected('ENOMEM') : null) ?? checkCharge(world, ctx, pages, pinnedOf(next));
  return refused ?? { pages: next, breaks };
}

/** The context with a pages object whose pins changed, left for `settle()` to charge, and the copy-on-write its pins broke. */
function withPages(ctx: Ctx, pages: Pages, breaks: readonly CowBreak[]): Ctx {
  return revise(ctx, (d) => {
    d.pages = ctx.pages.set(pages.id, pages);
    d.unsettled.push(pages.id);
    if (breaks.length > 0) d.cowBroken = castDraft(ctx.cowBroken.concat(breaks));
  });
}

/** Adds a hold on `pages` (by id) in the context, pinning as needed. */
export function addHold(world: World, ctx: Ctx, pagesId: number, hold: Hold): Fail | Ctx {
  const pages = ctx.pages.get(pagesId);
  if (pages === undefined) return fail('ENOENT');
  const next = rehold(world, ctx, pages, [...pages.holds, hold]);
  if (next instanceof Fail) return next;
  return withPages(ctx, next.pages, next.breaks);
}

/** Drops every hold whose key is in `keys` from `pages` (by id); unpinning cannot fail. */
export function dropHolds(world: World, ctx: Ctx, pagesId: number, keys: ReadonlySet<string>): Ctx {
  const pages = ctx.pages.get(pagesId);
  if (pages === undefined) return ctx;
  const holds = pages.holds.filter((h) => !keys.has(h.key));
  if (holds.length === pages.holds.length) return ctx;
  const next = rehold(world, ctx, pages, holds);
  if (next instanceof Fail) throw new Error('[iommufd-model] unpinning asked to pin');
  return withPages(ctx, next.pages, next.breaks);
}

/** The physical page the pages object has pinned at `index`, if pinned. */
export function pinnedAt(pages: Pages, index: bigint): { obj: string; index: bigint } | null {
  for (const r of pages.pins) {
    if (r.first <= index && index <= r.last) return { obj: r.obj, index: r.index + (index - r.first) };
  }
  return null;
}

/** How many pins the model holds on one physical page, across every context (each pages object pins once). */
export function pinsOn(world: World, obj: string, index: bigint): bigint {
  let n = 0n;
  for (const ctx of world.contexts.values()) {
    for (const pages of ctx.pages.values()) {
      for (const r of pages.pins) {
        if (r.obj === obj && r.index <= index && index <= r.index + (r.last - r.first)) n++;
      }
    }
  }
  return n;
}
