/**
 * `VFIO_IOMMU_MAP_DMA` and `VFIO_IOMMU_UNMAP_DMA` on a SPAPR TCE container (`tce_iommu_ioctl()`,
 * `tce_iommu_build()`, `tce_iommu_build_v2()`, `tce_iommu_clear()`), check for check in the
 * kernel's order.
 *
 * IOVAs are bus addresses inside a window: the window is found by the first IOVA (ENXIO when
 * none holds it), and sizes and user addresses go by its IOMMU page size. A TCE set over another
 * replaces it (no EEXIST). v1 pins each page as it maps it, already charged at ENABLE; v2 pins
 * nothing: each IOMMU page must lie in one pre-registered region of the mm, and raises its
 * `mapped` count. A failure clears the TCEs the call set before it, and the old ones they replaced.
 *
 * Two kernel quirks are the kernel's answers here too. An IOVA not aligned to the window's page
 * gets 1, not -1 and EINVAL: `iommu_tce_put_param_check()` and `iommu_tce_clear_param_check()`
 * are C `||` of two checks, so `expect.out.ret` carries it. And only the first IOVA is checked
 * against the window (`iommu_tce_check_ioba()` ignores its page count): a MAP may set TCEs past
 * the window's last entry, which the model keeps as the kernel writes them (on a one-level
 * table the kernel writes past the table's memory) and which removing the window never clears.
 */
import { storeCowBreaks } from '../../mm/cow.ts';
import { pinUser } from '../../mm/physical.ts';
import { type Call, type Result, big, ok, partial, refuse } from '../../model/command.ts';
import { Fail, fail } from '../../model/fail.ts';
import { U64_MAX } from '../../model/ranges.ts';
import type { World } from '../../model/world.ts';
import type { ContainerArg } from '../ioctl-arg.ts';
import { regionHolding } from '../prereg.ts';
import type { PreregRegion, TceDirection, TceRun, TceTable } from '../spapr-state.ts';
import { spaprOf } from '../store.ts';
import { WHERE, otherMm, readStruct } from './spapr-call.ts';
import { clearTces, findTable, setTces } from './spapr-tces.ts';
import { defaultWindow } from './spapr-windows.ts';
import { VFIO_DMA_MAP_FLAG_READ, VFIO_DMA_MAP_FLAG_WRITE } from '../uapi.ts';

/** `offsetofend(..., size)` of the map and unmap structs. */
const MAP_MINSZ = 32n;
const UNMAP_MINSZ = 24n;

const NOT_ENABLED = fail('EPERM', WHERE, 'the container is not enabled');

const log2 = (v: bigint): bigint => BigInt(v.toString(2).length - 1);

/** The window an ioctl's IOVA falls in, once the pending default window is made; or what failed on the way. */
interface Target {
  readonly world: World;
  readonly slot: 0 | 1;
  readonly table: TceTable;
  readonly mask: bigint;
}

/** The preamble MAP and UNMAP share: mm, enabled, the struct, then (after `check`) the window. */
function target(call: Call, id: number, arg: ContainerArg, minsz: bigint, check: (flags: bigint) => Fail | null): Target | Result {
  const iommu = spaprOf(call.world, id);
  const refused = otherMm(iommu, call.process.pid) ?? (iommu.enabled ? null : NOT_ENABLED);
  if (refused !== null) return refuse(call, refused);
  const struct = readStruct(arg, minsz);
  if (struct instanceof Fail) return refuse(call, struct);
  const bad = check(big(struct, 'flags'));
  if (bad !== null) return refuse(call, bad);
  const def = defaultWindow(call, call.world, id);
  if ('fail' in def) return partial(def.world, def.fail);
  const slot = findTable(spaprOf(def.world, id).tables, big(struct, 'iova'));
  if (slot === null) return partial(def.world, fail('ENXIO', 'tce_iommu_find_table', 'no window holds the IOVA'));
  const table = spaprOf(def.world, id).tables[slot] as TceTable;
  return { world: def.world, slot, table, mask: (1n << BigInt(table.pageShift)) - 1n };
}

const isTarget = (t: Target | Result): t is Target => 'slot' in t;

