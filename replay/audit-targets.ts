/**
 * The audit's accounting targets — each uid's locked_vm, each process's VmLck and VmPin, the
 * pages each IOAS keeps pinned, what VFIO type1 would charge each process — and their values in
 * a snapshot: `measure` reads the whole snapshot; `TargetTracker` follows a line of snapshots and
 * reads only what changed between two of them (the persistent maps of two snapshots share every
 * subtree neither changed), so that an event costs what it changed, not the size of the state.
 */
import { pinnedOf } from '../src/iommufd/pages/pages.ts';
import { OrderedMap } from '../src/model/ordered-map.ts';
import type { Area, Ctx, Ioas, IommuObject, Pages, Process, World } from '../src/model/world.ts';

export type TargetKind = 'uid' | 'locked_vm' | 'pinned_vm' | 'ioas' | 'type1';

export interface Target {
  readonly kind: TargetKind;
  readonly pages: bigint;
}

/** Every target of a snapshot by name, in the order the report lists them. */
export type Targets = Map<string, Target>;

const uidTarget = (uid: number): string => `uid ${uid} locked_vm`;
const lockedTarget = (pid: number): string => `pid ${pid} VmLck`;
const pinnedTarget = (pid: number): string => `pid ${pid} VmPin`;
const ioasTarget = (ctx: number, ioas: number): string => `ctx ${ctx} IOAS ${ioas} pinned`;
const type1Target = (pid: number): string => `pid ${pid} type1 locked_vm`;

/** The pages of its pages object that an area maps: as `vfio_pin_pages_remote()` would pin them. */
const areaPages = (area: Area, pageSize: bigint): bigint =>
  (area.startByte + (area.last - area.start)) / pageSize - area.startByte / pageSize + 1n;

/** What an access item's hold pins, when type1 would charge it: its owner and how many pages. */
function heldCharge(ctx: Ctx, hold: { readonly pages: number; readonly key: string }): { owner: number; pages: bigint } | null {
  const pages = ctx.pages.get(hold.pages);
  const held = pages?.holds.find((x) => x.key === hold.key);
  if (pages === undefined || held === undefined || pages.account === 'none') return null;
  return { owner: pages.owner, pages: held.last - held.first + 1n };
}

/**
 * What VFIO type1 would charge each process (`vfio_pin_pages_remote()`, spec-history §A.5):
 * one container per IOAS, each pinning and charging every page of every mapping on its own —
 * so a copy or a second map of the same memory is charged again — while the container has an
 * IOMMU domain; without one only what in-kernel users pinned. CAP_IPC_LOCK mappings are free.
 */
export function type1Charges(world: World): Map<number, bigint> {
  const out = new Map<number, bigint>();
  const add = (pid: number, n: bigint) => out.set(pid, (out.get(pid) ?? 0n) + n);
  const { pageSize } = world.config;
  for (const ctx of world.contexts.values()) {
    for (const obj of ctx.objects.values()) {
      if (obj.type !== 'ioas') continue;
      if (obj.domains.length > 0) {
        for (const area of obj.iopt.areas.values()) {
          const pages = ctx.pages.get(area.pages);
          if (pages === undefined || pages.account === 'none') continue;
          add(pages.owner, areaPages(area, pageSize));
        }
      } else {
        for (const id of obj.accesses) {
          const access = ctx.objects.get(id);
          if (access?.type !== 'access') continue;
          for (const item of access.items.values()) {
            for (const h of item.holds) {
              const charge = heldCharge(ctx, h);
              if (charge !== null) add(charge.owner, charge.pages);
            }
          }
        }
      }
    }
  }
  return out;
}

/** The value of every target in one snapshot, read from all of it. */
export function measure(world: World): Targets {
  const m: Targets = new Map();
  for (const [uid, pages] of world.userLockedVm) m.set(uidTarget(uid), { kind: 'uid', pages });
  for (const p of world.processes.values()) {
    m.set(lockedTarget(p.pid), { kind: 'locked_vm', pages: p.lockedVm });
    m.set(pinnedTarget(p.pid), { kind: 'pinned_vm', pages: p.pinnedVm });
  }
  for (const ctx of world.contexts.values()) {
    for (const obj of ctx.objects.values()) {
      if (obj.type !== 'ioas') continue;
      const pinned = new Set<number>();
      for (const area of obj.iopt.areas.values()) pinned.add(area.pages);
      let n = 0n;
      for (const id of pinned) {
        const pages = ctx.pages.get(id);
        if (pages !== undefined) n += pinnedOf(pages);
      }
      m.set(ioasTarget(ctx.id, obj.id), { kind: 'ioas', pages: n });
    }
  }
  for (const [pid, pages] of type1Charges(world)) m.set(type1Target(pid), { kind: 'type1', pages });
  return m;
}

