/**
 * DMA windows of a SPAPR TCE container (`tce_iommu_create_window()`, `tce_iommu_remove_window()`,
 * `tce_iommu_create_default_window()`): `VFIO_IOMMU_SPAPR_TCE_CREATE` and `_REMOVE` (v2).
 *
 * A container has two table slots, the default window's included. The default 32-bit window
 * (4 KiB pages over the PE's `tce32_size`) is made lazily, by the first MAP, UNMAP or CREATE
 * after the first group joins; removing it at 0 before then just cancels it, which is how QEMU
 * makes room for its own windows. The platform places a window: slot 0 at `tce32_start`,
 * slot 1 at `tce64_start` (`pnv_pci_ioda2_create_table()`), and the table's memory is charged
 * to the container's mm before the table is made, with PowerNV's size rule (spapr-table.ts).
 */
import { type Call, type Result, big, ok, partial } from '../../model/command.ts';
import { Fail, fail } from '../../model/fail.ts';
import { OrderedMap } from '../../model/ordered-map.ts';
import type { World } from '../../model/world.ts';
import type { ContainerArg } from '../ioctl-arg.ts';
import { putSpaprMm, spaprMmOf, strand } from '../prereg.ts';
import type { TceTable } from '../spapr-state.ts';
import { capable, putSpapr, spaprOf } from '../store.ts';
import { charge, uncharge } from './locked-vm.ts';
import { OTHER_VERSION, bindMm, firstPe, otherMm, readStruct } from './spapr-call.ts';
import { tableBytes, tableShape } from './spapr-table.ts';
import { clearWindow, findTable, putTable } from './spapr-tces.ts';

/** `IOMMU_PAGE_SHIFT_4K`: the default window's page size. */
const DEFAULT_PAGE_SHIFT = 12n;
/** `offsetofend(..., start_addr)` of the create and remove structs. */
const CREATE_MINSZ = 40n;
const REMOVE_MINSZ = 16n;

/**
 * `tce_iommu_create_window()` then `tce_iommu_create_table()`: a free slot (ENOSPC), a page
 * size the PE takes (EINVAL), a table size PowerNV can compute (EINVAL), its memory charged
 * (ENOMEM), then the table made. When PowerNV refuses the table after the charge (EINVAL: too
 * many levels for the page size) the kernel returns without uncharging: the pages stay
 * charged to the mm for good, and the model keeps them as the mm's leaked table pages.
 */
function createWindow(
  call: Call,
  world: World,
  id: number,
  pageShift: bigint,
  windowSize: bigint,
  levels: bigint,
): { world: World; fail: Fail } | { world: World; start: bigint } {
  const iommu = spaprOf(world, id);
  const slot = iommu.tables[0] === null ? 0 : iommu.tables[1] === null ? 1 : null;
  if (slot === null) return { world, fail: fail('ENOSPC', 'tce_iommu_find_free_table', 'both table slots are in use') };
  const pe = firstPe(world, iommu);
  if (pageShift >= 64n || (pe.pgsizes & (1n << pageShift)) === 0n) {
    return { world, fail: fail('EINVAL', 'tce_iommu_create_window', 'the PE does not take this page size') };
  }
  const { pageSize } = world.config;
  const bytes = tableBytes(pageSize, pageShift, windowSize, levels);
  if (bytes === 0n) return { world, fail: fail('EINVAL', 'tce_iommu_create_table', 'no table for this window size and level count') };
  const mm = iommu.mm as number;
  const pages = bytes / pageSize;
  const charged = charge(world, mm, pages, capable(call.process, 'CAP_IPC_LOCK'));
  if (charged instanceof Fail) return { world, fail: charged };
  const shape = tableShape(pageSize, slot === 0 ? pe.tce32Start : pe.tce64Start, pageShift, windowSize, levels);
  if (shape instanceof Fail) {
    const spaprMm = spaprMmOf(charged, mm);
    return { world: putSpaprMm(charged, mm, { ...spaprMm, leakedTablePages: spaprMm.leakedTablePages + pages }), fail: shape };
  }
  const table: TceTable = { ...shape, pageShift: Number(pageShift), levels: Number(levels), charged: pages, tces: OrderedMap.empty() };
  return { world: putTable(charged, id, slot, table), start: shape.offset << pageShift };
}

