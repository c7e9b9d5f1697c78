/**
 * Paging HWPTs and the domains behind them (`hw_pagetable.c`; `iopt_table_add_domain()` and
 * `iopt_table_remove_domain()` of `io_pagetable.c`, spec §6.1-6.2). A domain mirrors its IOAS:
 * adding one raises the IOAS alignment to the domain's smallest page, reserves what lies
 * outside its aperture, and, when it is the IOAS's first, pins every area.
 */
import { initialRecord, nextRecord } from '../../../machines/adapter.ts';
import { ioasMachine } from '../../../machines/ioas.machine.ts';
import { objectMachine } from '../../../machines/object.machine.ts';
import { Fail, fail } from '../../model/fail.ts';
import { conformsTo, reserve, unreserve } from '../io-pagetable/io-pagetable.ts';
import { adjustUsers } from '../main/object-refs.ts';
import { U64_MAX } from '../../model/ranges.ts';
import { addHold, areaHoldKey, areaIndexes, dropHoldGroups, groupHold } from '../pages/pages.ts';
import { revise } from '../../model/revise.ts';
import type { Ctx, Domain, HwptPaging, Ioas, World } from '../../model/world.ts';

const lowestBit = (v: bigint): bigint => v & -v;

export const domainOwner = (hwptId: number): string => `hwpt:${hwptId}`;

/** The smallest page of a domain: what it imposes on the IOAS alignment. */
export const domainPage = (d: Domain): bigint => lowestBit(d.pgsizeBitmap);

export function newHwptPaging(
  id: number,
  ioas: number,
  domain: Domain,
  props: { auto: boolean; nestParent: boolean; pasidCompat: boolean; fault: number | null },
): HwptPaging {
  return {
    type: 'hwpt_paging',
    id,
    lifecycle: initialRecord(objectMachine),
    ioas,
    domain,
    dirtyEnabled: false,
    dirty: [],
    ...props,
  };
}

function ioasOf(ctx: Ctx, id: number): Ioas {
  const obj = ctx.objects.get(id);
  if (obj?.type !== 'ioas') throw new Error(`[iommufd-model] HWPT refers to IOAS ${id}, which is gone`);
  return obj;
}

/** Pins every area of the IOAS through its pages objects: what a first domain's fill does. */
function holdAreas(world: World, ctx: Ctx, ioas: Ioas): Fail | Ctx {
  let next = ctx;
  for (const area of ioas.iopt.areas.values()) {
    const held = addHold(world, next, area.pages, { key: areaHoldKey(ioas.id, area), ...areaIndexes(area, world.config.pageSize) });
    if (held instanceof Fail) return held;
    next = held;
  }
  return next;
}

/** Unpins what the areas of the IOAS held for its domains. */
function releaseAreas(world: World, ctx: Ctx, ioas: Ioas): Ctx {
  const unpin = new Map<number, Set<string>>();
  for (const area of ioas.iopt.areas.values()) groupHold(unpin, area.pages, areaHoldKey(ioas.id, area));
  return dropHoldGroups(world, ctx, unpin);
}

/**
 * `iopt_table_add_domain()`: the HWPT's domain joins its IOAS. EINVAL for a domain whose
 * smallest page exceeds PAGE_SIZE, EADDRINUSE when areas break the new alignment or lie
 * outside the aperture (or an allowed range does), and the fill's pin errors.
 */
