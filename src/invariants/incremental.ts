/**
 * The state invariants checked incrementally, for `replay --invariants`: each snapshot is
 * compared with the last one checked, and only the cells that read something that changed are
 * checked again. What changed is found structurally — the persistent maps of two snapshots
 * share every subtree neither changed, and a record no command changed is the same object — so
 * a command cannot forget to declare what it touched. An event costs what it changed: the
 * areas it mapped or unmapped, the pages objects it pinned, the counters it charged; a domain
 * or an alignment that changes for the whole IOAS rechecks the whole IOAS, as the kernel walks
 * it then too.
 *
 * It finds the violations `checkWorld` finds, and reports each once, where it began.
 */
import { OrderedMap } from '../model/ordered-map.ts';
import { intersecting } from '../model/ranges.ts';
import type { Access, AccessItem, Area, Ctx, Device, Hold, IommuObject, Ioas, Pages, Process, Range, World } from '../model/world.ts';
import { type CellPath, CellStore } from './cell-store.ts';
import type { SpaprMm } from '../vfio/spapr-state.ts';
import type { Container } from '../vfio/state.ts';
import type { InvariantTracker } from './invariants.ts';
import { ContextRefs, type ItemRef } from './context-refs.ts';
import { VFIO_CELLS, VfioCells } from './vfio-cells.ts';
import {
  type Charges,
  type Violation,
  accessOf,
  addCharges,
  addContainerCharges,
  addSpaprMmCharges,
  chargedPids,
  checkAccessItem,
  checkAccessListed,
  checkAllowed,
  checkAperture,
  checkArea,
  checkDevice,
  checkDomainListed,
  checkHwpt,
  checkIoasConfig,
  checkIoasUsers,
  checkPages,
  checkProcess,
  checkUser,
  domainOf,
} from './state-checks.ts';

// Cell paths, in the order `checkWorld` visits the subjects: [0, ctx, 0, object] a HWPT's or a
// device's cell, [0, ctx, 0, ioas, section, ...] an IOAS's, [0, ctx, 1, pages], [1, pid], [2, uid],
// then VFIO's [3, ...] (vfio-cells.ts).
const AREA = 0;
const ALLOWED = 1;
const CONFIG = 2;
/** [..., DOMAINS, position] the entry of the domain list, [..., DOMAINS, position, area] that domain's aperture against an area. */
const DOMAINS = 3;
/** [..., ACCESSES, position] the entry of the access list, [..., ACCESSES, position, item] an item of that access. */
const ACCESSES = 4;
const USERS = 5;

const objectPath = (c: number, id: number): CellPath => [0, c, 0, id];
function ioasPath(c: number, id: number, section: number, at?: number | bigint, sub?: number | bigint): CellPath {
  return at === undefined ? [0, c, 0, id, section] : sub === undefined ? [0, c, 0, id, section, at] : [0, c, 0, id, section, at, sub];
}
const pagesPath = (c: number, id: number): CellPath => [0, c, 1, id];
const processPath = (pid: number): CellPath => [1, pid];
const uidPath = (uid: number): CellPath => [2, uid];

const NO_CONTEXTS = OrderedMap.empty<number, Ctx>();
const NO_OBJECTS = OrderedMap.empty<number, IommuObject>();
const NO_PAGES = OrderedMap.empty<number, Pages>();
const NO_AREAS = OrderedMap.empty<bigint, Area>();
const NO_RANGES = OrderedMap.empty<bigint, Range>();
const NO_ITEMS = OrderedMap.empty<number, AccessItem>();
const NO_ATTACHED = OrderedMap.empty<number, number>();
const NO_PROCESSES = OrderedMap.empty<number, Process>();
const NO_COUNTERS = OrderedMap.empty<number, bigint>();
const NO_CONTAINERS = OrderedMap.empty<number, Container>();
const NO_SPAPR_MMS = OrderedMap.empty<number, SpaprMm>();
const NO_IDS: readonly number[] = [];
const NO_HOLDS: readonly Hold[] = [];
const NONE: readonly Violation[] = [];

