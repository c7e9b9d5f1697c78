/**
 * The state invariants (spec §5.6), one subject at a time: an area, an allowed range, an IOAS,
 * one entry of its domain or access list, a HWPT, a device, a pages object, a process, a uid.
 * Each check reads the subject and what it refers to; a count or sum over the whole context
 * or world is an argument, so the whole-snapshot check can scan for it and the incremental
 * one can keep it up to date.
 */
import { alignmentOf } from '../iommufd/hw-pagetable/hw-pagetable.ts';
import { areaHoldKey, areaIndexes, pinnedOf } from '../iommufd/pages/pages.ts';
import { firstIntersecting } from '../model/ranges.ts';
import type { Access, AccessItem, Area, Ctx, Device, Hold, HwptPaging, Ioas, Pages, Process, Range, World } from '../model/world.ts';
import { containerPages, mmPages } from '../vfio/spapr-accounting.ts';
import type { SpaprMm } from '../vfio/spapr-state.ts';
import type { Container } from '../vfio/state.ts';

export interface Violation {
  readonly invariant: string;
  readonly detail: string;
}

/** What makes two violations the same one: a lasting violation is reported once. */
export const violationKey = (v: Violation): string => `${v.invariant}\u0000${v.detail}`;

export const hex = (v: bigint): string => `0x${v.toString(16)}`;

const where = (ctx: Ctx, ioas: Ioas): string => `ctx ${ctx.id} IOAS ${ioas.id}`;

/** Holds arrays searched often enough to index, by key (the first hold of each key, as `find` gives). */
const holdIndexes = new WeakMap<readonly Hold[], Map<string, Hold> | number>();
const SCAN_UP_TO = 16;

/**
 * The first hold with `key`. A pages object shared by many areas has as many holds, and each
 * area looks its own up: past a few searches of one holds array, it is indexed once.
 */
export function holdWithKey(holds: readonly Hold[], key: string): Hold | undefined {
  if (holds.length <= SCAN_UP_TO) return holds.find((h) => h.key === key);
  const index = holdIndexes.get(holds) ?? 0;
  if (typeof index === 'number') {
    if (index < SCAN_UP_TO) {
      holdIndexes.set(holds, index + 1);
      return holds.find((h) => h.key === key);
    }
    const built = new Map<string, Hold>();
    for (const h of holds) if (!built.has(h.key)) built.set(h.key, h);
    holdIndexes.set(holds, built);
    return built.get(key);
  }
  return index.get(key);
}

/** An area against the one before it, its IOAS's alignment and reserved ranges, its pages object and the IOAS's domains. */
export function checkArea(world: World, ctx: Ctx, ioas: Ioas, area: Area, before: Area | undefined, out: Violation[]): void {
  const { iopt } = ioas;
  const at = (): string => `${where(ctx, ioas)} area ${hex(area.start)}`;
  const mask = iopt.iovaAlignment - 1n;
  if (before !== undefined && area.start <= before.last) out.push({ invariant: 'areas-disjoint', detail: `${at()} overlaps the area before it` });
  const length = area.last - area.start + 1n;
  if ((area.start & mask) !== 0n || (length & mask) !== 0n || ((area.startByte % world.config.pageSize) & mask) !== 0n) {
    out.push({ invariant: 'areas-aligned', detail: `${at()} breaks alignment ${hex(iopt.iovaAlignment)}` });
  }
  if (firstIntersecting(iopt.reservedSpans, area.start, area.last) !== undefined) {
    out.push({ invariant: 'areas-outside-reserved', detail: `${at()} meets a reserved range` });
  }
  const pages = ctx.pages.get(area.pages);
  if (pages === undefined) {
    out.push({ invariant: 'no-dangling-references', detail: `${at()} uses pages object ${area.pages}, which is gone` });
    return;
  }
  if ((area.prot & 2) !== 0 && !pages.writable) {
    out.push({ invariant: 'area-permissions', detail: `${at()} is writeable over read-only pages ${pages.id}` });
  }
  const held = holdWithKey(pages.holds, areaHoldKey(ioas.id, area)) !== undefined;
  if (held !== ioas.domains.length > 0) {
    out.push({
      invariant: 'domains-hold-areas',
      detail: `${at()} is ${held ? '' : 'not '}pinned for domains while the IOAS has ${ioas.domains.length}`,
    });
  }
}

