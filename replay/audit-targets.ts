/**
 * The audit's accounting targets — each uid's locked_vm, each process's VmLck and VmPin, the
 * pages each IOAS keeps pinned, what each native container charged (audit-vfio.ts), and each
 * process's charge under the three accountings (audit-ledgers.ts) — and their values in a
 * snapshot: `measure` reads the whole snapshot; `TargetTracker` follows a line of snapshots and
 * reads only what changed between two of them (the persistent maps of two snapshots share every
 * subtree neither changed), so that an event costs what it changed, not the size of the state.
 */
import { pinnedOf } from '../src/iommufd/pages/pages.ts';
import { OrderedMap } from '../src/model/ordered-map.ts';
import type { Area, Ctx, Ioas, IommuObject, Pages, Process, World } from '../src/model/world.ts';
import type { VfioDma } from '../src/vfio/state.ts';
import { ACCOUNTINGS, type Accounting, Ledgers } from './audit-ledgers.ts';
import { type PagesView, areaDma, coverPins, heldByArea, pagesView, withCharge } from './audit-mappings.ts';
import { type PreregUse, type VfioKind, VfioTargets, measureVfio } from './audit-vfio.ts';

export type { Accounting } from './audit-ledgers.ts';

export type TargetKind = 'uid' | 'locked_vm' | 'pinned_vm' | 'ioas' | VfioKind | Accounting;

export interface Target {
  readonly kind: TargetKind;
  readonly pages: bigint;
}

/** Every target of a snapshot by name, in the order the report lists them. */
export type Targets = Map<string, Target>;

const uidTarget = (uid: number): string => `uid ${uid} locked_vm`;
export const lockedTarget = (pid: number): string => `pid ${pid} VmLck`;
const pinnedTarget = (pid: number): string => `pid ${pid} VmPin`;
const ioasTarget = (ctx: number, ioas: number): string => `ctx ${ctx} IOAS ${ioas} pinned`;
const shadowOf = (ctx: number, ioas: number): string => `ctx ${ctx} IOAS ${ioas}`;

const LABEL: { readonly [A in Accounting]: string } = { iommufd: 'iommufd', type1: 'type1', spapr: 'SPAPR' };
export const accountingTarget = (pid: number, accounting: Accounting): string => `pid ${pid} accounting ${LABEL[accounting]}`;

/** The value of every target in one snapshot, read from all of it. */
export function measure(world: World): Targets {
  const m: Targets = new Map();
  const ledgers = new Ledgers();
  const { pageSize } = world.config;
  for (const [uid, pages] of world.userLockedVm) m.set(uidTarget(uid), { kind: 'uid', pages });
  for (const p of world.processes.values()) {
    m.set(lockedTarget(p.pid), { kind: 'locked_vm', pages: p.lockedVm });
    m.set(pinnedTarget(p.pid), { kind: 'pinned_vm', pages: p.pinnedVm });
    ledgers.add('iommufd', p.pid, p.pinnedVm);
  }
  for (const ctx of world.contexts.values()) {
    const views = new Map<number, PagesView>();
    for (const pages of ctx.pages.values()) {
      const view = pagesView(pageSize, pages, pinnedOf(pages));
      views.set(pages.id, view);
      coverPins(ledgers, pageSize, view, 1);
    }
    for (const obj of ctx.objects.values()) {
      if (obj.type !== 'ioas') continue;
      const used = new Set<number>();
      const held = obj.domains.length > 0 ? null : heldByArea(ctx, obj).byArea;
      for (const area of obj.iopt.areas.values()) {
        used.add(area.pages);
        const view = views.get(area.pages);
        if (view === undefined || view.device) continue;
        ledgers.link(world, shadowOf(ctx.id, obj.id), areaDma(pageSize, area, view, held));
      }
      let n = 0n;
      for (const id of used) n += views.get(id)?.pinned ?? 0n;
      m.set(ioasTarget(ctx.id, obj.id), { kind: 'ioas', pages: n });
    }
  }
  measureVfio(world, (target, kind, pages) => pages !== undefined && m.set(target, { kind, pages }), ledgers);
  for (const pid of ledgers.pids()) {
    for (const a of ACCOUNTINGS) {
      const pages = ledgers.get(a, pid);
      if (pages !== 0n) m.set(accountingTarget(pid, a), { kind: a, pages });
    }
  }
  return m;
}