/** The IOAS and area an area's hold key names: `areaHoldKey()` of pages.ts read back. */
export function areaOfHoldKey(key: string): { readonly ioas: number; readonly start: bigint } | undefined {
  if (!key.startsWith('area:')) return undefined;
  const m = /^area:(\d+):(\d+):\d+$/.exec(key);
  return m === null ? undefined : { ioas: Number(m[1]), start: BigInt(m[2] as string) };
}

const sameIds = (a: readonly number[], b: readonly number[]): boolean => a === b || (a.length === b.length && a.every((x, i) => x === b[i]));
const sameHold = (a: Hold, b: Hold): boolean => a === b || (a.key === b.key && a.first === b.first && a.last === b.last);

/**
 * The keys of the holds that differ between two versions of a holds array: what lies between
 * their common head and tail. A key outside that stretch keeps its first hold.
 */
function changedHoldKeys(was: readonly Hold[], now: readonly Hold[], visit: (key: string) => void): void {
  let head = 0;
  while (head < was.length && head < now.length && sameHold(was[head] as Hold, now[head] as Hold)) head++;
  let a = was.length;
  let b = now.length;
  while (a > head && b > head && sameHold(was[a - 1] as Hold, now[b - 1] as Hold)) {
    a--;
    b--;
  }
  for (let i = head; i < a; i++) visit((was[i] as Hold).key);
  for (let i = head; i < b; i++) visit((now[i] as Hold).key);
}

/** What an IOAS's domain list entry means for its apertures: the aperture, when the entry is a domain of that IOAS. */
function apertureOf(obj: IommuObject | undefined, ioas: number): string | null {
  return obj?.type === 'hwpt_paging' && obj.ioas === ioas ? `${obj.domain.aperture.start}..${obj.domain.aperture.last}` : null;
}

/** The IOAS a paging HWPT or an access holds. */
function ioasNamedBy(obj: IommuObject | undefined): number | null {
  return obj?.type === 'hwpt_paging' || obj?.type === 'access' ? obj.ioas : null;
}

const asIoas = (obj: IommuObject | undefined): Ioas | undefined => (obj?.type === 'ioas' ? obj : undefined);
const asAccess = (obj: IommuObject | undefined): Access | undefined => (obj?.type === 'access' ? obj : undefined);
const asDevice = (obj: IommuObject | undefined): Device | undefined => (obj?.type === 'device' ? obj : undefined);

export class IncrementalInvariantTracker implements InvariantTracker {
  private last: World | null = null;
  private readonly store = new CellStore();
  private refs = new Map<number, ContextRefs>();
  private sums: Charges = { user: new Map(), locked: new Map(), pinned: new Map() };
  private vfio = new VfioCells();

  get hasStanding(): boolean {
    return this.store.hasStanding;
  }

  /** In `checkWorld`'s order. */
  check(world: World): Violation[] {
    let was = this.last;
    if (was === world) return [];
    if (was !== null && was.config !== world.config) {
      // Every cell reads the configuration: start over, keeping what stood.
      this.store.markAll();
      this.refs = new Map();
      this.sums = { user: new Map(), locked: new Map(), pinned: new Map() };
      this.vfio = new VfioCells();
      was = null;
    }
    this.last = world;
    world.contexts.changesSince(was?.contexts ?? NO_CONTEXTS, (id, o, n) => this.context(id, o, n));
    world.processes.changesSince(was?.processes ?? NO_PROCESSES, (pid) => this.store.mark(processPath(pid)));
    world.userLockedVm.changesSince(was?.userLockedVm ?? NO_COUNTERS, (uid) => this.store.mark(uidPath(uid)));
    world.vfio.containers.changesSince(was?.vfio.containers ?? NO_CONTAINERS, (_, o, n) => this.container(o, n));
    world.vfio.spaprMms.changesSince(was?.vfio.spaprMms ?? NO_SPAPR_MMS, (pid, o, n) => this.spaprMm(pid, o, n));
    this.vfio.changes(was, world, (path) => this.store.mark(path));
    return this.store.settle((path) => this.cell(world, path));
  }

