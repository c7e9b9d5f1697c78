/**
 * Cutting areas (`iopt_cut_iova()` and `iopt_area_split()` of io_pagetable.c): how the VFIO
 * type1 emulation unmaps part of a mapping. The two halves of a split area share its pages
 * object; with a domain, the area's pin hold is split the same way, pinning nothing anew.
 */
import { areaHasAccesses } from '../device/access.ts';
import { Fail, fail } from '../../model/fail.ts';
import { ioasIn, putIoas, withIopt } from '../ioas.ts';
import { changeUsed } from './io-pagetable.ts';
import { addAreaRefs, addHold, areaHoldKey, areaIndexes, dropHolds } from '../pages/pages.ts';
import { firstIntersecting } from '../../model/ranges.ts';
import type { Area, Ctx, Ioas, World } from '../../model/world.ts';

/**
 * `iopt_cut_iova()`: splits the area holding each of `iovas` so that the iova ends a piece;
 * an iova in no area is skipped. A failure keeps the cuts already made (a partial effect).
 * Its one caller cuts only with large pages disabled, so the kernel's refusal to split an
 * area a domain may hold in large IOPTEs never applies.
 */
export function cutIova(
  world: World,
  ctx: Ctx,
  ioasId: number,
  iovas: readonly bigint[],
): { ctx: Ctx; error: Fail | null } {
  let next = ctx;
  for (const iova of iovas) {
    const ioas = ioasIn(next, ioasId);
    const area = firstIntersecting(ioas.iopt.areas, iova, iova);
    if (area === undefined) continue;
    const split = splitArea(world, next, ioas, area, iova);
    if (split instanceof Fail) return { ctx: next, error: split };
    next = split;
  }
  return { ctx: next, error: null };
}

/** `iopt_area_split()`: `iova` becomes the last byte of the left half. */
function splitArea(world: World, ctx: Ctx, ioas: Ioas, area: Area, iova: bigint): Fail | Ctx {
  // The kernel leaves the area whole at either end, its first byte included: no one-byte half.
  if (iova === area.start || iova === area.last) return ctx;
  const newStart = iova + 1n;
  const startByte = area.startByte + (newStart - area.start);
  const mask = ioas.iopt.iovaAlignment - 1n;
  if ((newStart & mask) !== 0n || (startByte & mask) !== 0n) return fail('EINVAL', 'iopt_area_split', 'split point unaligned');
  // An access's pinned items are not tracked finely enough to be split with the area.
  if (areaHasAccesses(ctx, ioas, area)) return fail('EINVAL', 'iopt_area_split', 'area has accesses');
  const lhs: Area = { ...area, last: iova };
  const rhs: Area = { ...area, start: newStart, startByte };
  const iopt = changeUsed(ioas.iopt, { removed: [area], added: [lhs, rhs] });
  if (!ctx.pages.has(area.pages)) throw new Error(`[iommufd-model] area at ${area.start} has no pages object`);
  // The right half takes a new reference on the shared pages object.
  const referenced = addAreaRefs(ctx, [rhs], null);
  const held = ioas.domains.length > 0 ? splitHold(world, referenced, ioas.id, area, [lhs, rhs]) : referenced;
  return putIoas(held, withIopt(ioas, iopt));
}

/**
 * The halves hold what the area held for its domains: their holds go in before the area's
 * comes out, so every index stays pinned throughout and nothing is pinned or charged again.
 */
function splitHold(world: World, ctx: Ctx, ioasId: number, area: Area, halves: readonly Area[]): Ctx {
  let next = ctx;
  for (const half of halves) {
    const held = addHold(world, next, half.pages, {
      key: areaHoldKey(ioasId, half),
      ...areaIndexes(half, world.config.pageSize),
    });
    if (held instanceof Fail) throw new Error('[iommufd-model] splitting an area asked to pin');
    next = held;
  }
  return dropHolds(world, next, area.pages, new Set([areaHoldKey(ioasId, area)]));
}