export function checkAllowed(ctx: Ctx, ioas: Ioas, r: Range, out: Violation[]): void {
  if (firstIntersecting(ioas.iopt.reservedSpans, r.start, r.last) !== undefined) {
    out.push({ invariant: 'allowed-outside-reserved', detail: `${where(ctx, ioas)} allowed ${hex(r.start)}..${hex(r.last)} meets a reserved range` });
  }
}

/** The IOAS's alignment against what its domains and accesses ask, and its domain list. */
export function checkIoasConfig(world: World, ctx: Ctx, ioas: Ioas, out: Violation[]): void {
  const alignment = alignmentOf(world, ctx, ioas);
  if (alignment !== ioas.iopt.iovaAlignment) {
    out.push({ invariant: 'iova-alignment', detail: `${where(ctx, ioas)} alignment ${hex(ioas.iopt.iovaAlignment)}, its domains and accesses ask ${hex(alignment)}` });
  }
  if (ioas.domains.length > 1 && new Set(ioas.domains).size !== ioas.domains.length) {
    out.push({ invariant: 'domains-unique', detail: `${where(ctx, ioas)} lists a domain twice: ${ioas.domains.join(',')}` });
  }
}

/** The HWPT an IOAS's domain list names, when it is one of that IOAS's. */
export function domainOf(ctx: Ctx, ioas: Ioas, id: number): HwptPaging | undefined {
  const h = ctx.objects.get(id);
  return h?.type === 'hwpt_paging' && h.ioas === ioas.id ? h : undefined;
}

export function checkDomainListed(ctx: Ctx, ioas: Ioas, id: number, out: Violation[]): void {
  if (domainOf(ctx, ioas, id) === undefined) {
    out.push({ invariant: 'no-dangling-references', detail: `${where(ctx, ioas)} lists domain ${id}, which is not its HWPT` });
  }
}

export function checkAperture(ctx: Ctx, ioas: Ioas, hwpt: HwptPaging, area: Area, out: Violation[]): void {
  const { aperture } = hwpt.domain;
  if (area.start < aperture.start || area.last > aperture.last) {
    out.push({ invariant: 'areas-inside-apertures', detail: `${where(ctx, ioas)} area ${hex(area.start)} lies outside the aperture of HWPT ${hwpt.id}` });
  }
}

/** The access an IOAS's access list names, when it is one. */
export function accessOf(ctx: Ctx, id: number): Access | undefined {
  const access = ctx.objects.get(id);
  return access?.type === 'access' ? access : undefined;
}

export function checkAccessListed(ctx: Ctx, ioas: Ioas, id: number, out: Violation[]): void {
  if (accessOf(ctx, id) === undefined) {
    out.push({ invariant: 'no-dangling-references', detail: `${where(ctx, ioas)} lists access ${id}, which is gone` });
  }
}

/** Each hold of an access item goes through an area of the IOAS that still maps that pages object, within its range. */
export function checkAccessItem(world: World, ctx: Ctx, ioas: Ioas, accessId: number, item: AccessItem, out: Violation[]): void {
  for (const h of item.holds) {
    const area = ioas.iopt.areas.get(h.area);
    const holds = ctx.pages.get(h.pages)?.holds;
    const hold = holds === undefined ? undefined : holdWithKey(holds, h.key);
    if (area === undefined || area.pages !== h.pages) {
      out.push({ invariant: 'holds-have-areas', detail: `${where(ctx, ioas)} access ${accessId} item ${item.id} holds through area ${hex(h.area)}, which is gone` });
    } else if (hold !== undefined) {
      const range = areaIndexes(area, world.config.pageSize);
      if (hold.first < range.first || hold.last > range.last) {
        out.push({ invariant: 'holds-within-area', detail: `${where(ctx, ioas)} access ${accessId} item ${item.id} pins pages ${hold.first}..${hold.last} of an area spanning ${range.first}..${range.last}` });
      }
    }
  }
}