  /** A native container's charges move in the sums; the processes it charged are checked again. */
  private container(was: Container | undefined, now: Container | undefined): void {
    for (const [c, sign] of [[was, -1n], [now, 1n]] as const) {
      if (c === undefined) continue;
      addContainerCharges(this.sums, c, sign);
      for (const pid of chargedPids(c)) this.store.mark(processPath(pid));
    }
  }

  /** An mm's SPAPR pre-registration charges move in the sums; the process is checked again. */
  private spaprMm(pid: number, was: SpaprMm | undefined, now: SpaprMm | undefined): void {
    if (was !== undefined) addSpaprMmCharges(this.sums, pid, was, -1n);
    if (now !== undefined) addSpaprMmCharges(this.sums, pid, now, 1n);
    this.store.mark(processPath(pid));
  }

  private context(c: number, was: Ctx | undefined, now: Ctx | undefined): void {
    const refs = this.refs.get(c) ?? new ContextRefs();
    this.refs.set(c, refs);
    /** Pages object id → how many of the areas mapping it this snapshot added or replaced. */
    const added = new Map<number, number>();
    (now?.objects ?? NO_OBJECTS).changesSince(was?.objects ?? NO_OBJECTS, (id, o, n) => this.object(c, now, refs, id, o, n, added));
    (now?.pages ?? NO_PAGES).changesSince(was?.pages ?? NO_PAGES, (id, o, n) => this.pages(c, now, refs, id, o, n, added));
    if (now === undefined) this.refs.delete(c);
  }

  private object(c: number, ctx: Ctx | undefined, refs: ContextRefs, id: number, was: IommuObject | undefined, now: IommuObject | undefined, added: Map<number, number>): void {
    const { store } = this;
    for (const ioas of refs.listing(id)) this.listedChanged(c, ctx, ioas, id, was, now);
    // A HWPT reads only whether the IOAS it names is one.
    if (was?.type !== now?.type) for (const holder of refs.holdersOf(id)) store.mark(objectPath(c, holder));
    if ((was === undefined) !== (now === undefined)) for (const device of refs.devicesAttachedTo(id)) store.mark(objectPath(c, device));
    if (was?.type === 'ioas' || now?.type === 'ioas') this.ioas(c, ctx, refs, id, asIoas(was), asIoas(now), added);
    const namedBefore = ioasNamedBy(was);
    const namedNow = ioasNamedBy(now);
    if (namedBefore !== namedNow) {
      for (const [ioas, delta] of [[namedBefore, -1], [namedNow, 1]] as const) {
        if (ioas === null) continue;
        refs.name(ioas, id, delta);
        store.mark(ioasPath(c, ioas, USERS));
      }
    }
    if (was?.type === 'access' || now?.type === 'access') this.items(c, ctx, refs, id, asAccess(was), asAccess(now));
    if (was?.type === 'device' || now?.type === 'device') this.attachments(c, refs, id, asDevice(was), asDevice(now));
    store.mark(objectPath(c, id));
    // What stood of an object that is gone, or is another kind of object now, stands no more.
    if (was !== undefined && was.type !== now?.type) store.markSubject(objectPath(c, id));
  }

