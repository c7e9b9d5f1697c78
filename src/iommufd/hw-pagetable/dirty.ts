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
import { SHOWN_BITMAP_BYTES } from '../../model/shown-bitmap.ts';
import { lookup, mustGet, putObject } from '../main/object-refs.ts';
import { pinRunAt } from '../pages/pages.ts';
import { U64_MAX, firstIntersecting, intersecting } from '../../model/ranges.ts';
import { BYTES, userBuffer } from '../main/user-data.ts';
import { userMemoryWritable } from '../../mm/user-memory.ts';
import type { Area, Ctx, DirtyMark, HwptPaging, Ioas, Pages, World } from '../../model/world.ts';

export const IOMMU_HWPT_DIRTY_TRACKING_ENABLE = 1n;
export const IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR = 1n;
/** Bitmaps longer than this come back only up to their last set byte. */
const FULL_BITMAP_BYTES = 1n << 20n;

/**
 * Whether pages `first` to `last` of `pages` are pinned to consecutive pages of one object, from
 * a page whose index is a multiple of `span`: walked a pin run at a time, not a page at a time.
 */
function contiguousPins(pages: Pages, first: bigint, last: bigint, span: bigint): boolean {
  const head = pinRunAt(pages, first);
  if (head === null) return false;
  const start = head.index + (first - head.first);
  if (start % span !== 0n) return false;
  for (let at = first; at <= last; ) {
    const run = pinRunAt(pages, at);
    if (run === null || run.obj !== head.obj || run.index + (at - run.first) !== start + (at - first)) return false;
    at = run.last + 1n;
  }
  return true;
}

/** The PTE that maps `iova` of `area` in the HWPT's domain: `[start, start + size)`. */
function pteOf(world: World, ctx: Ctx, hwpt: HwptPaging, ioas: Ioas, area: Area, iova: bigint): { start: bigint; size: bigint } {
  const { pageSize } = world.config;
  if ((hwpt.domain.pgsizeBitmap & MOCK_HUGE_PAGE_SIZE) !== 0n && !ioas.hugePagesDisabled) {
    const block = iova - (iova % MOCK_HUGE_PAGE_SIZE);
    const last = block + MOCK_HUGE_PAGE_SIZE - 1n;
    const pages = ctx.pages.get(area.pages);
    if (pages !== undefined && block >= area.start && last <= area.last) {
      const first = (area.startByte + (block - area.start)) / pageSize;
      const span = MOCK_HUGE_PAGE_SIZE / pageSize;
      if (contiguousPins(pages, first, first + span - 1n, span)) return { start: block, size: MOCK_HUGE_PAGE_SIZE };
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
  // The marks of each area, once, rather than every mark for every area.
  const marksOf = new Map<bigint, DirtyMark[]>();
  for (const mark of hwpt.dirty) {
    const of = marksOf.get(mark.area);
    if (of === undefined) marksOf.set(mark.area, [mark]);
    else of.push(mark);
  }
  const bits: BitRange[] = [];
  const read = new Set<DirtyMark>();
  let cur = iova;
  for (const area of intersecting(ioas.iopt.areas, iova, last)) {
    if (area.start > cur) break;
    const end: bigint = area.last < last ? area.last : last;
    for (const mark of marksOf.get(area.start) ?? []) {
      if (!live(mark, area)) continue;
      const pte = pteOf(call.world, ctx, hwpt, ioas, area, mark.iova);
      const from = pte.start > cur ? pte.start : cur;
      const to = pte.start + pte.size - 1n < end ? pte.start + pte.size - 1n : end;
      if (from > to) continue;
      read.add(mark);
      bits.push({ first: (from - iova) / pageSize, last: (to - iova) / pageSize });
    }
    if (end === last) break;
    cur = end + 1n;
  }
  const cleared = (flags & IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR) !== 0n ? hwpt.dirty : hwpt.dirty.filter((m) => !read.has(m));
  const world = cleared === hwpt.dirty ? call.world : putContext(call.world, putObject(ctx, { ...hwpt, dirty: cleared }));
  return ok(world, { data: bitmapHex(bits, nbytes) });
}

/** Bits `first` to `last` of a bitmap, set. */
interface BitRange {
  readonly first: bigint;
  readonly last: bigint;
}

/**
 * The bitmap's bytes in memory order (bit n is bit n % 8 of byte n / 8), as `0x` hex: `nbytes`
 * of them, or for a longer bitmap up to its last set byte and at most `SHOWN_BITMAP_BYTES`.
 * Each range of bits is written a byte at a time, so the cost is the bytes shown, whatever the
 * page size makes of the range.
 */
function bitmapHex(bits: readonly BitRange[], nbytes: bigint): string {
  let top = -1n;
  for (const { last } of bits) if (last / 8n > top) top = last / 8n;
  const wanted = nbytes <= FULL_BITMAP_BYTES ? nbytes : top + 1n;
  const length = Number(wanted < SHOWN_BITMAP_BYTES ? wanted : SHOWN_BITMAP_BYTES);
  const bytes = new Uint8Array(length);
  const shown = BigInt(length) * 8n;
  for (const range of bits) {
    const last = range.last < shown ? range.last : shown - 1n;
    for (let b = range.first; b <= last; ) {
      const i = Number(b / 8n);
      if (b % 8n === 0n && b + 7n <= last) {
        // Whole bytes at once.
        const whole = Number((last + 1n) / 8n) - i;
        bytes.fill(0xff, i, i + whole);
        b += BigInt(whole) * 8n;
      } else {
        bytes[i] = (bytes[i] ?? 0) | (1 << Number(b % 8n));
        b++;
      }
    }
  }
  return `0x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex')}`;
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