/**
 * A paging HWPT's IOAS and users: the object table, one per device attachment (spec §1.3)
 * and, for a manual HWPT, its nested children, vIOMMUs and faults besides. An automatic HWPT
 * has only attachments, and goes with its last one.
 */
export function checkHwpt(ctx: Ctx, hwpt: HwptPaging, attachments: number, out: Violation[]): void {
  if (ctx.objects.get(hwpt.ioas)?.type !== 'ioas') {
    out.push({ invariant: 'no-dangling-references', detail: `ctx ${ctx.id} HWPT ${hwpt.id} refers to IOAS ${hwpt.ioas}, which is gone` });
  }
  const users = hwpt.lifecycle.context.users;
  if (hwpt.auto && attachments === 0) {
    out.push({ invariant: 'auto-hwpt-attached', detail: `ctx ${ctx.id} automatic HWPT ${hwpt.id} outlived its last attachment` });
  }
  if (hwpt.auto ? users !== 1 + attachments : users < 1 + attachments) {
    out.push({ invariant: 'users-count', detail: `ctx ${ctx.id} HWPT ${hwpt.id} has ${users} users for ${attachments} attachments` });
  }
}

/** An IOAS's users: the table, each paging HWPT on it and each access attached to it (spec §1.3). */
export function checkIoasUsers(ctx: Ctx, ioas: Ioas, holders: number, out: Violation[]): void {
  if (ioas.lifecycle.context.users !== holders) {
    out.push({ invariant: 'users-count', detail: `ctx ${ctx.id} IOAS ${ioas.id} has ${ioas.lifecycle.context.users} users, its holders make ${holders}` });
  }
}

/** A device's users: the table, the binding driver, one per attachment, and a VDEVICE's hold; and what it is attached to. */
export function checkDevice(ctx: Ctx, device: Device, out: Violation[]): void {
  const expected = 2 + device.attached.size + (device.vdevice === null ? 0 : 1);
  if (device.lifecycle.context.users !== expected) {
    out.push({ invariant: 'users-count', detail: `ctx ${ctx.id} device ${device.id} has ${device.lifecycle.context.users} users, its holders make ${expected}` });
  }
  for (const [pasid, h] of device.attached) {
    if (ctx.objects.get(h) === undefined) {
      out.push({ invariant: 'no-dangling-references', detail: `ctx ${ctx.id} device ${device.id} pasid ${pasid} attached to ${h}, which is gone` });
    }
  }
}

/** A pages object's area references, its pins (exactly the union of its holds; none of a dma-buf's device memory) and its charge. */
export function checkPages(ctx: Ctx, pages: Pages, areas: number, out: Violation[]): void {
  if (pages.areaRefs !== areas) {
    out.push({ invariant: 'pages-refs', detail: `ctx ${ctx.id} pages ${pages.id}: ${pages.areaRefs} refs, ${areas} areas` });
  }
  let held = 0n;
  const ranges = [...pages.holds].sort((a, b) => (a.first < b.first ? -1 : 1));
  let cur: { first: bigint; last: bigint } | null = null;
  for (const h of ranges) {
    if (cur !== null && h.first <= cur.last + 1n) {
      if (h.last > cur.last) cur.last = h.last;
      continue;
    }
    if (cur !== null) held += cur.last - cur.first + 1n;
    cur = { first: h.first, last: h.last };
  }
  if (cur !== null) held += cur.last - cur.first + 1n;
  if (pages.kind === 'dmabuf') held = 0n;
  const pinned = pinnedOf(pages);
  if (pinned !== held) {
    out.push({ invariant: 'pinned-is-held', detail: `ctx ${ctx.id} pages ${pages.id}: ${pinned} pinned, holds cover ${held}` });
  }
  if (pages.charged !== pinned) {
    out.push({ invariant: 'charged-is-pinned', detail: `ctx ${ctx.id} pages ${pages.id}: ${pinned} pinned, ${pages.charged} charged` });
  }
  if (pages.start + pages.length > (1n << 64n)) {
    out.push({ invariant: 'pages-in-range', detail: `ctx ${ctx.id} pages ${pages.id} runs past the end of the address space` });
  }
}