/** `tce_iommu_create_default_window()`: the pending default window, made now; its failure is the caller's. */
export function defaultWindow(call: Call, world: World, id: number): { world: World; fail: Fail } | { world: World } {
  const iommu = spaprOf(world, id);
  if (!iommu.defWindowPending) return { world };
  const made = createWindow(call, world, id, DEFAULT_PAGE_SHIFT, firstPe(world, iommu).tce32Size, 1n);
  if ('fail' in made) return made;
  return { world: putSpapr(made.world, id, { ...spaprOf(made.world, id), defWindowPending: false }) };
}

/**
 * `tce_iommu_free_table()`: the table goes and its memory is uncharged from the container's mm.
 * TCEs set past the window's last entry go with it uncleared: their regions keep counting them.
 */
export function freeTable(world: World, id: number, slot: 0 | 1): World {
  const { mm, tables } = spaprOf(world, id);
  const table = tables[slot];
  if (table === null) return world;
  let next = clearWindow(world, id, slot);
  for (const run of (spaprOf(next, id).tables[slot] as TceTable).tces.values()) {
    if (run.region !== null) next = strand(next, mm as number, run.region, run.last - run.start + 1n);
  }
  return uncharge(putTable(next, id, slot, null), mm as number, table.charged);
}

/** The preamble of CREATE and REMOVE: the mm check, v2 only, the mm bound, the struct read. */
function windowCall(call: Call, id: number, arg: ContainerArg, minsz: bigint): { world: World; fail: Fail } | { world: World; bigs: (name: string) => bigint } {
  const iommu = spaprOf(call.world, id);
  const refused = otherMm(iommu, call.process.pid) ?? (iommu.v2 ? null : OTHER_VERSION);
  if (refused !== null) return { world: call.world, fail: refused };
  const world = bindMm(call.world, id, call.process.pid);
  const struct = readStruct(arg, minsz);
  if (struct instanceof Fail) return { world, fail: struct };
  if (big(struct, 'flags') !== 0n) return { world, fail: fail('EINVAL', 'tce_iommu_ioctl', 'flags is not 0') };
  return { world, bigs: (name) => big(struct, name) };
}

/** `VFIO_IOMMU_SPAPR_TCE_CREATE`: the pending default window first, then the new one; out `start_addr`. */
export function spaprCreate(call: Call, id: number, arg: ContainerArg): Result {
  const pre = windowCall(call, id, arg, CREATE_MINSZ);
  if ('fail' in pre) return partial(pre.world, pre.fail);
  const def = defaultWindow(call, pre.world, id);
  if ('fail' in def) return partial(def.world, def.fail);
  const made = createWindow(call, def.world, id, pre.bigs('page_shift'), pre.bigs('window_size'), pre.bigs('levels'));
  return 'fail' in made ? partial(made.world, made.fail) : ok(made.world, { start_addr: made.start });
}

/**
 * `VFIO_IOMMU_SPAPR_TCE_REMOVE`: start address 0 while the default window is pending cancels
 * it; otherwise the window holding `start_addr` (any of its addresses) goes, its TCEs cleared
 * and its table freed (EINVAL when no window holds it).
 */
export function spaprRemove(call: Call, id: number, arg: ContainerArg): Result {
  const pre = windowCall(call, id, arg, REMOVE_MINSZ);
  if ('fail' in pre) return partial(pre.world, pre.fail);
  const start = pre.bigs('start_addr');
  const iommu = spaprOf(pre.world, id);
  if (iommu.defWindowPending && start === 0n) return ok(putSpapr(pre.world, id, { ...iommu, defWindowPending: false }));
  const slot = findTable(iommu.tables, start);
  if (slot === null) return partial(pre.world, fail('EINVAL', 'tce_iommu_remove_window', 'no window holds the address'));
  return ok(freeTable(pre.world, id, slot));
}