  /** An object an IOAS's domain or access list names changed. */
  private listedChanged(c: number, ctx: Ctx | undefined, ioasId: number, id: number, was: IommuObject | undefined, now: IommuObject | undefined): void {
    const ioas = asIoas(ctx?.objects.get(ioasId));
    if (ioas === undefined) return;
    this.store.mark(ioasPath(c, ioasId, CONFIG));
    const apertureMoved = apertureOf(was, ioasId) !== apertureOf(now, ioasId);
    ioas.domains.forEach((d, pos) => {
      if (d !== id) return;
      this.store.mark(ioasPath(c, ioasId, DOMAINS, pos));
      if (apertureMoved) for (const start of ioas.iopt.areas.keys()) this.store.mark(ioasPath(c, ioasId, DOMAINS, pos, start));
    });
    ioas.accesses.forEach((a, pos) => {
      if (a === id) this.store.mark(ioasPath(c, ioasId, ACCESSES, pos));
    });
  }

  private ioas(c: number, ctx: Ctx | undefined, refs: ContextRefs, id: number, was: Ioas | undefined, now: Ioas | undefined, added: Map<number, number>): void {
    const { store } = this;
    const areas = now?.iopt.areas ?? NO_AREAS;
    const domains = now?.domains ?? NO_IDS;
    const markAll = (): void => {
      for (const start of areas.keys()) store.mark(ioasPath(c, id, AREA, start));
    };
    const spansMoved = was !== undefined && now !== undefined && was.iopt.reservedSpans !== now.iopt.reservedSpans;
    let overlapNearChange = false;
    areas.changesSince(was?.iopt.areas ?? NO_AREAS, (start, o, n) => {
      if (o !== undefined) {
        refs.countArea(o.pages, -1);
        store.mark(pagesPath(c, o.pages));
      }
      if (n !== undefined) {
        refs.countArea(n.pages, 1);
        store.mark(pagesPath(c, n.pages));
        added.set(n.pages, (added.get(n.pages) ?? 0) + 1);
      }
      store.mark(ioasPath(c, id, AREA, start));
      // The next area's predecessor changed.
      const next = areas.above(start)?.[1];
      if (next !== undefined) store.mark(ioasPath(c, id, AREA, next.start));
      for (let pos = 0; pos < domains.length; pos++) store.mark(ioasPath(c, id, DOMAINS, pos, start));
      for (const ref of refs.itemsThrough(start)) this.markItem(c, ctx, refs, ref);
      if (spansMoved && !overlapNearChange) {
        const chain = [areas.atOrBelow(start - 1n)?.[1], n, next].filter((a) => a !== undefined);
        for (let i = 1; i < chain.length; i++) if ((chain[i] as Area).start <= (chain[i - 1] as Area).last) overlapNearChange = true;
      }
    });
    (now?.iopt.allowed ?? NO_RANGES).changesSince(was?.iopt.allowed ?? NO_RANGES, (start) => store.mark(ioasPath(c, id, ALLOWED, start)));
    if (now === undefined) return this.lists(c, ctx, refs, id, was, now);
    if (was !== undefined && (was.iopt.iovaAlignment !== now.iopt.iovaAlignment || (was.domains.length > 0) !== (now.domains.length > 0))) markAll();
    if (spansMoved) {
      for (const start of now.iopt.allowed.keys()) store.mark(ioasPath(c, id, ALLOWED, start));
      const moved: Range[] = [];
      now.iopt.reservedSpans.changesSince((was as Ioas).iopt.reservedSpans, (_, o, n) => {
        if (o !== undefined && n !== undefined && o.start === n.start && o.last === n.last) return;
        if (o !== undefined) moved.push(o);
        if (n !== undefined) moved.push(n);
      });
      // A range query finds every area a span meets only while the areas are disjoint.
      if (moved.length > 0 && (overlapNearChange || store.violates(objectPath(c, id), 'areas-disjoint'))) markAll();
      else for (const r of moved) for (const a of intersecting(areas, r.start, r.last)) store.mark(ioasPath(c, id, AREA, a.start));
    }
    this.lists(c, ctx, refs, id, was, now);
  }

