/**
 * Dirty tracking of paging HWPTs (hw_pagetable.c, io_pagetable.c, spec §3.13-3.14) and the
 * mock's `TEST_DIRTY`, which sets dirty bits in the domain's page table by hand. A dirty bit
 * lives in the PTE mapping an IOVA, so it covers that whole PTE and goes with its mapping. The
 * mock page table maps with its smallest page, or with MOCK_HUGE_PAGE_SIZE PTEs in a HUGE
 * domain where IOVA and physical pages allow it (and large pages are not disabled).
 */
import { putContext } from '../main/context.ts';
import type { Fields } from '../../../events/types.ts';
import { type Call, type Result, big, num, ok, refuse } from '../../model/command.ts';
import { Fail, fail } from '../../model/fail.ts';
import { domainPage } from './hw-pagetable.ts';
import { MOCK_HUGE_PAGE_SIZE } from '../selftest/mock.ts';
import { lookup, mustGet, putObject } from '../main/object-refs.ts';
import { pinnedAt } from '../pages/pages.ts';
import { U64_MAX, firstIntersecting, intersecting } from '../../model/ranges.ts';
import { BYTES, userBuffer } from '../main/user-data.ts';
import { userMemoryWritable } from '../../mm/user-memory.ts';
import type { Area, Ctx, DirtyMark, HwptPaging, Ioas, World } from '../../model/world.ts';

export const IOMMU_HWPT_DIRTY_TRACKING_ENABLE = 1n;
export const IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR = 1n;
/** Bitmaps longer than this come back only up to their last set byte. */
const FULL_BITMAP_BYTES = 1n << 20n;

/** The PTE that maps `iova` of `area` in the HWPT's domain: `[start, start + size)`. */
function pteOf(world: World, ctx: Ctx, hwpt: HwptPaging, ioas: Ioas, area: Area, iova: bigint): { start: bigint; size: bigint } {
  const { pageSize } = world.config;
  if ((hwpt.domain.pgsizeBitmap & MOCK_HUGE_PAGE_SIZE) !== 0n && !ioas.hugePagesDisabled) {
    const block = iova - (iova % MOCK_HUGE_PAGE_SIZE);
    const last = block + MOCK_HUGE_PAGE_SIZE - 1n;
    const pages = ctx.pages.get(area.pages);
    if (pages !== undefined && block >= area.start && last <= area.last) {
      const first = (area.startByte + (block - area.start)) / pageSize;
      const head = pinnedAt(pages, first);
      let contiguous = head !== null && (head.index * pageSize) % MOCK_HUGE_PAGE_SIZE === 0n;
      for (let i = 1n; contiguous && i < MOCK_HUGE_PAGE_SIZE / pageSize; i++) {
        const p = pinnedAt(pages, first + i);
        contiguous = p !== null && head !== null && p.obj === head.obj && p.index === head.index + i;
      }
      if (contiguous) return { start: block, size: MOCK_HUGE_PAGE_SIZE };
    }
  }
  const size = domainPage(hwpt.domain);
  return { start: iova - (iova % size), size };
}

const live = (mark: DirtyMark, area: Area): boolean => mark.area === area.start && mark.pages === area.pages;

/** `iommufd_hwpt_set_dirty_tracking()` → `iopt_set_dirty_tracking()`; enabling clears every dirty bit first. */
export function setDirtyTracking(call: Call, ctx: Ctx, cmd: Fields): Result {
  const flags = big(cmd, 'flags');
  if ((flags & ~IOMMU_HWPT_DIRTY_TRACKING_ENABLE) !== 0n) {
    return refuse(call, fail('EOPNOTSUPP', 'iommufd_hwpt_set_dirty_tracking', 'flags has unknown bits'));
  }
  const hwpt = lookup(ctx, num(cmd, 'hwpt_id'), 'hwpt_paging');
  if (hwpt instanceof Fail) return refuse(call, hwpt);
  if (!hwpt.domain.dirtyTracking) return refuse(call, fail('EOPNOTSUPP', 'iopt_set_dirty_tracking', 'the domain has no dirty ops'));
  const enable = flags !== 0n;
  const next = { ...hwpt, dirtyEnabled: enable, dirty: enable ? [] : hwpt.dirty };
  return ok(putContext(call.world, putObject(ctx, next)));
}

