/**
 * What changed between two snapshots of one trace: processes, contexts and objects created and
 * gone, areas added, split and removed, pages objects and their pins, and every counter. The
 * model's collections are persistent B-trees that share what neither snapshot changed, so the
 * walk (`OrderedMap.changesSince`) visits only what differs: the cost follows the change, not
 * the state. Records compare by identity: a record no command revised is the same object.
 */
import type { OrderedMap } from '../../src/model/ordered-map.ts';
import type { Area, Ctx, IommuObject, Pages, Process, World } from '../../src/model/world.ts';
import { ContextNames } from './context-names.ts';
import { areaView, hex, objectView, pinnedPages } from './object-view.ts';
import type { AreaView, EventRef, Hex } from './view-types.ts';

export interface Change<T> {
  readonly from: T;
  readonly to: T;
}

export interface ObjectRefView {
  /** `CTX/ID`. */
  readonly object: string;
  readonly type: string;
}

export interface AreaChange {
  readonly ioas: string;
  readonly area: AreaView;
}

export interface DiffView {
  readonly processes: {
    readonly created: readonly number[];
    readonly exited: readonly number[];
    readonly counters: readonly { readonly pid: number; readonly locked_vm?: Change<Hex>; readonly pinned_vm?: Change<Hex> }[];
    readonly fds_opened: readonly { readonly pid: number; readonly fd: number }[];
    readonly fds_closed: readonly { readonly pid: number; readonly fd: number }[];
  };
  readonly users: readonly { readonly uid: number; readonly locked_vm: Change<Hex> }[];
  readonly contexts: { readonly opened: readonly string[]; readonly closed: readonly string[] };
  readonly objects: {
    readonly created: readonly ObjectRefView[];
    readonly destroyed: readonly ObjectRefView[];
    /** Objects in both whose lifecycle state or users count moved. */
    readonly changed: readonly (ObjectRefView & { readonly state?: Change<string>; readonly users?: Change<number> })[];
  };
  readonly areas: {
    readonly added: readonly AreaChange[];
    readonly removed: readonly AreaChange[];
    /** An area cut into the pieces (of the same pages object) that remain of it; the rest was removed. */
    readonly split: readonly { readonly ioas: string; readonly was: AreaView; readonly into: readonly AreaView[] }[];
  };
  readonly pages: {
    readonly created: readonly PagesCount[];
    readonly destroyed: readonly PagesCount[];
    readonly changed: readonly { readonly pages: string; readonly pinned_pages?: Change<number>; readonly charged_pages?: Change<number>; readonly area_refs?: Change<number> }[];
  };
}

export interface PagesCount {
  /** `CTX/pages N`. */
  readonly pages: string;
  readonly pinned_pages: number;
  readonly charged_pages: number;
}

export interface DiffDocument {
  readonly file: string;
  readonly from: EventRef;
  readonly to: EventRef;
  readonly changes: DiffView;
}

/** Every key of two maps whose value differs, with both values. */
function changes<K extends number | bigint, V>(older: OrderedMap<K, V>, newer: OrderedMap<K, V>): [K, V | undefined, V | undefined][] {
  const out: [K, V | undefined, V | undefined][] = [];
  newer.changesSince(older, (k, was, now) => out.push([k, was, now]));
  return out;
}

const change = <T>(from: T, to: T): Change<T> | undefined => (from === to ? undefined : { from, to });
/** `T` with the fields that may be undefined made optional instead. */
type Defined<T> = { [K in keyof T as undefined extends T[K] ? never : K]: T[K] } & { [K in keyof T as undefined extends T[K] ? K : never]?: Exclude<T[K], undefined> };
/** The fields of `o` that are not undefined, so that what did not change is left out. */
const defined = <T extends object>(o: T): Defined<T> => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Defined<T>;

class DiffBuilder {
  readonly out = {
    processes: { created: [] as number[], exited: [] as number[], counters: [] as DiffView['processes']['counters'][number][], fds_opened: [] as { pid: number; fd: number }[], fds_closed: [] as { pid: number; fd: number }[] },
    users: [] as DiffView['users'][number][],
    contexts: { opened: [] as string[], closed: [] as string[] },
    objects: { created: [] as ObjectRefView[], destroyed: [] as ObjectRefView[], changed: [] as DiffView['objects']['changed'][number][] },
    areas: { added: [] as AreaChange[], removed: [] as AreaChange[], split: [] as DiffView['areas']['split'][number][] },
    pages: { created: [] as PagesCount[], destroyed: [] as PagesCount[], changed: [] as DiffView['pages']['changed'][number][] },
  };
  private readonly namesA: ContextNames;
  private readonly namesB: ContextNames;

  constructor(
    private readonly a: World,
    private readonly b: World,
  ) {
    this.namesA = new ContextNames(a);
    this.namesB = new ContextNames(b);
  }

  /** A context by the name it has in the later snapshot, else in the earlier one. */
  private ctxName(id: number): string {
    return this.b.contexts.has(id) ? this.namesB.name(id) : this.namesA.name(id);
  }

  private bytes(pages: bigint): Hex {
    return hex(pages * this.a.config.pageSize);
  }

  processes(): void {
    const p = this.out.processes;
    for (const [pid, was, now] of changes(this.a.processes, this.b.processes)) {
      if (was === undefined) p.created.push(pid);
      else if (now === undefined) p.exited.push(pid);
      if (was === undefined || now === undefined) continue;
      const counters = defined({
        pid,
        locked_vm: change(this.bytes(was.lockedVm), this.bytes(now.lockedVm)),
        pinned_vm: change(this.bytes(was.pinnedVm), this.bytes(now.pinnedVm)),
      });
      if (Object.keys(counters).length > 1) p.counters.push(counters);
      this.fds(pid, was, now);
    }
    for (const [uid, was, now] of changes(this.a.userLockedVm, this.b.userLockedVm)) {
      const locked = change(this.bytes(was ?? 0n), this.bytes(now ?? 0n));
      if (locked !== undefined) this.out.users.push({ uid, locked_vm: locked });
    }
  }

