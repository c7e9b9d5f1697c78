/**
 * The SPAPR TCE invariants, one subject at a time: a container's SPAPR TCE driver
 * (drivers/vfio/vfio_iommu_spapr_tce.c), one run of TCEs in one of its windows, one region an mm
 * pre-registered (arch/powerpc/mm/book3s64/iommu_api.c). What a region's check needs from every
 * container (the TCEs pointing into it) is an argument, kept up to date by the incremental
 * checker and scanned for by the whole-snapshot one.
 *
 * What the kernel does that looks wrong is no violation (quirks.ts): TCEs past a window's last
 * entry, a region left listed with a reference no container holds, TCEs stranded in a freed
 * table that their region keeps counting, a table charge a refused CREATE left behind.
 */
import type { World } from '../model/world.ts';
import { U64_MAX } from '../model/ranges.ts';
import { tableBytes } from '../vfio/container/spapr-table.ts';
import { regionKey } from '../vfio/prereg.ts';
import type { PreregRegion, SpaprTce, TceRun, TceTable } from '../vfio/spapr-state.ts';
import type { Container } from '../vfio/state.ts';
import { type Violation, hex } from './state-checks.ts';

/** How many TCEs point into each pre-registered region: mm → region key → TCEs. */
export type MappedTally = Map<number, Map<bigint, bigint>>;

export const spaprOf = (c: Container | undefined): SpaprTce | undefined => (c?.driver?.kind === 'spapr_tce' ? c.driver.iommu : undefined);

/** Adds (`sign` 1) or takes out (-1) the TCEs of a v2 run to its region's count, under the container's mm; gives the region's key. */
export function tallyRun(tally: MappedTally, mm: number | null, run: TceRun, sign: 1n | -1n): bigint | null {
  if (mm === null || run.region === null) return null;
  const regions = tally.get(mm) ?? new Map<bigint, bigint>();
  const n = (regions.get(run.region) ?? 0n) + sign * (run.last - run.start + 1n);
  if (n === 0n) regions.delete(run.region);
  else regions.set(run.region, n);
  if (regions.size === 0) tally.delete(mm);
  else tally.set(mm, regions);
  return run.region;
}

/** Every TCE run of a container's windows, window by window, by first entry. */
export function* runsOf(iommu: SpaprTce | undefined): Generator<{ iommu: SpaprTce; slot: 0 | 1; table: TceTable; start: bigint; run: TceRun }> {
  if (iommu === undefined) return;
  for (const slot of [0, 1] as const) {
    const table = iommu.tables[slot];
    if (table !== null) for (const [start, run] of table.tces) yield { iommu, slot, table, start, run };
  }
}

/**
 * A SPAPR TCE container: its driver's group list is the container's, an enabled container or
 * one with windows has bound its mm, and what it charged is what the kernel charges: v1's
 * ENABLE the first PE's whole 32-bit window (`tce_iommu_enable()`), each window its table as
 * PowerNV sizes it (`pnv_pci_ioda2_get_table_size()`, which a table's own entries give again).
 */
export function checkSpaprContainer(world: World, id: number, container: Container, iommu: SpaprTce, out: Violation[]): void {
  const at = (): string => `container ${id}`;
  if (iommu.groups.length !== container.groups.length || !iommu.groups.every((g) => container.groups.includes(g))) {
    out.push({ invariant: 'spapr-groups', detail: `${at()} has groups ${container.groups.join(',')}, its TCE driver ${iommu.groups.join(',')}` });
  }
  if (iommu.mm === null && (iommu.enabled || iommu.tables.some((t) => t !== null))) {
    out.push({ invariant: 'spapr-mm-bound', detail: `${at()} is enabled or has windows, and no mm is bound` });
  }
  const { pageSize } = world.config;
  const pe = world.vfio.groups.get(iommu.groups[0] ?? -1)?.pe;
  const enableCharge = iommu.v2 ? 0n : pe === undefined || pe === null ? iommu.lockedPages : pe.tce32Size / pageSize;
  if ((iommu.enabled || iommu.v2) && iommu.lockedPages !== enableCharge) {
    out.push({ invariant: 'spapr-enable-charge', detail: `${at()} charged ${iommu.lockedPages} pages at ENABLE, the 32-bit window has ${enableCharge}` });
  }
  iommu.tables.forEach((table, slot) => {
    if (table === null) return;
    const shift = BigInt(table.pageShift);
    const pages = tableBytes(pageSize, shift, table.size << shift, BigInt(table.levels)) / pageSize;
    if (table.charged !== pages) {
      out.push({ invariant: 'spapr-table-charge', detail: `${at()} window ${slot} charged ${table.charged} pages for a table of ${pages}` });
    }
  });
}

/**
 * One run of TCEs against its window and the run before it: keyed by its first entry, inside
 * the window from its first entry (past the last one only as `tce-past-window` reports), after
 * the run before. v2 TCEs point into the pre-registered region the run names (its key holds its
 * address and size); v1 TCEs hold the pins of the pages under them.
 */
