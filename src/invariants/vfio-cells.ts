/**
 * The VFIO invariants checked incrementally, as cells of incremental.ts: one per native
 * container, one per type1 mapping, one per group, and SPAPR TCE's (spapr-cells.ts). What
 * changed is read from the persistent maps, as for iommufd: the open files, the groups, the
 * containers and, inside a type1 container, its mappings; what a container's cell compares
 * against (its mappings' charges and invalidated vaddrs, the files naming it) is kept up to
 * date from those changes, so an event costs the mappings it touched.
 */
import { OrderedMap } from '../model/ordered-map.ts';
import type { OpenFile, World } from '../model/world.ts';
import type { Container, VfioDma, VfioGroup } from '../vfio/state.ts';
import type { CellPath } from './cell-store.ts';
import { REGIONS, SpaprCells } from './spapr-cells.ts';
import type { Violation } from './state-checks.ts';
import { type DmaTally, checkBound, checkContainer, checkDma, checkGroup, emptyFiles, emptyTally, fileOfVfio, tallyDma, type1Of } from './vfio-checks.ts';

/** The first step of every VFIO cell's path: after iommufd's contexts (0), processes (1) and uids (2), as `checkWorld` visits them. */
export const VFIO_CELLS = 3;
// [3, 0, container], [3, 0, container, mapping], [3, 1, group]; SPAPR's runs and regions (spapr-cells.ts).
const CONTAINERS = 0;
const GROUPS = 1;
/** [3, 3, device]: a bound header device and the object it is bound as (after SPAPR's regions, 2). */
const DEVICES = 3;

const containerPath = (id: number): CellPath => [VFIO_CELLS, CONTAINERS, id];
const dmaPath = (id: number, key: bigint): CellPath => [VFIO_CELLS, CONTAINERS, id, key];
const groupPath = (id: number): CellPath => [VFIO_CELLS, GROUPS, id];
const devicePath = (index: number): CellPath => [VFIO_CELLS, DEVICES, index];

const NO_FILES = OrderedMap.empty<number, OpenFile>();
const NO_GROUPS = OrderedMap.empty<number, VfioGroup>();
const NO_CONTAINERS = OrderedMap.empty<number, Container>();
const NO_DMAS = OrderedMap.empty<bigint, VfioDma>();
const NO_IDS: readonly number[] = [];

export class VfioCells {
  private readonly files = emptyFiles();
  private readonly tallies = new Map<number, DmaTally>();
  private readonly spapr = new SpaprCells();

  /** Marks the cells that read what changed since `was` (null: nothing checked yet). */
  changes(was: World | null, now: World, mark: (path: CellPath) => void): void {
    now.files.changesSince(was?.files ?? NO_FILES, (_, o, n) => {
      for (const [file, sign] of [[o, -1], [n, 1]] as const) {
        const concerns = file === undefined ? null : fileOfVfio(this.files, file, sign);
        if (concerns !== null) mark('container' in concerns ? containerPath(concerns.container) : groupPath(concerns.group));
      }
    });
    now.vfio.groups.changesSince(was?.vfio.groups ?? NO_GROUPS, (id, o, n) => {
      mark(groupPath(id));
      for (const c of [o?.container, n?.container]) if (c !== undefined && c !== null) mark(containerPath(c));
    });
    now.vfio.containers.changesSince(was?.vfio.containers ?? NO_CONTAINERS, (id, o, n) => {
      this.container(id, o, n, mark);
      this.spapr.container(id, o, n, mark);
    });
    this.spapr.mms(was, now, mark);
    // A handful of header devices, read again whenever a context or a device changed.
    if (was?.devices !== now.devices || was.contexts !== now.contexts) now.devices.forEach((_, index) => mark(devicePath(index)));
  }

  private container(id: number, was: Container | undefined, now: Container | undefined, mark: (path: CellPath) => void): void {
    mark(containerPath(id));
    const listedBefore = was?.groups ?? NO_IDS;
    const listed = now?.groups ?? NO_IDS;
    if (listedBefore !== listed) for (const g of [...listedBefore, ...listed]) mark(groupPath(g));
    const tally = this.tallies.get(id) ?? emptyTally();
    const dmas = type1Of(now)?.dmas ?? NO_DMAS;
    dmas.changesSince(type1Of(was)?.dmas ?? NO_DMAS, (key, o, n) => {
      if (o !== undefined) tallyDma(tally, o, -1);
      if (n !== undefined) tallyDma(tally, n, 1);
      mark(dmaPath(id, key));
      // The next mapping's predecessor changed.
      const next = dmas.above(key);
      if (next !== undefined) mark(dmaPath(id, next[0]));
    });
    if (type1Of(now) === undefined) this.tallies.delete(id);
    else this.tallies.set(id, tally);
  }

  /** Checks one VFIO cell of `world`; a cell whose subject is gone has no violation (but a container files still name). */
  cell(world: World, path: CellPath): Violation[] {
    if (path[1] === REGIONS || path.length === 5) return this.spapr.cell(world, path);
    const out: Violation[] = [];
    const id = path[2] as number;
    if (path[1] === DEVICES) {
      checkBound(world, id, out);
      return out;
    }
    if (path[1] === GROUPS) {
      const group = world.vfio.groups.get(id);
      if (group !== undefined) checkGroup(world, group, this.files.groups.get(id), out);
      return out;
    }
    const container = world.vfio.containers.get(id);
    if (path.length === 3) {
      checkContainer(world, id, container, this.tallies.get(id) ?? emptyTally(), this.files.containers.get(id) ?? 0, out);
      return out;
    }
    const key = path[3] as bigint;
    const dmas = type1Of(container)?.dmas;
    const dma = dmas?.get(key);
    if (dmas !== undefined && dma !== undefined) checkDma(world, id, key, dma, dmas.atOrBelow(key - 1n)?.[1], out);
    return out;
  }
}