export const totalOf = (targets: Targets, kind: TargetKind): bigint => {
  let n = 0n;
  for (const v of targets.values()) if (v.kind === kind) n += v.pages;
  return n;
};

interface IoasTrack {
  readonly target: string;
  /** Its shadow type1 container's name in the ledgers. */
  readonly shadow: string;
  /** The pages objects its areas map: the first IOVA of each area on it. */
  readonly used: Map<number, Set<bigint>>;
  /** The pinned pages of the pages objects in `used`. */
  pinned: bigint;
  /**
   * Null while it has a domain, when type1 charges its areas whole; without one, what type1
   * charges each area for its accesses' pins, when they were last read.
   */
  held: Map<bigint, bigint> | null;
  /** Without a domain: the accesses listed and the pages objects their holds read, when they were last read. */
  accesses: readonly number[];
  heldPages: readonly number[];
}

interface CtxTrack {
  readonly pages: Map<number, PagesView>;
  readonly ioas: Map<number, IoasTrack>;
  /** Pages object → the IOAS whose areas map it. */
  readonly usedBy: Map<number, Set<number>>;
  /** Pages object → the IOAS without a domain whose accesses' holds read it. */
  readonly heldBy: Map<number, Set<number>>;
  /** Access → the IOAS without a domain that list it. */
  readonly listedBy: Map<number, Set<number>>;
}

const NO_COUNTERS = OrderedMap.empty<number, bigint>();
const NO_PROCESSES = OrderedMap.empty<number, Process>();
const NO_CONTEXTS = OrderedMap.empty<number, Ctx>();
const NO_OBJECTS = OrderedMap.empty<number, IommuObject>();
const NO_PAGES = OrderedMap.empty<number, Pages>();
const NO_AREAS = OrderedMap.empty<bigint, Area>();

function link(index: Map<number, Set<number>>, key: number, ioas: number): void {
  let set = index.get(key);
  if (set === undefined) index.set(key, (set = new Set()));
  set.add(ioas);
}

function unlink(index: Map<number, Set<number>>, key: number, ioas: number): void {
  const set = index.get(key);
  set?.delete(ioas);
  if (set?.size === 0) index.delete(key);
}

/** The targets of a line of snapshots, each brought up to date from the one before. */
export class TargetTracker {
  /** The targets of the last snapshot given to `update`. */
  readonly values: Targets = new Map();
  /** The last snapshot given to `update`. */
  private last: World | null = null;
  private readonly ledgers = new Ledgers();
  private readonly vfio = new VfioTargets();
  private readonly contexts = new Map<number, CtxTrack>();
  /** The value each target changed in this update had before it (undefined: it had none). */
  private readonly touched = new Map<string, Target | undefined>();

  /** Brings `values` to `world`; whether a target was added, removed or changed its value. */
  update(world: World): boolean {
    const last = this.last;
    this.last = world;
    this.touched.clear();
    world.userLockedVm.changesSince(last?.userLockedVm ?? NO_COUNTERS, (uid, _was, now) => this.put(uidTarget(uid), 'uid', now));
    world.processes.changesSince(last?.processes ?? NO_PROCESSES, (pid, was, now) => {
      this.put(lockedTarget(pid), 'locked_vm', now?.lockedVm);
      this.put(pinnedTarget(pid), 'pinned_vm', now?.pinnedVm);
      this.ledgers.add('iommufd', pid, (now?.pinnedVm ?? 0n) - (was?.pinnedVm ?? 0n));
    });
    world.contexts.changesSince(last?.contexts ?? NO_CONTEXTS, (id, was, now) => this.updateCtx(id, was, now));
    this.vfio.update(world, last, (target, kind, pages) => this.put(target, kind, pages), this.ledgers);
    for (const pid of this.ledgers.drain()) {
      for (const a of ACCOUNTINGS) {
        const pages = this.ledgers.get(a, pid);
        this.put(accountingTarget(pid, a), a, pages === 0n ? undefined : pages);
      }
    }
    for (const [target, before] of this.touched) {
      if (this.values.get(target)?.pages !== before?.pages) return true;
    }
    return false;
  }

