/**
 * A persistent set of inclusive ranges `[start, last]` over the 64-bit space that can find the
 * first hole between them that satisfies a caller's test, in O(log n) per hole it tests.
 *
 * A treap ordered by (start, tag), each node's priority a hash of that key (no randomness, so
 * the shape is a function of the set: two equal sets have equal trees). Every node keeps, for
 * its subtree, the least and greatest start, the greatest last byte, and `gap`: the largest
 * hole before any of its ranges but the first, measured from the bytes the ranges before it in
 * the subtree cover. Updates copy the O(log n) nodes on one path and share the rest.
 *
 * Ranges may overlap (the tag tells apart two ranges with one start): `gap` is then only an
 * upper bound, and the search, which carries the highest byte covered so far, stays exact.
 */
import { U64_MAX } from './ranges.ts';

interface Node {
  readonly start: bigint;
  readonly last: bigint;
  readonly tag: number;
  readonly priority: number;
  readonly left: Node | null;
  readonly right: Node | null;
  readonly minStart: bigint;
  readonly maxStart: bigint;
  readonly maxLast: bigint;
  readonly gap: bigint;
}

export interface GapEntry {
  readonly start: bigint;
  readonly last: bigint;
  readonly tag: number;
}

/** MurmurHash3's 32-bit finalizer: keys that are multiples of a page get priorities as spread as random ones. */
function mix32(x: number): number {
  let h = x;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function priorityOf(start: bigint, tag: number): number {
  const low = Number(start & 0xffffffffn);
  const high = Number(start >> 32n);
  return mix32(low ^ mix32(high ^ Math.imul(tag + 1, 0x9e3779b9)));
}

function compare(start: bigint, tag: number, node: Node): number {
  if (start !== node.start) return start < node.start ? -1 : 1;
  return tag - node.tag;
}

/** Does `a` belong above `b`: higher priority, ties broken by key so the shape stays unique. */
function above(a: Node, b: Node): boolean {
  return a.priority !== b.priority ? a.priority > b.priority : compare(a.start, a.tag, b) < 0;
}

const max = (a: bigint, b: bigint): bigint => (a > b ? a : b);

/** The node for `e` over `left` and `right`, its subtree figures recomputed from theirs. */
function node(e: GapEntry, priority: number, left: Node | null, right: Node | null): Node {
  let gap = 0n;
  let covered = e.last;
  if (left !== null) {
    gap = max(left.gap, e.start - left.maxLast - 1n);
    covered = max(left.maxLast, e.last);
  }
  let maxLast = covered;
  if (right !== null) {
    gap = max(max(gap, right.gap), right.minStart - covered - 1n);
    maxLast = max(covered, right.maxLast);
  }
  return {
    start: e.start,
    last: e.last,
    tag: e.tag,
    priority,
    left,
    right,
    minStart: left?.minStart ?? e.start,
    maxStart: right?.maxStart ?? e.start,
    maxLast,
    gap,
  };
}

const withChildren = (t: Node, left: Node | null, right: Node | null): Node =>
  left === t.left && right === t.right ? t : node(t, t.priority, left, right);

/** The ranges of `t` keyed below (start, tag), and those keyed above; the key itself is absent. */
function split(t: Node | null, start: bigint, tag: number): [Node | null, Node | null] {
  if (t === null) return [null, null];
  if (compare(start, tag, t) < 0) {
    const [l, r] = split(t.left, start, tag);
    return [l, withChildren(t, r, t.right)];
  }
  const [l, r] = split(t.right, start, tag);
  return [withChildren(t, t.left, l), r];
}

/** Every key of `a` is below every key of `b`. */
function merge(a: Node | null, b: Node | null): Node | null {
  if (a === null) return b;
  if (b === null) return a;
  return above(a, b) ? withChildren(a, a.left, merge(a.right, b)) : withChildren(b, merge(a, b.left), b.right);
}

function insert(t: Node | null, fresh: Node): Node {
  if (t === null) return fresh;
  const c = compare(fresh.start, fresh.tag, t);
  if (c === 0) return node(fresh, t.priority, t.left, t.right);
  if (above(fresh, t)) {
    const [l, r] = split(t, fresh.start, fresh.tag);
    return node(fresh, fresh.priority, l, r);
  }
  return c < 0 ? withChildren(t, insert(t.left, fresh), t.right) : withChildren(t, t.left, insert(t.right, fresh));
}

function remove(t: Node | null, start: bigint, tag: number): Node | null {
  if (t === null) return null;
  const c = compare(start, tag, t);
  if (c === 0) return merge(t.left, t.right);
  return c < 0 ? withChildren(t, remove(t.left, start, tag), t.right) : withChildren(t, t.left, remove(t.right, start, tag));
}

export class GapTree {
  static readonly EMPTY = new GapTree(null);

  private constructor(private readonly root: Node | null) {}

  /** The set with `range` under `tag`, replacing the range of that start and tag if any. */
  with(range: { readonly start: bigint; readonly last: bigint }, tag: number): GapTree {
    const fresh = node({ start: range.start, last: range.last, tag }, priorityOf(range.start, tag), null, null);
    return new GapTree(insert(this.root, fresh));
  }

  /** The set without the range of that start and tag; this very set when there is none. */
  without(start: bigint, tag: number): GapTree {
    const root = remove(this.root, start, tag);
    return root === this.root ? this : new GapTree(root);
  }

  /** The ranges in (start, tag) order. */
  *entries(): Generator<GapEntry> {
    const stack: Node[] = [];
    let t = this.root;
    while (t !== null || stack.length > 0) {
      while (t !== null) {
        stack.push(t);
        t = t.left;
      }
      const n = stack.pop() as Node;
      yield { start: n.start, last: n.last, tag: n.tag };
      t = n.right;
    }
  }

  /**
   * Walks the holes (maximal runs of bytes no range covers) clipped to `[lo, hi]`, in address
   * order, and returns the first non-null answer of `test(start, last)` on a clipped hole.
   * `test` must answer null for every hole of fewer than `minSize` bytes: those are not asked.
   *
   * Cost: a subtree is entered only when it may hold a hole of `minSize` bytes or more, so the
   * walk costs O(log n) to reach `lo`, plus O(log n) for each hole it tests. With disjoint
   * ranges `gap` is exact and every entered subtree does hold such a hole: the walk costs
   * O((1 + m) log n) where m counts the holes the test turns down before its answer.
   */
  firstHole<T>(lo: bigint, hi: bigint, minSize: bigint, test: (start: bigint, last: bigint) => T | null): T | null {
    // Bytes below this are covered or already walked; the next hole starts right after it.
    let covered = -1n;
    let done = false;
    let found: T | null = null;
    const hole = (last: bigint): void => {
      const first = covered + 1n;
      if (first > hi) {
        done = true;
        return;
      }
      if (last < lo || first > last) return;
      const s = first < lo ? lo : first;
      const e = last > hi ? hi : last;
      if (e - s + 1n >= minSize) {
        found = test(s, e);
        if (found !== null) done = true;
      }
      if (last >= hi) done = true;
    };
    const visit = (t: Node | null): void => {
      if (t === null || done) return;
      // Every hole before a range of this subtree ends before lo, or is too small.
      if (t.maxStart <= lo || (t.gap < minSize && t.minStart - covered - 1n < minSize)) {
        if (t.maxLast > covered) covered = t.maxLast;
        return;
      }
      visit(t.left);
      if (done) return;
      hole(t.start - 1n);
      if (done) return;
      if (t.last > covered) covered = t.last;
      visit(t.right);
    };
    visit(this.root);
    if (!done) hole(U64_MAX);
    return found;
  }
}