/** What a put or clear parameter check answers for an IOVA inside the window but not on a page boundary. */
const RAW_ONE = (world: World): Result => ({ ...ok(world), ret: 1n });

function directionOf(flags: bigint): TceDirection | null {
  const read = (flags & VFIO_DMA_MAP_FLAG_READ) !== 0n;
  const write = (flags & VFIO_DMA_MAP_FLAG_WRITE) !== 0n;
  return read && write ? 'bidirectional' : read ? 'to_device' : write ? 'from_device' : null;
}

export function spaprMapDma(call: Call, id: number, arg: ContainerArg): Result {
  const t = target(call, id, arg, MAP_MINSZ, (flags) =>
    (flags & ~(VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)) !== 0n ? fail('EINVAL', WHERE, 'flags has unknown bits') : null,
  );
  if (!isTarget(t)) return t;
  const map = arg.struct ?? {};
  const size = big(map, 'size');
  const vaddr = big(map, 'vaddr');
  const iova = big(map, 'iova');
  if (((size | vaddr) & t.mask) !== 0n) return partial(t.world, fail('EINVAL', WHERE, 'size or vaddr not aligned to the window page size'));
  const direction = directionOf(big(map, 'flags'));
  if (direction === null) return partial(t.world, fail('EINVAL', WHERE, 'neither READ nor WRITE'));
  if ((iova & t.mask) !== 0n) return RAW_ONE(t.world);
  const shift = BigInt(t.table.pageShift);
  const span = { entry: iova >> shift, pages: size >> shift, vaddr, direction };
  return spaprOf(t.world, id).v2 ? buildV2(t, id, span) : buildV1(call, t, id, span);
}

interface Span {
  readonly entry: bigint;
  readonly pages: bigint;
  readonly vaddr: bigint;
  readonly direction: TceDirection;
}

/** A build that failed at its `at`-th page: the TCEs set before it are cleared (`tce_iommu_clear(..., entry, i)`). */
function failedAt(world: World, id: number, t: Target, span: Span, at: bigint, f: Fail): Result {
  return partial(at > 0n ? clearTces(world, id, t.slot, span.entry, span.entry + at - 1n) : world, f);
}

/**
 * `tce_iommu_build()` (v1): each IOMMU page's page is pinned, for writing unless the direction
 * is TO_DEVICE (EFAULT at the first that cannot be). v1's one window, the default one, has
 * 4 KiB IOMMU pages, which every page contains, so `tce_page_is_contained()` always passes.
 */
function buildV1(call: Call, t: Target, id: number, span: Span): Result {
  if (span.pages === 0n) return ok(t.world);
  const { pageSize } = t.world.config;
  const shift = BigInt(t.table.pageShift);
  const first = span.vaddr / pageSize;
  const count = (span.vaddr + (span.pages << shift) - 1n) / pageSize - first + 1n;
  const write = span.direction !== 'to_device';
  const pin = (n: bigint) => pinUser(t.world, call.process, first * pageSize, n, write);
  const pinned = pin(count);
  if (pinned !== null) {
    const run: TceRun = { start: span.entry, last: span.entry + span.pages - 1n, ua: span.vaddr, direction: span.direction, region: null, pins: pinned.runs };
    return ok(setTces(storeCowBreaks(t.world, pinned.breaks), id, t.slot, [run]));
  }
  // How many pages GUP gets before the first it cannot: pins of a prefix succeed or fail together.
  let lo = 0n;
  let hi = count;
  while (hi - lo > 1n) {
    const mid = (lo + hi) / 2n;
    if (pin(mid) === null) hi = mid;
    else lo = mid;
  }
  const prefix = lo === 0n ? null : pin(lo);
  const failing = (first + lo) * pageSize;
  const at = failing > span.vaddr ? (failing - span.vaddr + (1n << shift) - 1n) >> shift : 0n;
  const world = prefix === null ? t.world : storeCowBreaks(t.world, prefix.breaks);
  return failedAt(world, id, t, span, at, fail('EFAULT', 'tce_iommu_use_page', 'a page could not be pinned'));
}

