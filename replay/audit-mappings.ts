/**
 * The mappings of each API as the other accountings see them (audit-ledgers.ts): an IOAS area
 * or a SPAPR TCE run as a mapping of a shadow type1 container, a native type1 mapping as
 * memory iommufd could share and SPAPR would pre-register, the pages an iommufd pages object
 * pins as memory SPAPR would pre-register.
 */
import type { Area, Ctx, Ioas, Pages, PinRun, World } from '../src/model/world.ts';
import { remotePages } from '../src/vfio/container/type1-dma.ts';
import type { TceDirection, TceRun, TceTable } from '../src/vfio/spapr-state.ts';
import type { VfioDma } from '../src/vfio/state.ts';
import type { Ledgers } from './audit-ledgers.ts';

const IOMMU_READ = 1;
const IOMMU_WRITE = 2;

/** What the audit keeps of a pages object: what its areas map from and what it pins, of whose memory. */
export interface PagesView {
  readonly owner: number;
  /** Its first byte's page-aligned address (user VA, or file offset). */
  readonly base: bigint;
  /** Where its pages are: the owner's address space, or a file. */
  readonly space: string;
  readonly pins: readonly PinRun[];
  readonly pinned: bigint;
  /**
   * A dma-buf's device memory: no shadow type1 mapping stands for it, as type1 charges none
   * of a BAR mapped by its address (`vfio_pin_pages_remote()`: reserved pfns).
   */
  readonly device: boolean;
}

export function pagesView(pageSize: bigint, pages: Pages, pinned: bigint): PagesView {
  return {
    owner: pages.owner,
    base: pages.start - (pages.start % pageSize),
    space: pages.kind === 'file' ? `file ${pages.file}` : 'va',
    pins: pages.pins,
    pinned,
    device: pages.kind === 'dmabuf',
  };
}

/** SPAPR's yardstick for the pages an iommufd pages object pins: each pre-registered once per mm. */
export function coverPins(ledgers: Ledgers, pageSize: bigint, view: PagesView, delta: 1 | -1): void {
  const first = view.base / pageSize;
  for (const run of view.pins) ledgers.cover(view.owner, view.space, first + run.first, first + run.last, delta);
}

/**
 * An IOAS area as a mapping of its IOAS's shadow type1 container, charged as `withCharge` says.
 * The owner's CAP_IPC_LOCK does not matter: type1 charges `locked_vm` all the same, the
 * capability only lifts RLIMIT_MEMLOCK (`__account_locked_vm()`), where iommufd charges such
 * pages to nobody.
 */
export function areaDma(pageSize: bigint, area: Area, view: PagesView, held: ReadonlyMap<bigint, bigint> | null): VfioDma {
  const dma: VfioDma = {
    start: area.start,
    last: area.last,
    vaddr: view.base + area.startByte,
    prot: area.prot,
    vaddrInvalid: false,
    owner: view.owner,
    lockCap: false,
    lockedVm: 0n,
    pins: [],
  };
  return withCharge(pageSize, dma, held);
}

/**
 * A shadow mapping of an IOAS with what type1 charges for it: with an IOMMU domain (`held`
 * null), every page, pinned at map time (`vfio_pin_map_dma()`); without one, what `held` says
 * the IOAS's accesses pin of it.
 */
export const withCharge = (pageSize: bigint, dma: VfioDma, held: ReadonlyMap<bigint, bigint> | null): VfioDma => ({
  ...dma,
  lockedVm: held === null ? remotePages(pageSize, dma.vaddr, dma.last - dma.start + 1n) : (held.get(dma.start) ?? 0n),
});

/**
 * What type1 charges for the mappings of a container with no IOMMU domain: nothing at map time
 * (`vfio_dma_do_map()` pins only with a domain), then each page an emulated device pins, once
 * per mapping and IOVA however many pin it (`vfio_iommu_type1_pin_pages()`: a page already in
 * the mapping's `pfn_list` is not charged again). An IOAS's accesses stand for those devices:
 * the pages their holds keep, by area. `pages` lists the pages objects the holds read.
 */
export function heldByArea(ctx: Ctx, ioas: Ioas): { byArea: Map<bigint, bigint>; pages: number[] } {
  const ranges = new Map<bigint, [bigint, bigint][]>();
  const pagesRead: number[] = [];
  for (const id of ioas.accesses) {
    const access = ctx.objects.get(id);
    if (access?.type !== 'access') continue;
    for (const item of access.items.values()) {
      for (const h of item.holds) {
        pagesRead.push(h.pages);
        const held = ctx.pages.get(h.pages)?.holds.find((x) => x.key === h.key);
        if (held === undefined) continue;
        let list = ranges.get(h.area);
        if (list === undefined) ranges.set(h.area, (list = []));
        list.push([held.first, held.last]);
      }
    }
  }
  const byArea = new Map<bigint, bigint>();
  for (const [area, list] of ranges) byArea.set(area, unionSize(list));
  return { byArea, pages: pagesRead };
}

/** How many indexes the ranges cover together. */
function unionSize(ranges: [bigint, bigint][]): bigint {
  ranges.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  let n = 0n;
  let end = -1n;
  for (const [first, last] of ranges) {
    const from = first > end ? first : end + 1n;
    if (last >= from) n += last - from + 1n;
    if (last > end) end = last;
  }
  return n;
}

/**
 * iommufd's and SPAPR's yardsticks for a native type1 container's mapping: its memory as an
 * IOAS_MAP or a copy (iommufd), and as pages pre-registered once (SPAPR).
 */
export function nativeMapping(ledgers: Ledgers, pageSize: bigint, container: number, dma: VfioDma, delta: 1 | -1): void {
  const size = dma.last - dma.start + 1n;
  ledgers.share(`type1 ${container}`, dma.owner, dma.vaddr, size, remotePages(pageSize, dma.vaddr, size), delta);
  ledgers.cover(dma.owner, 'va', dma.vaddr / pageSize, (dma.vaddr + size - 1n) / pageSize, delta);
}

const PROT: { readonly [D in TceDirection]: number } = { bidirectional: IOMMU_READ | IOMMU_WRITE, to_device: IOMMU_READ, from_device: IOMMU_WRITE };

/**
 * Type1's and iommufd's yardsticks for a run of TCEs of SPAPR container `container`'s window
 * `slot`, in `owner`'s memory: a mapping of the window's shadow type1 container at the run's
 * bus address, charging every page under it as `vfio_pin_pages_remote()` would; and its memory
 * as an IOAS_MAP or a copy.
 */
export function tceMapping(world: World, ledgers: Ledgers, container: number, slot: number, table: TceTable, run: TceRun, owner: number, delta: 1 | -1): void {
  const { pageSize } = world.config;
  const shift = BigInt(table.pageShift);
  const start = run.start << shift;
  const size = (run.last - run.start + 1n) << shift;
  const pages = remotePages(pageSize, run.ua, size);
  const shadow = `spapr ${container} window ${slot}`;
  if (delta > 0) {
    const dma: VfioDma = { start, last: start + size - 1n, vaddr: run.ua, prot: PROT[run.direction], vaddrInvalid: false, owner, lockCap: false, lockedVm: pages, pins: [] };
    ledgers.link(world, shadow, dma);
  } else {
    ledgers.unlink(shadow, start);
  }
  ledgers.share(`spapr ${container}`, owner, run.ua, size, pages, delta);
}