/** `iommufd_check_iova_range()`: 64-bit arithmetic, `last + 1` wrapping to 0 at the top. */
function checkRange(ioas: Ioas, iova: bigint, length: bigint, pageSize: bigint): Fail | bigint {
  const last = iova + ((length - 1n) & U64_MAX);
  if (last > U64_MAX) return fail('EOVERFLOW', 'iommufd_check_iova_range', 'iova + length - 1 overflows');
  const end = (last + 1n) & U64_MAX;
  const mask = ioas.iopt.iovaAlignment - 1n;
  if ((iova & mask) !== 0n || (end & mask) !== 0n) return fail('EINVAL', 'iommufd_check_iova_range', 'range unaligned to the IOAS');
  if (pageSize === 0n) return fail('EINVAL', 'iommufd_check_iova_range', 'page_size is 0');
  if ((iova & (pageSize - 1n)) !== 0n || (end & (pageSize - 1n)) !== 0n) {
    return fail('EINVAL', 'iommufd_check_iova_range', 'range unaligned to page_size');
  }
  return last;
}

/**
 * `iommufd_hwpt_get_dirty_bitmap()`: bit n of the user bitmap is set when the page_size
 * granule n from `iova` meets a dirty PTE. The walk runs over the contiguous areas from `iova`
 * and stops at the first hole; failures inside it (a hole, a bitmap that cannot be pinned for
 * writing) are not reported, the ioctl succeeds. Unless NO_CLEAR, what was read is cleared.
 */
export function getDirtyBitmap(call: Call, ctx: Ctx, cmd: Fields): Result {
  const flags = big(cmd, 'flags');
  if ((flags & ~IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR) !== 0n || big(cmd, '__reserved') !== 0n) {
    return refuse(call, fail('EOPNOTSUPP', 'iommufd_hwpt_get_dirty_bitmap', 'flags has unknown bits or __reserved set'));
  }
  const hwpt = lookup(ctx, num(cmd, 'hwpt_id'), 'hwpt_paging');
  if (hwpt instanceof Fail) return refuse(call, hwpt);
  const ioas = mustGet(ctx, hwpt.ioas, 'ioas');
  const iova = big(cmd, 'iova');
  const pageSize = big(cmd, 'page_size');
  const last = checkRange(ioas, iova, big(cmd, 'length'), pageSize);
  if (last instanceof Fail) return refuse(call, last);
  if (!hwpt.domain.dirtyTracking) return refuse(call, fail('EOPNOTSUPP', 'iommu_read_and_clear_dirty', 'the domain has no dirty ops'));
  const nbytes = ((last - iova) / pageSize + 8n) / 8n;
  const data = cmd['data'];
  if (typeof data !== 'bigint' || !userMemoryWritable(call.world, call.process, data, nbytes)) return ok(call.world);
  const bits = new Set<bigint>();
  const read = new Set<DirtyMark>();
  let cur = iova;
  for (const area of intersecting(ioas.iopt.areas, iova, last)) {
    if (area.start > cur) break;
    const end: bigint = area.last < last ? area.last : last;
    for (const mark of hwpt.dirty) {
      if (!live(mark, area)) continue;
      const pte = pteOf(call.world, ctx, hwpt, ioas, area, mark.iova);
      const from = pte.start > cur ? pte.start : cur;
      const to = pte.start + pte.size - 1n < end ? pte.start + pte.size - 1n : end;
      if (from > to) continue;
      read.add(mark);
      for (let b = (from - iova) / pageSize; b <= (to - iova) / pageSize; b++) bits.add(b);
    }
    if (end === last) break;
    cur = end + 1n;
  }
  const cleared = (flags & IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR) !== 0n ? hwpt.dirty : hwpt.dirty.filter((m) => !read.has(m));
  const world = cleared === hwpt.dirty ? call.world : putContext(call.world, putObject(ctx, { ...hwpt, dirty: cleared }));
  return ok(world, { data: bitmapHex(bits, nbytes) });
}