  /** An IOAS's domain and access lists, and the cells that read the IOAS as a whole (when what they read changed). */
  private lists(c: number, ctx: Ctx | undefined, refs: ContextRefs, id: number, was: Ioas | undefined, now: Ioas | undefined): void {
    const { store } = this;
    const subject = objectPath(c, id);
    const areas = now?.iopt.areas ?? NO_AREAS;
    const domains = now?.domains ?? NO_IDS;
    if (!sameIds(was?.domains ?? NO_IDS, domains)) {
      refs.list(id, was?.domains ?? NO_IDS, -1);
      refs.list(id, domains, 1);
      store.markSubject(subject, DOMAINS);
      domains.forEach((_, pos) => {
        store.mark(ioasPath(c, id, DOMAINS, pos));
        for (const start of areas.keys()) store.mark(ioasPath(c, id, DOMAINS, pos, start));
      });
    }
    const accesses = now?.accesses ?? NO_IDS;
    if (!sameIds(was?.accesses ?? NO_IDS, accesses)) {
      refs.list(id, was?.accesses ?? NO_IDS, -1);
      refs.list(id, accesses, 1);
      store.markSubject(subject, ACCESSES);
      accesses.forEach((a, pos) => {
        store.mark(ioasPath(c, id, ACCESSES, pos));
        const access = ctx === undefined ? undefined : accessOf(ctx, a);
        for (const item of access?.items.keys() ?? []) store.mark(ioasPath(c, id, ACCESSES, pos, item));
      });
    }
    const same = <T>(read: (ioas: Ioas) => T): boolean => was !== undefined && now !== undefined && read(was) === read(now);
    if (!same((i) => i.iopt.iovaAlignment) || !same((i) => i.hugePagesDisabled) || !same((i) => i.domains) || !same((i) => i.accesses)) {
      store.mark(ioasPath(c, id, CONFIG));
    }
    if (!same((i) => i.lifecycle)) store.mark(ioasPath(c, id, USERS));
  }

  private items(c: number, ctx: Ctx | undefined, refs: ContextRefs, id: number, was: Access | undefined, now: Access | undefined): void {
    (now?.items ?? NO_ITEMS).changesSince(was?.items ?? NO_ITEMS, (item, o, n) => {
      if (o !== undefined) refs.indexItem(id, o, false);
      if (n !== undefined) refs.indexItem(id, n, true);
      this.markItem(c, ctx, refs, { access: id, item });
    });
  }

  /** An access item's cell in each IOAS that lists its access. */
  private markItem(c: number, ctx: Ctx | undefined, refs: ContextRefs, ref: ItemRef): void {
    for (const ioasId of refs.listing(ref.access)) {
      asIoas(ctx?.objects.get(ioasId))?.accesses.forEach((a, pos) => {
        if (a === ref.access) this.store.mark(ioasPath(c, ioasId, ACCESSES, pos, ref.item));
      });
    }
  }

  private attachments(c: number, refs: ContextRefs, id: number, was: Device | undefined, now: Device | undefined): void {
    (now?.attached ?? NO_ATTACHED).changesSince(was?.attached ?? NO_ATTACHED, (_, o, n) => {
      for (const [target, delta] of [[o, -1], [n, 1]] as const) {
        if (target === undefined) continue;
        refs.attach(id, target, delta);
        this.store.mark(objectPath(c, target));
      }
    });
  }