  private fds(pid: number, was: Process, now: Process): void {
    for (const [fd, before, after] of changes(was.fds, now.fds)) {
      if (before !== undefined) this.out.processes.fds_closed.push({ pid, fd });
      if (after !== undefined) this.out.processes.fds_opened.push({ pid, fd });
    }
  }

  contexts(): void {
    for (const [id, was, now] of changes(this.a.contexts, this.b.contexts)) {
      if (was === undefined) this.out.contexts.opened.push(this.ctxName(id));
      if (now === undefined) this.out.contexts.closed.push(this.ctxName(id));
      this.context(id, was, now);
    }
  }

  private context(id: number, was: Ctx | undefined, now: Ctx | undefined): void {
    const name = this.ctxName(id);
    const none = { objects: undefined, pages: undefined };
    const before = was ?? none;
    const after = now ?? none;
    const objects = (c: typeof before) => c.objects as OrderedMap<number, IommuObject> | undefined;
    const pagesOf = (c: typeof before) => c.pages as OrderedMap<number, Pages> | undefined;
    for (const [oid, o, n] of pairs(objects(before), objects(after))) this.object(`${name}/${oid}`, o, n);
    for (const [pid, o, n] of pairs(pagesOf(before), pagesOf(after))) this.pagesObject(`${name}/pages ${pid}`, o, n);
  }

  private object(ref: string, was: IommuObject | undefined, now: IommuObject | undefined): void {
    const o = this.out.objects;
    if (now === undefined) {
      if (was !== undefined) o.destroyed.push({ object: ref, type: was.type });
      if (was?.type === 'ioas') for (const area of was.iopt.areas.values()) this.out.areas.removed.push({ ioas: ref, area: areaView(area) });
      return;
    }
    if (was === undefined) {
      o.created.push({ object: ref, type: now.type });
      if (now.type === 'ioas') for (const area of now.iopt.areas.values()) this.out.areas.added.push({ ioas: ref, area: areaView(area) });
      return;
    }
    const [before, after] = [objectView(was), objectView(now)];
    if ('state' in before && 'state' in after) {
      const moved = defined({ object: ref, type: now.type, state: change(before.state, after.state), users: change(before.users, after.users) });
      if (Object.keys(moved).length > 2) o.changed.push(moved);
    }
    if (was.type === 'ioas' && now.type === 'ioas') this.areas(ref, was.iopt.areas, now.iopt.areas);
  }

  /** An area removed whose IOVAs now hold areas mapping the same bytes of its pages object was split into those. */
  private areas(ioas: string, was: OrderedMap<bigint, Area>, now: OrderedMap<bigint, Area>): void {
    const removed: Area[] = [];
    const added: Area[] = [];
    for (const [, before, after] of changes(was, now)) {
      // A record revised back to what it was is no change.
      if (before !== undefined && after !== undefined && sameArea(before, after)) continue;
      if (before !== undefined) removed.push(before);
      if (after !== undefined) added.push(after);
    }
    const pieces = new Set<Area>();
    for (const r of removed) {
      // A piece maps the very bytes the area mapped at those IOVAs.
      const into = added.filter((a) => a.pages === r.pages && a.prot === r.prot && a.start >= r.start && a.last <= r.last && a.startByte - r.startByte === a.start - r.start);
      if (into.length === 0) {
        this.out.areas.removed.push({ ioas, area: areaView(r) });
        continue;
      }
      for (const a of into) pieces.add(a);
      this.out.areas.split.push({ ioas, was: areaView(r), into: into.map(areaView) });
    }
    for (const a of added) if (!pieces.has(a)) this.out.areas.added.push({ ioas, area: areaView(a) });
  }

  private pagesObject(ref: string, was: Pages | undefined, now: Pages | undefined): void {
    const p = this.out.pages;
    const count = (x: Pages): PagesCount => ({ pages: ref, pinned_pages: pinnedPages(x), charged_pages: Number(x.charged) });
    if (now === undefined) {
      if (was !== undefined) p.destroyed.push(count(was));
      return;
    }
    if (was === undefined) {
      p.created.push(count(now));
      return;
    }
    const moved = defined({
      pages: ref,
      pinned_pages: change(pinnedPages(was), pinnedPages(now)),
      charged_pages: change(Number(was.charged), Number(now.charged)),
      area_refs: change(was.areaRefs, now.areaRefs),
    });
    if (Object.keys(moved).length > 1) p.changed.push(moved);
  }
}

const sameArea = (a: Area, b: Area): boolean => a.start === b.start && a.last === b.last && a.pages === b.pages && a.startByte === b.startByte && a.prot === b.prot;

/** `changes` of two maps either of which may be missing (a context opened or closed between). */
function pairs<K extends number | bigint, V>(a: OrderedMap<K, V> | undefined, b: OrderedMap<K, V> | undefined): [K, V | undefined, V | undefined][] {
  if (a !== undefined && b !== undefined) return changes(a, b);
  if (a !== undefined) return [...a].map(([k, v]) => [k, v, undefined]);
  if (b !== undefined) return [...b].map(([k, v]) => [k, undefined, v]);
  return [];
}

/** What changed from snapshot `a` to snapshot `b` (`b` later in the same trace). */
export function diffWorlds(a: World, b: World): DiffView {
  const d = new DiffBuilder(a, b);
  d.processes();
  d.contexts();
  return d.out;
}
