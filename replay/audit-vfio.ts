/**
 * Native VFIO containers and SPAPR mms as the audit's accounting targets: what each type1
 * container charged each process (`Type1.charged`), what each SPAPR container charged its mm
 * for its TCE tables and v1's window, what each mm's pre-registered regions cost; and their
 * mappings, fed to the other accountings' yardsticks. `measureVfio` reads a whole snapshot;
 * `VfioTargets` follows a line of them by what changed between two.
 */
import { OrderedMap } from '../src/model/ordered-map.ts';
import type { World } from '../src/model/world.ts';
import { containerPages, mmPages } from '../src/vfio/spapr-accounting.ts';
import type { PreregRegion, SpaprMm, SpaprTce, TceRun, TceTable } from '../src/vfio/spapr-state.ts';
import type { Container, Type1, VfioDma } from '../src/vfio/state.ts';
import type { Ledgers } from './audit-ledgers.ts';
import { nativeMapping, tceMapping } from './audit-mappings.ts';

export type VfioKind = 'type1_container' | 'spapr_container' | 'spapr_mm';

/** Sets a target's value; undefined removes it. */
export type Put = (target: string, kind: VfioKind, pages: bigint | undefined) => void;

export const type1Target = (container: number, pid: number): string => `container ${container} type1 locked_vm (pid ${pid})`;
export const tceTarget = (container: number, pid: number): string => `container ${container} SPAPR TCE locked_vm (pid ${pid})`;
export const preregTarget = (pid: number): string => `pid ${pid} SPAPR pre-registered locked_vm`;

const NO_CHARGES = OrderedMap.empty<number, bigint>();
const NO_DMAS = OrderedMap.empty<bigint, VfioDma>();
const NO_TCES = OrderedMap.empty<bigint, TceRun>();
const NO_CONTAINERS = OrderedMap.empty<number, Container>();
const NO_MMS = OrderedMap.empty<number, SpaprMm>();
const NO_REGIONS = OrderedMap.empty<bigint, PreregRegion>();

const nonZero = (n: bigint): bigint | undefined => (n === 0n ? undefined : n);
const type1Of = (c: Container | undefined): Type1 | undefined => (c?.driver?.kind === 'type1' ? c.driver.iommu : undefined);
const spaprOf = (c: Container | undefined): SpaprTce | undefined => (c?.driver?.kind === 'spapr_tce' ? c.driver.iommu : undefined);

/** The native targets of a whole snapshot, and its native mappings given to `ledgers`. */
export function measureVfio(world: World, put: Put, ledgers: Ledgers): void {
  const { pageSize } = world.config;
  for (const [id, container] of world.vfio.containers) {
    const type1 = type1Of(container);
    for (const [pid, pages] of type1?.charged ?? []) {
      put(type1Target(id, pid), 'type1_container', nonZero(pages));
      ledgers.add('type1', pid, pages);
    }
    for (const dma of type1?.dmas.values() ?? []) nativeMapping(ledgers, pageSize, id, dma, 1);
    const spapr = spaprOf(container);
    if (spapr === undefined || spapr.mm === null) continue;
    const pages = containerPages(spapr);
    put(tceTarget(id, spapr.mm), 'spapr_container', nonZero(pages));
    ledgers.add('spapr', spapr.mm, pages);
    spapr.tables.forEach((table, slot) => {
      for (const run of table?.tces.values() ?? []) tceMapping(world, ledgers, id, slot, table as TceTable, run, spapr.mm as number, 1);
    });
  }
  for (const [pid, mm] of world.vfio.spaprMms) {
    const pages = mmPages(mm);
    put(preregTarget(pid), 'spapr_mm', nonZero(pages));
    ledgers.add('spapr', pid, pages);
  }
}

/** How a process uses its pre-registered memory: the runs of TCEs into it, and the windows that hold them. */
export interface PreregUse {
  mappings: number;
  windows: number;
}

/** The native targets of a line of snapshots, each brought up to date from the one before. */
export class VfioTargets {
  /** What each mm's pre-registered regions and leaked table charges cost, by pid. */
  private readonly mms = new Map<number, bigint>();
  /** By pid, how its pre-registered memory is used now; the pids whose use changed in the last update. */
  readonly prereg = new Map<number, PreregUse>();
  readonly preregChanged = new Set<number>();
  /** Runs of TCEs into pre-registered memory per window (`container:slot`). */
  private readonly windowRuns = new Map<string, number>();

