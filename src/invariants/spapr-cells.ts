/**
 * The SPAPR TCE invariants checked incrementally, as cells of vfio-cells.ts: one per run of TCEs
 * of a container's window, one per pre-registered region of an mm (and per region key TCEs
 * name that no region has). A region's cell compares against the TCEs pointing into it, a count
 * kept up to date from the runs each event changed, and reads the containers holding it, whose
 * changes mark it through an index of holders: an event costs the runs and regions it touched.
 */
import { OrderedMap } from '../model/ordered-map.ts';
import type { World } from '../model/world.ts';
import type { PreregRegion, SpaprMm, SpaprTce, TceRun } from '../vfio/spapr-state.ts';
import type { Container } from '../vfio/state.ts';
import type { CellPath } from './cell-store.ts';
import { type MappedTally, checkRegion, checkTceRun, runsOf, spaprOf, tallyRun } from './spapr-checks.ts';
import type { Violation } from './state-checks.ts';

// [3, 0, container, slot, first entry] a run of TCEs, after the container's own cell;
// [3, 2, pid, region key] a region, after the groups' [3, 1, group].
const VFIO_CELLS = 3;
const CONTAINERS = 0;
export const REGIONS = 2;

export const runPath = (id: number, slot: 0 | 1, start: bigint): CellPath => [VFIO_CELLS, CONTAINERS, id, slot, start];
const regionPath = (pid: number, key: bigint): CellPath => [VFIO_CELLS, REGIONS, pid, key];

const NO_RUNS = OrderedMap.empty<bigint, TceRun>();
const NO_MMS = OrderedMap.empty<number, SpaprMm>();
const NO_REGIONS = OrderedMap.empty<bigint, PreregRegion>();

export class SpaprCells {
  private readonly tally: MappedTally = new Map();
  /** Container id → the regions whose holders name it, by `pid:key`. */
  private readonly holding = new Map<number, Map<string, CellPath>>();

  /** A container changed: its runs move in the tally, and the cells reading them or it are marked. */
  container(id: number, was: Container | undefined, now: Container | undefined, mark: (path: CellPath) => void): void {
    const a = spaprOf(was);
    const b = spaprOf(now);
    if (a === b) return;
    for (const path of this.holding.get(id)?.values() ?? []) mark(path);
    if (a === undefined || b === undefined || a.mm !== b.mm || a.v2 !== b.v2) {
      // Every run is read anew, and counted under the mm the container has now.
      for (const [driver, sign] of [[a, -1n], [b, 1n]] as const) {
        for (const { iommu, slot, start, run } of runsOf(driver)) {
          mark(runPath(id, slot, start));
          this.count(iommu, run, sign, mark);
        }
      }
      return;
    }
    for (const slot of [0, 1] as const) this.window(id, a, b, slot, mark);
  }

  /** One window of a container whose mm stayed: the runs that changed, or all when the window moved. */
  private window(id: number, was: SpaprTce, now: SpaprTce, slot: 0 | 1, mark: (path: CellPath) => void): void {
    const before = was.tables[slot];
    const after = now.tables[slot];
    if (before === after) return;
    const tces = after?.tces ?? NO_RUNS;
    tces.changesSince(before?.tces ?? NO_RUNS, (start, o, n) => {
      if (o !== undefined) this.count(now, o, -1n, mark);
      if (n !== undefined) this.count(now, n, 1n, mark);
      mark(runPath(id, slot, start));
      // The next run's predecessor changed.
      const next = tces.above(start);
      if (next !== undefined) mark(runPath(id, slot, next[0]));
    });
    const moved = before === null || after === null || before.offset !== after.offset || before.size !== after.size || before.pageShift !== after.pageShift;
    if (moved) for (const start of tces.keys()) mark(runPath(id, slot, start));
  }

  private count(iommu: SpaprTce, run: TceRun, sign: 1n | -1n, mark: (path: CellPath) => void): void {
    const key = tallyRun(this.tally, iommu.mm, run, sign);
    if (key !== null) mark(regionPath(iommu.mm as number, key));
  }

  /** The mms' regions that changed, the next region of each, and the index of their holders. */
  mms(was: World | null, now: World, mark: (path: CellPath) => void): void {
    now.vfio.spaprMms.changesSince(was?.vfio.spaprMms ?? NO_MMS, (pid, o, n) => {
      const regions = n?.regions ?? NO_REGIONS;
      regions.changesSince(o?.regions ?? NO_REGIONS, (key, ro, rn) => {
        const path = regionPath(pid, key);
        mark(path);
        const next = regions.above(key);
        if (next !== undefined) mark(regionPath(pid, next[0]));
        for (const h of ro?.holders ?? []) this.hold(h, `${pid}:${key}`, null);
        for (const h of rn?.holders ?? []) this.hold(h, `${pid}:${key}`, path);
      });
    });
  }

  private hold(container: number, region: string, path: CellPath | null): void {
    const held = this.holding.get(container) ?? new Map<string, CellPath>();
    if (path === null) held.delete(region);
    else held.set(region, path);
    if (held.size === 0) this.holding.delete(container);
    else this.holding.set(container, held);
  }

  /** Checks a run's or a region's cell; one whose subject is gone has no violation (but TCEs naming a missing region). */
  cell(world: World, path: CellPath): Violation[] {
    const out: Violation[] = [];
    if (path[1] === REGIONS) {
      const pid = path[2] as number;
      const key = path[3] as bigint;
      const regions = world.vfio.spaprMms.get(pid)?.regions;
      checkRegion(world, pid, key, regions?.get(key), regions?.atOrBelow(key - 1n)?.[1], this.tally.get(pid)?.get(key) ?? 0n, out);
      return out;
    }
    const id = path[2] as number;
    const slot = path[3] as 0 | 1;
    const start = path[4] as bigint;
    const iommu = spaprOf(world.vfio.containers.get(id));
    const table = iommu?.tables[slot] ?? null;
    const run = table?.tces.get(start);
    if (iommu !== undefined && table !== null && run !== undefined) checkTceRun(world, id, iommu, slot, table, start, run, table.tces.atOrBelow(start - 1n)?.[1], out);
    return out;
  }
}