export function checkTceRun(
  world: World,
  id: number,
  iommu: SpaprTce,
  slot: 0 | 1,
  table: TceTable,
  key: bigint,
  run: TceRun,
  before: TceRun | undefined,
  out: Violation[],
): void {
  const at = (): string => `container ${id} window ${slot} TCEs ${hex(run.start)}..${hex(run.last)}`;
  if (key !== run.start || run.last < run.start || run.start < table.offset || (before !== undefined && run.start <= before.last)) {
    out.push({ invariant: 'spapr-window-bounds', detail: `${at()} start before the window's first entry ${hex(table.offset)}, past their key ${hex(key)} or over the run before` });
  }
  const { pageSize } = world.config;
  const shift = BigInt(table.pageShift);
  const bytes = (run.last - run.start + 1n) << shift;
  if (iommu.v2) {
    const ua = run.region === null ? 0n : run.region >> 64n;
    const end = run.region === null ? 0n : ua + (run.region & U64_MAX) * pageSize;
    if (run.region === null || run.pins.length > 0 || (run.ua & ((1n << shift) - 1n)) !== 0n || run.ua < ua || run.ua + bytes > end) {
      out.push({ invariant: 'spapr-tce-backing', detail: `${at()} map ${hex(run.ua)}, not whole IOMMU pages of the pre-registered region they name` });
    }
    return;
  }
  let pinned = 0n;
  for (const p of run.pins) pinned += p.count;
  const pages = (run.ua + bytes - 1n) / pageSize - run.ua / pageSize + 1n;
  if (run.region !== null || pinned !== pages) {
    out.push({ invariant: 'spapr-tce-backing', detail: `${at()} of a v1 container hold ${pinned} pins for the ${pages} pages under them` });
  }
}

/**
 * A region of `pid`'s list (`mm_iommu_*`), against the region before it and the TCEs pointing
 * into it. Listed under its address and size, its pages pinned and charged alike; no two
 * regions overlap (`mm_iommu_do_alloc()`). `used` counts one reference per container holding
 * it (`tce_iommu_prereg_free()` puts each), and one more when the last put found TCEs still
 * pointing into it (`mm_iommu_put()`'s EBUSY, which no caller passes on): that one nothing
 * ever puts. Holders are SPAPR TCE v2 containers bound to this mm. `mapped` (less its bias) is
 * the TCEs of the mm's containers pointing into it, and those stranded in freed tables.
 */
export function checkRegion(world: World, pid: number, key: bigint, region: PreregRegion | undefined, before: PreregRegion | undefined, tces: bigint, out: Violation[]): void {
  if (region === undefined) {
    if (tces !== 0n) out.push({ invariant: 'prereg-mapped', detail: `pid ${pid}: ${tces} TCEs point into region ${hex(key >> 64n)}+${key & U64_MAX} pages, which is not listed` });
    return;
  }
  const { pageSize } = world.config;
  const at = (): string => `pid ${pid} region ${hex(region.ua)}+${hex(region.entries * pageSize)}`;
  let pinned = 0n;
  for (const p of region.pins) pinned += p.count;
  if (key !== regionKey(region.ua, region.entries) || pinned !== region.entries) {
    out.push({ invariant: 'prereg-region', detail: `${at()} is listed under ${hex(key)} with ${pinned} pages pinned for ${region.entries} charged` });
  }
  if (before !== undefined && before.ua + before.entries * pageSize > region.ua) {
    out.push({ invariant: 'prereg-regions-disjoint', detail: `${at()} overlaps region ${hex(before.ua)}+${hex(before.entries * pageSize)}` });
  }
  const excess = region.used - region.holders.length;
  if (region.used < 1 || excess < 0 || excess > 1 || new Set(region.holders).size !== region.holders.length) {
    out.push({ invariant: 'prereg-used', detail: `${at()} used ${region.used}, held by containers ${region.holders.join(',') || 'none'}` });
  }
  for (const h of region.holders) {
    const iommu = spaprOf(world.vfio.containers.get(h));
    if (iommu === undefined || !iommu.v2 || iommu.mm !== pid) {
      out.push({ invariant: 'prereg-holders', detail: `${at()} is held by container ${h}, not a SPAPR TCE v2 container bound to the mm` });
    }
  }
  if (region.stranded < 0n || region.mapped !== tces + region.stranded) {
    out.push({ invariant: 'prereg-mapped', detail: `${at()} counts ${region.mapped} TCEs (${region.stranded} stranded), ${tces} of the mm's containers point into it` });
  }
}

/** The TCEs pointing into each region, scanned from every container. */
export function mappedTally(world: World): MappedTally {
  const tally: MappedTally = new Map();
  for (const c of world.vfio.containers.values()) for (const { iommu, run } of runsOf(spaprOf(c))) tallyRun(tally, iommu.mm, run, 1n);
  return tally;
}

/** Every region cell of a snapshot, by pid then key: the listed regions and the keys only TCEs name. */
export function checkRegions(world: World, tally: MappedTally, out: Violation[]): void {
  const pids = [...new Set([...world.vfio.spaprMms.keys(), ...tally.keys()])].sort((a, b) => a - b);
  for (const pid of pids) {
    const regions = world.vfio.spaprMms.get(pid)?.regions;
    const named = tally.get(pid) ?? new Map<bigint, bigint>();
    const keys = [...new Set([...(regions?.keys() ?? []), ...named.keys()])].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (const key of keys) checkRegion(world, pid, key, regions?.get(key), regions?.atOrBelow(key - 1n)?.[1], named.get(key) ?? 0n, out);
  }
}