  update(world: World, last: World | null, put: Put, ledgers: Ledgers): void {
    this.preregChanged.clear();
    world.vfio.containers.changesSince(last?.vfio.containers ?? NO_CONTAINERS, (id, was, now) => {
      const [type1Was, type1Now] = [type1Of(was), type1Of(now)];
      if (type1Was !== type1Now) this.updateType1(world, put, ledgers, id, type1Was, type1Now);
      const [spaprWas, spaprNow] = [spaprOf(was), spaprOf(now)];
      if (spaprWas !== spaprNow) this.updateSpapr(world, put, ledgers, id, spaprWas, spaprNow);
    });
    world.vfio.spaprMms.changesSince(last?.vfio.spaprMms ?? NO_MMS, (pid, was, now) => this.updateMm(put, ledgers, pid, was, now));
  }

  private updateType1(world: World, put: Put, ledgers: Ledgers, id: number, was: Type1 | undefined, now: Type1 | undefined): void {
    (now?.charged ?? NO_CHARGES).changesSince(was?.charged ?? NO_CHARGES, (pid, before, after) => {
      put(type1Target(id, pid), 'type1_container', after);
      ledgers.add('type1', pid, (after ?? 0n) - (before ?? 0n));
    });
    const { pageSize } = world.config;
    (now?.dmas ?? NO_DMAS).changesSince(was?.dmas ?? NO_DMAS, (_start, before, after) => {
      if (before !== undefined) nativeMapping(ledgers, pageSize, id, before, -1);
      if (after !== undefined) nativeMapping(ledgers, pageSize, id, after, 1);
    });
  }

  /** A SPAPR container's charge and TCEs, which count for its mm once it has one. */
  private updateSpapr(world: World, put: Put, ledgers: Ledgers, id: number, was: SpaprTce | undefined, now: SpaprTce | undefined): void {
    const before = was?.mm ?? null;
    const after = now?.mm ?? null;
    if (before !== null) {
      if (before !== after) put(tceTarget(id, before), 'spapr_container', undefined);
      ledgers.add('spapr', before, -containerPages(was as SpaprTce));
    }
    if (after !== null) {
      const pages = containerPages(now as SpaprTce);
      put(tceTarget(id, after), 'spapr_container', nonZero(pages));
      ledgers.add('spapr', after, pages);
    }
    for (const slot of [0, 1] as const) {
      const old = before === null ? null : (was as SpaprTce).tables[slot];
      const table = after === null ? null : (now as SpaprTce).tables[slot];
      if (old === table) continue;
      // TCEs are keyed by entry, which names the same bus address only at the same page size.
      const diff = old !== null && table !== null && before === after && old.pageShift === table.pageShift;
      const visit = (_entry: bigint, gone: TceRun | undefined, come: TceRun | undefined) => {
        if (gone !== undefined) {
          tceMapping(world, ledgers, id, slot, old as TceTable, gone, before as number, -1);
          if (gone.region !== null) this.countRun(before as number, `${id}:${slot}`, -1);
        }
        if (come !== undefined) {
          tceMapping(world, ledgers, id, slot, table as TceTable, come, after as number, 1);
          if (come.region !== null) this.countRun(after as number, `${id}:${slot}`, 1);
        }
      };
      if (diff) table.tces.changesSince(old.tces, visit);
      else {
        NO_TCES.changesSince(old?.tces ?? NO_TCES, visit);
        (table?.tces ?? NO_TCES).changesSince(NO_TCES, visit);
      }
    }
  }

  /** One run of TCEs more (or less) into `pid`'s pre-registered memory, in window `window`. */
  private countRun(pid: number, window: string, delta: 1 | -1): void {
    const runs = (this.windowRuns.get(window) ?? 0) + delta;
    if (runs === 0) this.windowRuns.delete(window);
    else this.windowRuns.set(window, runs);
    let use = this.prereg.get(pid);
    if (use === undefined) this.prereg.set(pid, (use = { mappings: 0, windows: 0 }));
    use.mappings += delta;
    if (runs === (delta > 0 ? 1 : 0)) use.windows += delta;
    if (use.mappings === 0) this.prereg.delete(pid);
    this.preregChanged.add(pid);
  }

  /** An mm's pre-registered pages, from the regions that changed. */
  private updateMm(put: Put, ledgers: Ledgers, pid: number, was: SpaprMm | undefined, now: SpaprMm | undefined): void {
    let delta = (now?.leakedTablePages ?? 0n) - (was?.leakedTablePages ?? 0n);
    (now?.regions ?? NO_REGIONS).changesSince(was?.regions ?? NO_REGIONS, (_key, before, after) => {
      delta += (after?.entries ?? 0n) - (before?.entries ?? 0n);
    });
    if (delta === 0n) return;
    const pages = (this.mms.get(pid) ?? 0n) + delta;
    if (pages === 0n) this.mms.delete(pid);
    else this.mms.set(pid, pages);
    put(preregTarget(pid), 'spapr_mm', nonZero(pages));
    ledgers.add('spapr', pid, delta);
  }
}