/**
 * The index, among `m` IOMMU pages from `ua`, of the first whose first page is smaller than an
 * IOMMU page (`tce_page_is_contained()`: the compound page's size against the page shift).
 */
function firstUncontained(world: World, region: PreregRegion, ua: bigint, m: bigint, shift: bigint): bigint | null {
  const { pageSize, hugepageSize } = world.config;
  if (shift <= log2(pageSize)) return null;
  const step = (1n << shift) / pageSize;
  const p0 = (ua - region.ua) / pageSize;
  const pLast = p0 + (m - 1n) * step;
  let at = 0n;
  for (const run of region.pins) {
    const a = at;
    const b = at + run.count - 1n;
    at += run.count;
    if (b < p0) continue;
    if (a > pLast) return null;
    if (run.compound && log2(hugepageSize) >= shift) continue;
    const j = a <= p0 ? 0n : (a - p0 + step - 1n) / step;
    if (j < m && p0 + j * step <= b) return j;
  }
  return null;
}

/**
 * `tce_iommu_build_v2()`: each IOMMU page is looked up among the mm's regions
 * (`tce_iommu_prereg_ua_to_hpa()`: EINVAL when no region holds it whole, or when its pages are
 * smaller than the window's) and must lie in a page as large as it (EPERM). The pages of one
 * region are taken a run at a time.
 */
function buildV2(t: Target, id: number, span: Span): Result {
  const { world } = t;
  const { pageSize } = world.config;
  const mm = spaprOf(world, id).mm as number;
  const shift = BigInt(t.table.pageShift);
  const size = 1n << shift;
  const runs: TceRun[] = [];
  let pos = 0n;
  while (pos < span.pages) {
    const ua = (span.vaddr + (pos << shift)) & U64_MAX;
    const found = regionHolding(world, mm, ua, size);
    if (found === undefined) return failedAt(world, id, t, span, pos, fail('EINVAL', 'tce_iommu_prereg_ua_to_hpa', 'the IOMMU page is in no pre-registered region'));
    const [key, region] = found;
    if ((ua - region.ua) / pageSize >= region.entries || shift > BigInt(region.pageShift)) {
      return failedAt(world, id, t, span, pos, fail('EINVAL', 'mm_iommu_ua_to_hpa', "the region's pages are smaller than the IOMMU page"));
    }
    const fit = (region.ua + region.entries * pageSize - ua) >> shift;
    const m = span.pages - pos < fit ? span.pages - pos : fit > 0n ? fit : 1n;
    const bad = firstUncontained(world, region, ua, m, shift);
    const take = bad ?? m;
    if (take > 0n) runs.push({ start: span.entry + pos, last: span.entry + pos + take - 1n, ua, direction: span.direction, region: key, pins: [] });
    if (bad !== null) return failedAt(world, id, t, span, pos + bad, fail('EPERM', 'tce_page_is_contained', 'the page is smaller than the IOMMU page'));
    pos += m;
  }
  return ok(setTces(world, id, t.slot, runs));
}

/**
 * `VFIO_IOMMU_UNMAP_DMA`: no flag is taken (EINVAL), the size goes by the window's page (EINVAL),
 * the TCEs of the range are cleared, set or not, and nothing is written back.
 */
export function spaprUnmapDma(call: Call, id: number, arg: ContainerArg): Result {
  const t = target(call, id, arg, UNMAP_MINSZ, (flags) => (flags !== 0n ? fail('EINVAL', WHERE, 'no flag is supported') : null));
  if (!isTarget(t)) return t;
  const unmap = arg.struct ?? {};
  const size = big(unmap, 'size');
  const iova = big(unmap, 'iova');
  if ((size & t.mask) !== 0n) return partial(t.world, fail('EINVAL', WHERE, 'size not aligned to the window page size'));
  if ((iova & t.mask) !== 0n) return RAW_ONE(t.world);
  const shift = BigInt(t.table.pageShift);
  const pages = size >> shift;
  const entry = iova >> shift;
  return ok(pages === 0n ? t.world : clearTces(t.world, id, t.slot, entry, entry + pages - 1n));
}
