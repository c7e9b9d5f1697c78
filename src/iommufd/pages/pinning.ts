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
import { revise } from '../../model/revise.ts';
import type { CowBreak, Ctx, Hold, Pages, PinRun, World } from '../../model/world.ts';

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

/** Pins `[first, last]` of `pages` from its owner's memory (or its file): `pfn_reader_user_pin()`. */
function pinRange(world: World, pages: Pages, first: bigint, last: bigint): Fail | Pinned {
  const { pageSize } = world.config;
  const base = pages.start - (pages.start % pageSize);
  // pfn_reader_fill_dmabuf(): device memory, its PFNs read from the dma-buf, pinned by no one.
  if (pages.kind === 'dmabuf') return { pins: [], breaks: [] };
  if (pages.kind === 'file') {
    const file = pages.file === null ? undefined : world.files.get(pages.file);
    if (file === undefined || file.kind !== 'memfd') return fail('EINVAL', 'memfd_pin_folios', 'not a shmem or hugetlbfs file');
    // Pinning file folios finds none past the end of the file.
    if ((base / pageSize + last + 1n) * pageSize > file.size) return fail('EINVAL', 'memfd_pin_folios', 'range past the end of the file');
    return { pins: [{ first, last, obj: `memfd:${file.id}`, index: base / pageSize + first, compound: file.hugetlb }], breaks: [] };
  }
  // pfn_reader_user_pin() is an iommufd_should_fail() site (EFAULT).
  const injectedFail = injected('EFAULT', 'pfn_reader_user_pin');
  if (injectedFail !== null) return injectedFail;
  const owner = world.processes.get(pages.owner);
  // mmget_not_zero() of a source mm whose process is gone.
  if (owner === undefined) return fail('EFAULT', 'pfn_reader_user_pin', 'the source mm is gone');
  const pinned = pinUser(world, owner, base + first * pageSize, last - first + 1n, pages.writable);
  if (pinned === null) return fail('EFAULT', '__get_user_pages', 'no vma, or one without the access');
  const pins: PinRun[] = [];
  let at = first;
  for (const r of pinned.runs) {
    pins.push({ first: at, last: at + r.count - 1n, obj: r.obj, index: r.index, compound: r.compound });
    at += r.count;
  }
  return { pins, breaks: pinned.breaks };
}

/** The pins of a new set of holds as they are gathered, and the copy-on-write breaks of the fresh ones. */
function newPins(world: World, pages: Pages) {
  const pins: PinRun[] = [];
  const breaks: CowBreak[] = [];
  const pinFresh = (first: bigint, last: bigint): Fail | null => {
    const fresh = pinRange(world, pages, first, last);
    if (fresh instanceof Fail) return fresh;
    pins.push(...fresh.pins);
    breaks.push(...fresh.breaks);
    return null;
  };
  return { pins, breaks, pinFresh };
}

/**
 * The pages object with a new set of holds, pinning what they newly cover (GUP, then the
 * RLIMIT_MEMLOCK check of its charge) and unpinning what they left.
 */
export function rehold(world: World, ctx: Ctx, pages: Pages, holds: readonly Hold[]): Fail | { pages: Pages; breaks: CowBreak[] } {
  const { pins, breaks, pinFresh } = newPins(world, pages);
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
  return repinned(world, ctx, pages, holds, pins, breaks);
}

/**
 * `rehold()` for one more hold, in what that hold touches: the pins cover exactly the union of
 * the holds, so only the indexes of the new hold not pinned yet are pinned, in ascending order
 * as `rehold()` would; the pins are not rebuilt from every hold.
 */
export function addHoldTo(world: World, ctx: Ctx, pages: Pages, hold: Hold): Fail | { pages: Pages; breaks: CowBreak[] } {
  const runs = pages.pins;
  const { pins, breaks, pinFresh } = newPins(world, pages);
  let i = 0;
  for (; i < runs.length && (runs[i] as PinRun).last < hold.first; i++) pins.push(runs[i] as PinRun);
  let at = hold.first;
  for (; i < runs.length && (runs[i] as PinRun).first <= hold.last; i++) {
    const kept = runs[i] as PinRun;
    if (kept.first > at) {
      const failed = pinFresh(at, kept.first - 1n);
      if (failed !== null) return failed;
    }
    pins.push(kept);
    if (kept.last >= at) at = kept.last + 1n;
  }
  if (at <= hold.last) {
    const failed = pinFresh(at, hold.last);
    if (failed !== null) return failed;
  }
  for (; i < runs.length; i++) pins.push(runs[i] as PinRun);
  return repinned(world, ctx, pages, [...pages.holds, hold], pins, breaks);
}

/** `pages` with its new holds and pins, if the charge of what it now pins may grow. */
function repinned(
  world: World,
  ctx: Ctx,
  pages: Pages,
  holds: readonly Hold[],
  pins: PinRun[],
  breaks: CowBreak[],
): Fail | { pages: Pages; breaks: CowBreak[] } {
  // pfn_reader_user_update_pinned() is an iommufd_should_fail() site (ENOMEM) when the charge grows.
  let pinned = 0n;
  for (const r of pins) pinned += r.last - r.first + 1n;
  const grows = pinned > pinnedOf(pages);
  const refused = (grows ? injected('ENOMEM', 'pfn_reader_user_update_pinned') : null) ?? checkCharge(world, ctx, pages, pinned);
  if (refused !== null) return refused;
  const next = revise(pages, (d) => {
    d.holds = [...holds];
    d.pins = pins;
  });
  return { pages: next, breaks };
}
