/**
 * The automatic IOVA allocator: `iopt_alloc_iova()` and its `__alloc_iova_check_range()`
 * helper (io_pagetable.c, spec §4). Users that replay a capture depend on getting the very IOVA
 * the kernel chose, so the answer is the kernel's first fit; only the search is faster than the
 * kernel's walk over every hole, through the used-span tree (`IoPagetable.used`).
 */
import { Fail, fail } from '../../model/fail.ts';
import type { OrderedMap } from '../../model/ordered-map.ts';
import { U64_MAX } from '../../model/ranges.ts';
import type { IoPagetable, ModelConfig, Range } from '../../model/world.ts';

const ULONG_MAX = U64_MAX;

function roundUpPowerOfTwo(n: bigint): bigint {
  let p = 1n;
  while (p < n) p <<= 1n;
  return p;
}

/** `1UL << __ffs64(addr)` for a non-zero addr. */
function lowestSetBit(addr: bigint): bigint {
  return addr & -addr;
}

/**
 * `__alloc_iova_check_range()`: the aligned start inside `[start, last]`, with the page offset
 * OR-ed in as the kernel does (not added), or null when the length does not fit.
 */
function fit(config: ModelConfig, start: bigint, last: bigint, length: bigint, alignment: bigint, pageOffset: bigint): bigint | null {
  let aligned = start + alignment - 1n;
  if (aligned > U64_MAX) {
    if (!config.bugs.has('alloc-align-overflow')) return null;
    aligned &= U64_MAX;
  }
  aligned &= ~(alignment - 1n);
  aligned |= pageOffset;
  if (aligned >= last || last - aligned < length - 1n) return null;
  return aligned;
}

/**
 * The IOVA the kernel picks for `length` bytes whose source address (user VA, or file offset)
 * is `addr`: first fit in the allowed spans (or everywhere but the first and last page), in
 * the holes between reserved ranges and areas.
 *
 * Why the tree search gives the kernel's answer: `fit()` only moves a hole's start up
 * (`ALIGN()` then an OR of bits the alignment leaves clear), and then needs `aligned < last`
 * and `length` bytes, so a hole of fewer than max(length, 2) bytes never fits. The search skips
 * exactly those holes and puts every other one, in address order, to `fit()` itself: the first
 * to pass is the kernel's. What it costs: one O(log n) descent per hole put to `fit()`, so
 * O((1 + m) log n) with m the holes turned down before the answer. `fit()` moves a start up by
 * less than alignment + page offset, so those are near misses, less than that over the minimum
 * (or at the very top of the space, where `ALIGN()` would overflow); the holes that unmapping
 * maps of the same length and source alignment leaves are never near misses.
 */
export function allocIova(iopt: IoPagetable, config: ModelConfig, addr: bigint, length: bigint): Fail | bigint {
  const pageOffset = addr % config.pageSize;
  // Protects roundup_pow_of_two() from overflow.
  if (length === 0n || length >= ULONG_MAX / 2n) return fail('EOVERFLOW', 'iopt_alloc_iova', 'length is 0 or too large');
  let alignment = roundUpPowerOfTwo(length);
  if (addr !== 0n) {
    const natural = lowestSetBit(addr);
    if (natural < alignment) alignment = natural;
  }
  // CONFIG_TRANSPARENT_HUGEPAGE: max_alignment = HPAGE_SIZE; also protects ALIGN() from overflow.
  const maxAlignment = config.hugepageSize;
  if (alignment >= maxAlignment && !config.bugs.has('alloc-align-overflow')) alignment = maxAlignment;
  if (alignment < iopt.iovaAlignment) return fail('EINVAL', 'iopt_alloc_iova', 'alignment below iova_alignment');

  // Without the overflow check a wrapped ALIGN() lands below the hole whatever its size: no hole may be skipped.
  const minSize = config.bugs.has('alloc-align-overflow') ? 1n : length < 2n ? 2n : length;
  const test = (start: bigint, last: bigint): bigint | null => fit(config, start, last, length, alignment, pageOffset);
  const lo = config.pageSize;
  const hi = ULONG_MAX - config.pageSize;
  const windows: Iterable<Range> =
    iopt.allowed.size === 0 || config.bugs.has('alloc-ignores-allowed') ? [{ start: lo, last: hi }] : allowedSpans(iopt.allowed, lo, hi);
  for (const window of windows) {
    const from = test(window.start, window.last);
    if (from === null) continue;
    const at = iopt.used.firstHole(from, window.last, minSize, test);
    if (at !== null) return at;
  }
  return fail('ENOSPC', 'iopt_alloc_iova', 'no hole fits');
}

/**
 * `interval_tree_for_each_span()` over the allowed tree, used spans only: overlapping or
 * touching ranges merge, each clipped to `[lo, hi]`.
 */
function* allowedSpans(allowed: OrderedMap<bigint, Range>, lo: bigint, hi: bigint): Generator<Range> {
  let current: Range | null = null;
  for (const r of allowed.values()) {
    if (current !== null && (r.start <= current.last || current.last + 1n === r.start)) {
      if (r.last > current.last) current = { start: current.start, last: r.last };
      continue;
    }
    if (current !== null) {
      const clipped = clip(current, lo, hi);
      if (clipped !== null) yield clipped;
    }
    current = r;
  }
  if (current !== null) {
    const clipped = clip(current, lo, hi);
    if (clipped !== null) yield clipped;
  }
}

function clip(r: Range, lo: bigint, hi: bigint): Range | null {
  const start = r.start > lo ? r.start : lo;
  const last = r.last < hi ? r.last : hi;
  return start <= last ? { start, last } : null;
}
