/**
 * The TCEs of a SPAPR TCE container's windows, set and cleared a run at a time
 * (`iommu_tce_xchg_no_kill()` entry by entry in the kernel). A TCE set over another releases
 * the old one, as clearing does (`tce_iommu_unuse_page()`, `tce_iommu_unuse_page_v2()`): v1
 * unpins its page; v2 lowers the `mapped` count of the region it points into. Each change costs
 * the runs it touches, whatever the number of entries.
 */
import { intersecting } from '../../model/ranges.ts';
import type { World } from '../../model/world.ts';
import { addMapped } from '../prereg.ts';
import type { TceRun, TceTable } from '../spapr-state.ts';
import type { DmaPin } from '../state.ts';
import { putSpapr, spaprOf } from '../store.ts';

/** The world with window `slot` of container `id` replaced (null: removed). */
export function putTable(world: World, id: number, slot: 0 | 1, table: TceTable | null): World {
  const iommu = spaprOf(world, id);
  const tables: [TceTable | null, TceTable | null] = slot === 0 ? [table, iommu.tables[1]] : [iommu.tables[0], table];
  return putSpapr(world, id, { ...iommu, tables });
}

/** `count` system pages of `pins` from the `skip`-th. */
function slicePins(pins: readonly DmaPin[], skip: bigint, count: bigint): DmaPin[] {
  const out: DmaPin[] = [];
  let at = 0n;
  for (const p of pins) {
    const from = skip > at ? skip - at : 0n;
    const to = skip + count - at < p.count ? skip + count - at : p.count;
    if (from < to) out.push({ ...p, index: p.index + from, count: to - from });
    at += p.count;
    if (at >= skip + count) break;
  }
  return out;
}

/** The entries `[start, last]` of `run`, which holds them. */
function part(world: World, table: TceTable, run: TceRun, start: bigint, last: bigint): TceRun {
  const shift = BigInt(table.pageShift);
  const ua = run.ua + ((start - run.start) << shift);
  if (run.pins.length === 0) return { ...run, start, last, ua };
  const { pageSize } = world.config;
  const skip = ua / pageSize - run.ua / pageSize;
  const count = (ua + ((last - start + 1n) << shift) - 1n) / pageSize - ua / pageSize + 1n;
  return { ...run, start, last, ua, pins: slicePins(run.pins, skip, count) };
}

/**
 * `tce_iommu_clear()` of entries `[start, last]` of window `slot`: each TCE set there is
 * released; unset ones are skipped. The window's bounds are not checked: the kernel clears
 * what it is asked to.
 */
export function clearTces(world: World, id: number, slot: 0 | 1, start: bigint, last: bigint): World {
  const iommu = spaprOf(world, id);
  const table = iommu.tables[slot];
  if (table === null) throw new Error(`[iommufd-model] container ${id} has no window ${slot}`);
  let tces = table.tces;
  const released = new Map<bigint, bigint>();
  for (const run of [...intersecting(tces, start, last)]) {
    tces = tces.delete(run.start);
    if (run.start < start) tces = tces.set(run.start, part(world, table, run, run.start, start - 1n));
    if (run.last > last) tces = tces.set(last + 1n, part(world, table, run, last + 1n, run.last));
    if (run.region === null) continue;
    const lo = run.start > start ? run.start : start;
    const hi = run.last < last ? run.last : last;
    released.set(run.region, (released.get(run.region) ?? 0n) + hi - lo + 1n);
  }
  if (tces === table.tces) return world;
  let next = putTable(world, id, slot, { ...table, tces });
  for (const [key, n] of released) next = addMapped(next, iommu.mm as number, key, -n);
  return next;
}

/** Sets the TCEs of `runs`, consecutive, over whatever was set there (`tce_iommu_build()`, `tce_iommu_build_v2()`). */
export function setTces(world: World, id: number, slot: 0 | 1, runs: readonly TceRun[]): World {
  const first = runs[0];
  const end = runs[runs.length - 1];
  if (first === undefined || end === undefined) return world;
  let next = clearTces(world, id, slot, first.start, end.last);
  const iommu = spaprOf(next, id);
  const table = iommu.tables[slot] as TceTable;
  let tces = table.tces;
  for (const run of runs) tces = tces.set(run.start, run);
  next = putTable(next, id, slot, { ...table, tces });
  for (const run of runs) if (run.region !== null) next = addMapped(next, iommu.mm as number, run.region, run.last - run.start + 1n);
  return next;
}

/** `tce_iommu_find_table()`: the window whose entries hold bus address `ioba`, slot 0 first. */
export function findTable(tables: readonly (TceTable | null)[], ioba: bigint): 0 | 1 | null {
  for (const slot of [0, 1] as const) {
    const t = tables[slot];
    if (t === null || t === undefined) continue;
    const entry = ioba >> BigInt(t.pageShift);
    if (t.offset <= entry && entry < t.offset + t.size) return slot;
  }
  return null;
}

/**
 * `tce_iommu_clear()` over a window's entries: the TCEs a MAP wrote past its last entry are not
 * cleared, and what they hold (a v1 pin, a v2 region's `mapped` count) is never given back.
 */
export function clearWindow(world: World, id: number, slot: 0 | 1): World {
  const table = spaprOf(world, id).tables[slot];
  if (table === null) return world;
  return clearTces(world, id, slot, table.offset, table.offset + table.size - 1n);
}