export function addDomain(world: World, ctx: Ctx, hwptId: number): Fail | Ctx {
  const hwpt = ctx.objects.get(hwptId);
  if (hwpt?.type !== 'hwpt_paging') throw new Error(`[iommufd-model] no paging HWPT ${hwptId}`);
  const ioas = ioasOf(ctx, hwpt.ioas);
  const { pageSize } = world.config;
  const current = ioas.iopt.iovaAlignment;
  const page = domainPage(hwpt.domain);
  const alignment = page > current ? page : current;
  if (alignment > pageSize) return fail('EINVAL', 'iopt_table_add_domain', 'smallest domain page over PAGE_SIZE');
  if (alignment !== current && !world.config.bugs.has('domain-skips-alignment-check') && !conformsTo(ioas.iopt, world.config, alignment)) {
    return fail('EADDRINUSE', 'iopt_check_iova_alignment', 'an area breaks the new alignment');
  }
  let iopt = ioas.iopt;
  const { aperture } = hwpt.domain;
  const reserves = !world.config.bugs.has('domain-skips-aperture');
  if (aperture.start !== 0n && reserves) {
    const r = reserve(iopt, { start: 0n, last: aperture.start - 1n, owner: domainOwner(hwpt.id) });
    if (r instanceof Fail) return r;
    iopt = r;
  }
  if (aperture.last !== U64_MAX && reserves) {
    const r = reserve(iopt, { start: aperture.last + 1n, last: U64_MAX, owner: domainOwner(hwpt.id) });
    if (r instanceof Fail) return r;
    iopt = r;
  }
  const filled = ioas.domains.length === 0 ? holdAreas(world, ctx, ioas) : ctx;
  if (filled instanceof Fail) return filled;
  const joined = revise(ioas, (d) => {
    d.iopt = { ...iopt, iovaAlignment: alignment };
    d.domains = world.config.bugs.has('domain-added-twice') ? [...ioas.domains, hwpt.id, hwpt.id] : [...ioas.domains, hwpt.id];
    if (!world.config.bugs.has('hwpt-skips-ioas-reference')) d.lifecycle = nextRecord(ioasMachine, ioas.lifecycle, { type: 'USER_GET' });
  });
  return revise(filled, (d) => {
    d.objects = filled.objects.set(joined.id, joined);
  });
}

/**
 * `iopt_calculate_iova_alignment()`: PAGE_SIZE with large pages disabled (else 1), raised to
 * each domain's smallest page and each access's alignment. Shrinking never fails.
 */
export function alignmentOf(world: World, ctx: Ctx, ioas: Ioas): bigint {
  let a = ioas.hugePagesDisabled ? world.config.pageSize : 1n;
  for (const id of ioas.domains) {
    const h = ctx.objects.get(id);
    if (h?.type === 'hwpt_paging' && domainPage(h.domain) > a) a = domainPage(h.domain);
  }
  for (const id of ioas.accesses) {
    const acc = ctx.objects.get(id);
    if (acc?.type === 'access' && acc.needsPin && world.config.pageSize > a) a = world.config.pageSize;
  }
  return a;
}

/**
 * `iopt_table_remove_domain()`: the HWPT's domain leaves its IOAS (unpinned if it was the last,
 * aperture reservations dropped, alignment recomputed); the HWPT keeps its IOAS reference.
 */
export function removeDomain(world: World, ctx: Ctx, hwpt: HwptPaging): Ctx {
  const ioas = ioasOf(ctx, hwpt.ioas);
  const domains = ioas.domains.filter((id) => id !== hwpt.id);
  const unfilled = domains.length === 0 && !world.config.bugs.has('last-domain-keeps-pins') ? releaseAreas(world, ctx, ioas) : ctx;
  const without = revise(ioas, (d) => {
    d.domains = domains;
    d.iopt = unreserve(ioas.iopt, domainOwner(hwpt.id));
  });
  const left = revise(without, (d) => {
    const alignment = alignmentOf(world, unfilled, without);
    if (alignment !== without.iopt.iovaAlignment) d.iopt = { ...without.iopt, iovaAlignment: alignment };
  });
  return revise(unfilled, (d) => {
    d.objects = unfilled.objects.set(left.id, left);
  });
}

/**
 * Destroys a paging HWPT (`iommufd_hwpt_paging_destroy()`): its domain leaves the IOAS unless
 * it already has (a 6.2/6.3 selftest HWPT's left with its selftest object), its FAULT and the
 * IOAS lose the HWPT's references.
 */
export function destroyHwptPaging(world: World, base: Ctx, hwpt: HwptPaging): Ctx {
  const ctx = hwpt.fault === null ? base : adjustUsers(base, hwpt.fault, 'USER_PUT');
  const removed = ioasOf(ctx, hwpt.ioas).domains.includes(hwpt.id) ? removeDomain(world, ctx, hwpt) : ctx;
  const ioas = ioasOf(removed, hwpt.ioas);
  const released = revise(ioas, (d) => {
    d.lifecycle = nextRecord(ioasMachine, ioas.lifecycle, { type: 'USER_PUT' });
  });
  return revise(removed, (d) => {
    d.objects = removed.objects.delete(hwpt.id).set(released.id, released);
  });
}