  /** How each process uses its pre-registered memory after the last update. */
  get prereg(): ReadonlyMap<number, PreregUse> {
    return this.vfio.prereg;
  }

  /** The processes whose use of pre-registered memory the last update changed. */
  get preregChanged(): ReadonlySet<number> {
    return this.vfio.preregChanged;
  }

  private get pageSize(): bigint {
    return (this.last as World).config.pageSize;
  }

  /** Sets a target's value (undefined: removes it), remembering the value it had before this update. */
  private put(target: string, kind: TargetKind, pages: bigint | undefined): void {
    const before = this.values.get(target);
    if (!this.touched.has(target)) this.touched.set(target, before);
    if (pages === undefined) this.values.delete(target);
    else if (before?.pages !== pages) this.values.set(target, { kind, pages });
  }

  private updateCtx(id: number, was: Ctx | undefined, now: Ctx | undefined): void {
    let track = this.contexts.get(id);
    if (now === undefined) {
      if (track !== undefined) {
        for (const ioas of [...track.ioas.keys()]) this.dropIoas(track, ioas);
        for (const view of track.pages.values()) coverPins(this.ledgers, this.pageSize, view, -1);
      }
      this.contexts.delete(id);
      return;
    }
    if (track === undefined) {
      track = { pages: new Map(), ioas: new Map(), usedBy: new Map(), heldBy: new Map(), listedBy: new Map() };
      this.contexts.set(id, track);
    }
    const t = track;
    // The IOAS without a domain whose accesses' pins must be read again.
    const stale = new Set<number>();
    // Pages first, with the areas as they were; then the areas, against the pages as they are.
    now.pages.changesSince(was?.pages ?? NO_PAGES, (pagesId, _old, pages) => this.updatePages(t, pagesId, pages, stale));
    now.objects.changesSince(was?.objects ?? NO_OBJECTS, (objId, old, obj) => this.updateObject(id, t, objId, old, obj, stale));
    for (const ioasId of stale) {
      const obj = now.objects.get(ioasId);
      const ioas = t.ioas.get(ioasId);
      if (obj?.type === 'ioas' && ioas !== undefined && ioas.held !== null) this.readAccesses(now, t, ioasId, obj, ioas);
    }
  }

  private updatePages(t: CtxTrack, id: number, pages: Pages | undefined, stale: Set<number>): void {
    const old = t.pages.get(id);
    const view = pages === undefined ? undefined : pagesView(this.pageSize, pages, pinnedOf(pages));
    if (view === undefined) t.pages.delete(id);
    else t.pages.set(id, view);
    if (old?.pins !== view?.pins || old?.owner !== view?.owner) {
      if (old !== undefined) coverPins(this.ledgers, this.pageSize, old, -1);
      if (view !== undefined) coverPins(this.ledgers, this.pageSize, view, 1);
    }
    for (const ioasId of t.usedBy.get(id) ?? []) {
      const ioas = t.ioas.get(ioasId) as IoasTrack;
      ioas.pinned += (view?.pinned ?? 0n) - (old?.pinned ?? 0n);
      this.put(ioas.target, 'ioas', ioas.pinned);
      // IOAS_CHANGE_PROCESS: type1 would move the charge as `vfio_change_dma_owner()` does.
      if (old !== undefined && view !== undefined && old.owner !== view.owner) {
        for (const start of ioas.used.get(id) ?? []) this.relink(ioas, start, (dma) => ({ ...dma, owner: view.owner }));
      }
    }
    for (const ioasId of t.heldBy.get(id) ?? []) stale.add(ioasId);
  }

  /** Maps the area at `start` of `ioas`'s shadow container again, changed by `change`. */
  private relink(ioas: IoasTrack, start: bigint, change: (dma: VfioDma) => VfioDma): void {
    const dma = this.ledgers.shadowDma(ioas.shadow, start);
    if (dma === undefined) return;
    this.ledgers.unlink(ioas.shadow, start);
    this.ledgers.link(this.last as World, ioas.shadow, change(dma));
  }

