/**
 * Queries over sets of disjoint inclusive ranges `[start, last]` kept in an ordered map by
 * start — the shape of the kernel's area, allowed and (merged) reserved interval trees.
 * Every query is O(log n) plus the ranges it returns.
 */
import { OrderedMap } from './ordered-map.ts';
import type { Range } from './world.ts';

export const U64_MAX = (1n << 64n) - 1n;

/** The lowest range intersecting `[start, last]`. */
export function firstIntersecting<R extends Range>(
  map: OrderedMap<bigint, R>,
  start: bigint,
  last: bigint,
): R | undefined {
  const below = map.atOrBelow(start);
  if (below !== undefined && below[1].last >= start) return below[1];
  const above = map.above(start);
  if (above !== undefined && above[1].start <= last) return above[1];
  return undefined;
}

/** Every range intersecting `[start, last]`, ascending. */
export function* intersecting<R extends Range>(
  map: OrderedMap<bigint, R>,
  start: bigint,
  last: bigint,
): Generator<R> {
  let cur = firstIntersecting(map, start, last);
  while (cur !== undefined && cur.start <= last) {
    yield cur;
    if (cur.last >= last) return;
    const next = map.above(cur.start);
    cur = next?.[1];
  }
}

/** The range containing `point`, or else the lowest range starting above it. */
export function atOrAfter<R extends Range>(map: OrderedMap<bigint, R>, point: bigint): R | undefined {
  const below = map.atOrBelow(point);
  if (below !== undefined && below[1].last >= point) return below[1];
  return map.above(point)?.[1];
}

/**
 * Merges possibly overlapping ranges into maximal disjoint spans; ranges that touch
 * (`a.last + 1 == b.start`) merge too, as `interval_tree_span_iter` reports them.
 */
export function spansOf(ranges: Iterable<Range>): OrderedMap<bigint, Range> {
  const sorted = [...ranges].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  const out: Range[] = [];
  for (const r of sorted) {
    const prev = out[out.length - 1];
    if (prev !== undefined && (r.start <= prev.last || prev.last + 1n === r.start)) {
      if (r.last > prev.last) out[out.length - 1] = { start: prev.start, last: r.last };
    } else {
      out.push({ start: r.start, last: r.last });
    }
  }
  return OrderedMap.of(out.map((r) => [r.start, r] as const));
}

/** Ranges of one set from the one holding `from` (or the next) upwards, ascending. */
function* rangesFrom(set: OrderedMap<bigint, Range>, from: bigint): Generator<Range> {
  const first = atOrAfter(set, from);
  if (first === undefined) return;
  for (const [, r] of set.entriesFrom(first.start)) yield r;
}

/**
 * The maximal sub-ranges of `[lo, hi]` covered by none of the given range sets, ascending:
 * `interval_tree_for_each_double_span()`'s holes (and, with one set, `_for_each_span()`'s).
 * One ordered walk over each set: O(log n) to start, then O(1) per range passed.
 */
export function* holes(sets: readonly OrderedMap<bigint, Range>[], lo: bigint, hi: bigint): Generator<Range> {
  const walks = sets.map((set) => rangesFrom(set, lo));
  const heads: (Range | undefined)[] = walks.map((w) => w.next().value ?? undefined);
  let cursor = lo;
  for (;;) {
    // The lowest-starting range not wholly below the cursor, across the sets.
    let at = -1;
    for (let i = 0; i < heads.length; i++) {
      let h = heads[i];
      while (h !== undefined && h.last < cursor) h = heads[i] = walks[i]?.next().value ?? undefined;
      if (h !== undefined && (at < 0 || h.start < (heads[at] as Range).start)) at = i;
    }
    const next = at < 0 ? undefined : (heads[at] as Range);
    if (next === undefined || next.start > hi) {
      yield { start: cursor, last: hi };
      return;
    }
    if (next.start > cursor) yield { start: cursor, last: next.start - 1n };
    if (next.last >= hi) return;
    cursor = next.last + 1n;
  }
}