  private pages(c: number, ctx: Ctx | undefined, refs: ContextRefs, id: number, was: Pages | undefined, now: Pages | undefined, added: Map<number, number>): void {
    const { store } = this;
    store.mark(pagesPath(c, id));
    for (const [pages, sign] of [[was, -1n], [now, 1n]] as const) {
      if (pages === undefined) continue;
      addCharges(this.sums, pages, sign);
      store.mark(processPath(pages.owner));
      store.mark(uidPath(pages.ownerUid));
    }
    // Areas this snapshot did not touch may map it still: they dangle now, or no longer, or their permissions changed.
    const untouched = (refs.areasOf.get(id) ?? 0) - (added.get(id) ?? 0);
    if (untouched > 0 && ctx !== undefined && (was === undefined || now === undefined || was.writable !== now.writable)) {
      for (const obj of ctx.objects.values()) {
        if (obj.type !== 'ioas') continue;
        for (const area of obj.iopt.areas.values()) if (area.pages === id) store.mark(ioasPath(c, obj.id, AREA, area.start));
      }
    }
    if (was?.holds === now?.holds) return;
    changedHoldKeys(was?.holds ?? NO_HOLDS, now?.holds ?? NO_HOLDS, (key) => {
      const area = areaOfHoldKey(key);
      if (area !== undefined) store.mark(ioasPath(c, area.ioas, AREA, area.start));
      for (const ref of refs.itemsHolding(key)) this.markItem(c, ctx, refs, ref);
    });
  }

  /** Checks one cell of `world`; a cell whose subject is gone has no violation. */
  private cell(world: World, path: CellPath): readonly Violation[] {
    const out: Violation[] = [];
    if (path[0] === 1) {
      const p = world.processes.get(path[1] as number);
      if (p !== undefined) checkProcess(p, this.sums, out);
      return out;
    }
    if (path[0] === 2) {
      const locked = world.userLockedVm.get(path[1] as number);
      if (locked !== undefined) checkUser(path[1] as number, locked, this.sums, out);
      return out;
    }
    if (path[0] === VFIO_CELLS) return this.vfio.cell(world, path);
    const ctx = world.contexts.get(path[1] as number);
    const refs = this.refs.get(path[1] as number);
    if (ctx === undefined || refs === undefined) return NONE;
    const id = path[3] as number;
    if (path[2] === 1) {
      const pages = ctx.pages.get(id);
      if (pages !== undefined) checkPages(ctx, pages, refs.areasOf.get(id) ?? 0, out);
      return out;
    }
    const obj = ctx.objects.get(id);
    if (path.length === 4) {
      if (obj?.type === 'hwpt_paging') checkHwpt(ctx, obj, refs.attachmentsTo(id), out);
      if (obj?.type === 'device') checkDevice(ctx, obj, out);
      return out;
    }
    if (obj?.type !== 'ioas') return NONE;
    this.ioasCell(world, ctx, refs, obj, path, out);
    return out;
  }

  private ioasCell(world: World, ctx: Ctx, refs: ContextRefs, ioas: Ioas, path: CellPath, out: Violation[]): void {
    const { areas } = ioas.iopt;
    switch (path[4]) {
      case AREA: {
        const start = path[5] as bigint;
        const area = areas.get(start);
        if (area !== undefined) checkArea(world, ctx, ioas, area, areas.atOrBelow(start - 1n)?.[1], out);
        return;
      }
      case ALLOWED: {
        const r = ioas.iopt.allowed.get(path[5] as bigint);
        if (r !== undefined) checkAllowed(ctx, ioas, r, out);
        return;
      }
      case CONFIG:
        return checkIoasConfig(world, ctx, ioas, out);
      case DOMAINS: {
        const listed = ioas.domains[path[5] as number];
        if (listed === undefined) return;
        if (path.length === 6) return checkDomainListed(ctx, ioas, listed, out);
        const hwpt = domainOf(ctx, ioas, listed);
        const area = areas.get(path[6] as bigint);
        if (hwpt !== undefined && area !== undefined) checkAperture(ctx, ioas, hwpt, area, out);
        return;
      }
      case ACCESSES: {
        const listed = ioas.accesses[path[5] as number];
        if (listed === undefined) return;
        if (path.length === 6) return checkAccessListed(ctx, ioas, listed, out);
        const item = accessOf(ctx, listed)?.items.get(path[6] as number);
        if (item !== undefined) checkAccessItem(world, ctx, ioas, listed, item, out);
        return;
      }
      case USERS:
        return checkIoasUsers(ctx, ioas, 1 + refs.holderCount(ioas.id), out);
    }
  }
}