/** What a pages object adds to each counter's sum: its charge, to its owner's or its uid's. */
export interface Charges {
  /** uid → USER pages objects' charges. */
  readonly user: Map<number, bigint>;
  /** pid → MM pages objects' charges. */
  readonly locked: Map<number, bigint>;
  /** pid → every pages object's charge. */
  readonly pinned: Map<number, bigint>;
}

/** Adds `sign` times the charge of `pages` to the sums. */
export function addCharges(sums: Charges, pages: Pages, sign: 1n | -1n): void {
  const add = (m: Map<number, bigint>, k: number): void => {
    const v = (m.get(k) ?? 0n) + sign * pages.charged;
    if (v === 0n) m.delete(k);
    else m.set(k, v);
  };
  if (pages.account === 'user') add(sums.user, pages.ownerUid);
  if (pages.account === 'mm') add(sums.locked, pages.owner);
  add(sums.pinned, pages.owner);
}

/** What a native container charged to each mm's `locked_vm`: type1 per mapping owner, SPAPR TCE to its mm. */
function* containerCharges(container: Container): Generator<[number, bigint]> {
  const driver = container.driver;
  if (driver?.kind === 'type1') yield* driver.iommu.charged;
  if (driver?.kind === 'spapr_tce' && driver.iommu.mm !== null) yield [driver.iommu.mm, containerPages(driver.iommu)];
}

function addLocked(sums: Charges, pid: number, pages: bigint): void {
  const v = (sums.locked.get(pid) ?? 0n) + pages;
  if (v === 0n) sums.locked.delete(pid);
  else sums.locked.set(pid, v);
}

/** Adds `sign` times what a native container charged to each mm's `locked_vm` (no VFIO driver charges `pinned_vm`). */
export function addContainerCharges(sums: Charges, container: Container, sign: 1n | -1n): void {
  for (const [pid, pages] of containerCharges(container)) addLocked(sums, pid, sign * pages);
}

/** The pids a native container has charged. */
export function* chargedPids(container: Container | undefined): Generator<number> {
  if (container !== undefined) for (const [pid] of containerCharges(container)) yield pid;
}

/** Adds `sign` times what an mm's SPAPR pre-registration (and its leaked table charges) charged it. */
export function addSpaprMmCharges(sums: Charges, pid: number, mm: SpaprMm, sign: 1n | -1n): void {
  addLocked(sums, pid, sign * mmPages(mm));
}

export function checkProcess(p: Process, sums: Charges, out: Violation[]): void {
  const locked = sums.locked.get(p.pid) ?? 0n;
  const pinned = sums.pinned.get(p.pid) ?? 0n;
  if (p.lockedVm !== locked) {
    out.push({ invariant: 'accounting-sums', detail: `pid ${p.pid} locked_vm ${p.lockedVm} pages, its MM pages objects and VFIO containers hold ${locked}` });
  }
  if (p.pinnedVm !== pinned) {
    out.push({ invariant: 'accounting-sums', detail: `pid ${p.pid} pinned_vm ${p.pinnedVm} pages, its pages objects hold ${pinned}` });
  }
}

export function checkUser(uid: number, locked: bigint, sums: Charges, out: Violation[]): void {
  const held = sums.user.get(uid) ?? 0n;
  if (locked !== held) {
    out.push({ invariant: 'accounting-sums', detail: `uid ${uid} locked_vm ${locked} pages, its USER pages objects hold ${held}` });
  }
}