/** The bitmap's bytes in memory order (bit n is bit n % 8 of byte n / 8), as `0x` hex. */
function bitmapHex(bits: ReadonlySet<bigint>, nbytes: bigint): string {
  let top = -1n;
  for (const b of bits) if (b / 8n > top) top = b / 8n;
  const length = nbytes <= FULL_BITMAP_BYTES ? Number(nbytes) : Number(top + 1n);
  const bytes = new Uint8Array(length);
  for (const b of bits) {
    const i = Number(b / 8n);
    if (i < length) bytes[i] = (bytes[i] ?? 0) | (1 << Number(b % 8n));
  }
  return `0x${Buffer.from(bytes).toString('hex')}`;
}

/**
 * `iommufd_test_dirty()`: `page_size`, `length` non-zero and aligned to it, a bitmap given
 * (EINVAL); a mock paging HWPT (ENOENT, EINVAL) tracking dirty pages (EINVAL). Each set bit i
 * dirties the PTE mapping `iova + i * page_size`, if any; `out_nr_dirty` counts the set bits.
 */
export function testDirty(call: Call, ctx: Ctx, cmd: Fields): Result {
  const pageSize = big(cmd, 'page_size');
  const length = big(cmd, 'length');
  const iova = big(cmd, 'iova');
  const bitmap = (cmd['data'] !== undefined && cmd['data'] !== null) || typeof cmd['uptr'] === 'bigint';
  if (pageSize === 0n || length === 0n || iova % pageSize !== 0n || length % pageSize !== 0n || !bitmap) {
    return refuse(call, fail('EINVAL', 'iommufd_test_dirty', 'bad page_size, length or bitmap'));
  }
  const hwpt = lookup(ctx, num(cmd, 'id'), 'hwpt_paging');
  if (hwpt instanceof Fail) return refuse(call, hwpt);
  if (hwpt.domain.iommu !== 'mock') return refuse(call, fail('EINVAL', 'get_md_pagetable', 'not a mock domain'));
  if (!hwpt.dirtyEnabled) return refuse(call, fail('EINVAL', 'iommufd_test_dirty', 'dirty tracking is off'));
  const max = length / pageSize;
  const set = userBuffer(call, cmd, 'uptr', BYTES).nonZero(0n, (max + 7n) / 8n);
  if (set instanceof Fail) return refuse(call, set);
  const ioas = mustGet(ctx, hwpt.ioas, 'ioas');
  const marks = new Map(hwpt.dirty.map((m) => [m.iova, m]));
  let count = 0n;
  for (const [byte, value] of set) {
    for (let bit = 0n; bit < 8n; bit++) {
      const i = byte * 8n + bit;
      if (i >= max || (value & (1 << Number(bit))) === 0) continue;
      count++;
      const at = iova + i * pageSize;
      const area = firstIntersecting(ioas.iopt.areas, at, at);
      if (area === undefined) continue;
      const pte = pteOf(call.world, ctx, hwpt, ioas, area, at);
      marks.set(pte.start, { iova: pte.start, area: area.start, pages: area.pages });
    }
  }
  const dirty = [...marks.values()].sort((a, b) => (a.iova < b.iova ? -1 : a.iova > b.iova ? 1 : 0));
  return ok(putContext(call.world, putObject(ctx, { ...hwpt, dirty })), { out_nr_dirty: count });
}