  private updateObject(ctx: number, t: CtxTrack, id: number, old: IommuObject | undefined, obj: IommuObject | undefined, stale: Set<number>): void {
    if (old?.type === 'access' || obj?.type === 'access') for (const ioasId of t.listedBy.get(id) ?? []) stale.add(ioasId);
    const was = old?.type === 'ioas' ? old : undefined;
    if (obj?.type !== 'ioas') {
      if (was !== undefined) this.dropIoas(t, id);
      return;
    }
    let ioas = t.ioas.get(id);
    if (ioas === undefined) {
      ioas = { target: ioasTarget(ctx, id), shadow: shadowOf(ctx, id), used: new Map(), pinned: 0n, held: new Map(), accesses: [], heldPages: [] };
      t.ioas.set(id, ioas);
      stale.add(id);
    }
    const track = ioas;
    const domains = obj.domains.length > 0;
    if (domains !== (track.held === null)) {
      this.unlinkAccesses(t, id, track);
      const held = domains ? null : new Map<bigint, bigint>();
      track.held = held;
      if (!domains) stale.add(id);
      for (const starts of track.used.values()) {
        for (const start of starts) this.relink(track, start, (dma) => withCharge(this.pageSize, dma, held));
      }
    } else if (!domains && obj.accesses !== track.accesses) {
      stale.add(id);
    }
    obj.iopt.areas.changesSince(was?.iopt.areas ?? NO_AREAS, (_start, before, area) => {
      if (before !== undefined) this.unuse(t, id, track, before);
      if (area !== undefined) this.use(t, id, track, area);
    });
    this.put(track.target, 'ioas', track.pinned);
  }

  private use(t: CtxTrack, ioasId: number, ioas: IoasTrack, area: Area): void {
    const view = t.pages.get(area.pages);
    let starts = ioas.used.get(area.pages);
    if (starts === undefined) {
      ioas.used.set(area.pages, (starts = new Set()));
      link(t.usedBy, area.pages, ioasId);
      ioas.pinned += view?.pinned ?? 0n;
    }
    starts.add(area.start);
    if (view !== undefined && !view.device) this.ledgers.link(this.last as World, ioas.shadow, areaDma(this.pageSize, area, view, ioas.held));
  }

  private unuse(t: CtxTrack, ioasId: number, ioas: IoasTrack, area: Area): void {
    const starts = ioas.used.get(area.pages) as Set<bigint>;
    starts.delete(area.start);
    this.ledgers.unlink(ioas.shadow, area.start);
    if (starts.size === 0) {
      ioas.used.delete(area.pages);
      unlink(t.usedBy, area.pages, ioasId);
      ioas.pinned -= t.pages.get(area.pages)?.pinned ?? 0n;
    }
  }

  /** Without a domain: what its accesses' holds pin, by area, read again; the areas whose charge changed mapped again. */
  private readAccesses(ctx: Ctx, t: CtxTrack, ioasId: number, obj: Ioas, ioas: IoasTrack): void {
    this.unlinkAccesses(t, ioasId, ioas);
    const { byArea, pages } = heldByArea(ctx, obj);
    for (const id of obj.accesses) link(t.listedBy, id, ioasId);
    for (const id of pages) link(t.heldBy, id, ioasId);
    const before = ioas.held as Map<bigint, bigint>;
    ioas.held = byArea;
    ioas.accesses = obj.accesses;
    ioas.heldPages = pages;
    for (const start of new Set([...before.keys(), ...byArea.keys()])) {
      const lockedVm = byArea.get(start) ?? 0n;
      if ((before.get(start) ?? 0n) !== lockedVm) this.relink(ioas, start, (dma) => ({ ...dma, lockedVm }));
    }
  }

  private unlinkAccesses(t: CtxTrack, ioasId: number, ioas: IoasTrack): void {
    for (const id of ioas.accesses) unlink(t.listedBy, id, ioasId);
    for (const id of ioas.heldPages) unlink(t.heldBy, id, ioasId);
    ioas.accesses = [];
    ioas.heldPages = [];
  }

  private dropIoas(t: CtxTrack, id: number): void {
    const ioas = t.ioas.get(id);
    if (ioas === undefined) return;
    this.unlinkAccesses(t, id, ioas);
    for (const [pagesId, starts] of ioas.used) {
      unlink(t.usedBy, pagesId, id);
      for (const start of starts) this.ledgers.unlink(ioas.shadow, start);
    }
    this.put(ioas.target, 'ioas', undefined);
    t.ioas.delete(id);
  }
}