export const totalOf = (targets: Targets, kind: TargetKind): bigint => {
  let n = 0n;
  for (const v of targets.values()) if (v.kind === kind) n += v.pages;
  return n;
};

/** What the tracker keeps of a pages object: what it pins, and whom type1 would charge for it. */
interface PagesView {
  readonly pinned: bigint;
  readonly owner: number;
  /** Its accounting is not `none`. */
  readonly charged: boolean;
}

interface IoasTrack {
  readonly target: string;
  /** The pages objects its areas map: how many areas, and the pages they span. */
  readonly used: Map<number, { areas: number; pages: bigint }>;
  /** The pinned pages of the pages objects in `used`. */
  pinned: bigint;
  /** It has a domain: type1 charges its areas; without one, what its accesses pinned. */
  domains: boolean;
  /** What type1 charges for it, by owner pid. */
  readonly type1: Map<number, bigint>;
  /** Without a domain: the accesses listed and the pages objects their holds read, when `type1` was last read. */
  accesses: readonly number[];
  held: readonly number[];
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
  private last: World | null = null;
  private pageSize = 0n;
  /** Type1 charges by pid, summed over the IOAS. */
  private readonly type1 = new Map<number, bigint>();
  private readonly contexts = new Map<number, CtxTrack>();
  /** The value each target changed in this update had before it (undefined: it had none). */
  private readonly touched = new Map<string, Target | undefined>();

  /** Brings `values` to `world`; whether a target was added, removed or changed its value. */
  update(world: World): boolean {
    const last = this.last;
    this.last = world;
    this.pageSize = world.config.pageSize;
    this.touched.clear();
    world.userLockedVm.changesSince(last?.userLockedVm ?? NO_COUNTERS, (uid, _was, now) => this.put(uidTarget(uid), 'uid', now));
    world.processes.changesSince(last?.processes ?? NO_PROCESSES, (pid, _was, now) => {
      this.put(lockedTarget(pid), 'locked_vm', now?.lockedVm);
      this.put(pinnedTarget(pid), 'pinned_vm', now?.pinnedVm);
    });
    world.contexts.changesSince(last?.contexts ?? NO_CONTEXTS, (id, was, now) => this.updateCtx(id, was, now));
    for (const [target, before] of this.touched) {
      if (this.values.get(target)?.pages !== before?.pages) return true;
    }
    return false;
  }

  /** Sets a target's value (undefined: removes it), remembering the value it had before this update. */
  private put(target: string, kind: TargetKind, pages: bigint | undefined): void {
    const before = this.values.get(target);
    if (!this.touched.has(target)) this.touched.set(target, before);
    if (pages === undefined) this.values.delete(target);
    else if (before?.pages !== pages) this.values.set(target, { kind, pages });
  }

  private addType1(ioas: IoasTrack, pid: number, n: bigint): void {
    if (n === 0n) return;
    const mine = (ioas.type1.get(pid) ?? 0n) + n;
    if (mine === 0n) ioas.type1.delete(pid);
    else ioas.type1.set(pid, mine);
    const total = (this.type1.get(pid) ?? 0n) + n;
    if (total === 0n) this.type1.delete(pid);
    else this.type1.set(pid, total);
    this.put(type1Target(pid), 'type1', total === 0n ? undefined : total);
  }

  /** Type1's charge for `n` pages of an area on a pages object (none when it is gone or not accounted). */
  private chargeArea(ioas: IoasTrack, view: PagesView | undefined, n: bigint): void {
    if (view !== undefined && view.charged) this.addType1(ioas, view.owner, n);
  }

  private clearType1(ioas: IoasTrack): void {
    for (const [pid, n] of [...ioas.type1]) this.addType1(ioas, pid, -n);
  }

  private updateCtx(id: number, was: Ctx | undefined, now: Ctx | undefined): void {
    let track = this.contexts.get(id);
    if (now === undefined) {
      if (track !== undefined) for (const ioas of [...track.ioas.keys()]) this.dropIoas(track, ioas);
      this.contexts.delete(id);
      return;
    }
    if (track === undefined) {
      track = { pages: new Map(), ioas: new Map(), usedBy: new Map(), heldBy: new Map(), listedBy: new Map() };
      this.contexts.set(id, track);
    }
    const t = track;
    // The IOAS without a domain whose type1 charge must be read again from their accesses.
    const stale = new Set<number>();
    // Pages first, with the areas as they were; then the areas, against the pages as they are.
    now.pages.changesSince(was?.pages ?? NO_PAGES, (pagesId, _old, pages) => this.updatePages(t, pagesId, pages, stale));
    now.objects.changesSince(was?.objects ?? NO_OBJECTS, (objId, old, obj) => this.updateObject(id, t, objId, old, obj, stale));
    for (const ioasId of stale) {
      const obj = now.objects.get(ioasId);
      const ioas = t.ioas.get(ioasId);
      if (obj?.type === 'ioas' && ioas !== undefined && !ioas.domains) this.readAccesses(now, t, ioasId, obj, ioas);
    }
  }

  private updatePages(t: CtxTrack, id: number, pages: Pages | undefined, stale: Set<number>): void {
    const old = t.pages.get(id);
    const view = pages === undefined ? undefined : { pinned: pinnedOf(pages), owner: pages.owner, charged: pages.account !== 'none' };
    if (view === undefined) t.pages.delete(id);
    else t.pages.set(id, view);
    for (const ioasId of t.usedBy.get(id) ?? []) {
      const ioas = t.ioas.get(ioasId) as IoasTrack;
      ioas.pinned += (view?.pinned ?? 0n) - (old?.pinned ?? 0n);
      this.put(ioas.target, 'ioas', ioas.pinned);
      if (ioas.domains) {
        const spanned = (ioas.used.get(id) as { pages: bigint }).pages;
        this.chargeArea(ioas, old, -spanned);
        this.chargeArea(ioas, view, spanned);
      }
    }
    for (const ioasId of t.heldBy.get(id) ?? []) stale.add(ioasId);
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
      ioas = { target: ioasTarget(ctx, id), used: new Map(), pinned: 0n, domains: false, type1: new Map(), accesses: [], held: [] };
      t.ioas.set(id, ioas);
      stale.add(id);
    }
    const track = ioas;
    obj.iopt.areas.changesSince(was?.iopt.areas ?? NO_AREAS, (_start, before, area) => {
      if (before !== undefined) this.unuse(t, id, track, before);
      if (area !== undefined) this.use(t, id, track, area);
    });
    const domains = obj.domains.length > 0;
    if (domains !== track.domains) {
      this.clearType1(track);
      this.unlinkAccesses(t, id, track);
      track.domains = domains;
      if (domains) for (const [pagesId, use] of track.used) this.chargeArea(track, t.pages.get(pagesId), use.pages);
      else stale.add(id);
    } else if (!domains && obj.accesses !== track.accesses) {
      stale.add(id);
    }
    this.put(track.target, 'ioas', track.pinned);
  }

  private use(t: CtxTrack, ioasId: number, ioas: IoasTrack, area: Area): void {
    const view = t.pages.get(area.pages);
    let use = ioas.used.get(area.pages);
    if (use === undefined) {
      use = { areas: 0, pages: 0n };
      ioas.used.set(area.pages, use);
      link(t.usedBy, area.pages, ioasId);
      ioas.pinned += view?.pinned ?? 0n;
    }
    const n = areaPages(area, this.pageSize);
    use.areas++;
    use.pages += n;
    if (ioas.domains) this.chargeArea(ioas, view, n);
  }

  private unuse(t: CtxTrack, ioasId: number, ioas: IoasTrack, area: Area): void {
    const view = t.pages.get(area.pages);
    const use = ioas.used.get(area.pages) as { areas: number; pages: bigint };
    const n = areaPages(area, this.pageSize);
    use.areas--;
    use.pages -= n;
    if (ioas.domains) this.chargeArea(ioas, view, -n);
    if (use.areas === 0) {
      ioas.used.delete(area.pages);
      unlink(t.usedBy, area.pages, ioasId);
      ioas.pinned -= view?.pinned ?? 0n;
    }
  }

  /** Type1's charge for an IOAS without a domain: what the in-kernel users of its accesses hold. */
  private readAccesses(ctx: Ctx, t: CtxTrack, ioasId: number, obj: Ioas, ioas: IoasTrack): void {
    this.clearType1(ioas);
    this.unlinkAccesses(t, ioasId, ioas);
    const held: number[] = [];
    for (const id of obj.accesses) {
      link(t.listedBy, id, ioasId);
      const access = ctx.objects.get(id);
      if (access?.type !== 'access') continue;
      for (const item of access.items.values()) {
        for (const h of item.holds) {
          held.push(h.pages);
          link(t.heldBy, h.pages, ioasId);
          const charge = heldCharge(ctx, h);
          if (charge !== null) this.addType1(ioas, charge.owner, charge.pages);
        }
      }
    }
    ioas.accesses = obj.accesses;
    ioas.held = held;
  }

  private unlinkAccesses(t: CtxTrack, ioasId: number, ioas: IoasTrack): void {
    for (const id of ioas.accesses) unlink(t.listedBy, id, ioasId);
    for (const id of ioas.held) unlink(t.heldBy, id, ioasId);
    ioas.accesses = [];
    ioas.held = [];
  }

  private dropIoas(t: CtxTrack, id: number): void {
    const ioas = t.ioas.get(id);
    if (ioas === undefined) return;
    this.clearType1(ioas);
    this.unlinkAccesses(t, id, ioas);
    for (const pagesId of ioas.used.keys()) unlink(t.usedBy, pagesId, id);
    this.put(ioas.target, 'ioas', undefined);
    t.ioas.delete(id);
  }
}
