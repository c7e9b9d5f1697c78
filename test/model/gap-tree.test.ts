/**
 * The used-span tree against a plain list: the same ranges, the same holes asked in the same
 * order, old versions untouched by later updates, and one shape per set.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GapTree } from '../../src/model/gap-tree.ts';
import { propertySettings } from '../fc-settings.ts';

const U64_MAX = (1n << 64n) - 1n;

interface Span {
  readonly start: bigint;
  readonly last: bigint;
  readonly tag: number;
}

const byKey = (a: Span, b: Span): number => (a.start !== b.start ? (a.start < b.start ? -1 : 1) : a.tag - b.tag);

/** The holes of `spans` clipped to `[lo, hi]`, by one sweep over them sorted by start. */
function holesOf(spans: readonly Span[], lo: bigint, hi: bigint): [bigint, bigint][] {
  const out: [bigint, bigint][] = [];
  const push = (first: bigint, last: bigint): void => {
    const s = first < lo ? lo : first;
    const e = last > hi ? hi : last;
    if (s <= e) out.push([s, e]);
  };
  let covered = -1n;
  for (const r of [...spans].sort(byKey)) {
    if (r.start > covered + 1n) push(covered + 1n, r.start - 1n);
    if (r.last > covered) covered = r.last;
  }
  if (covered < U64_MAX) push(covered + 1n, U64_MAX);
  return out;
}

function build(spans: readonly Span[]): GapTree {
  return spans.reduce((t, r) => t.with(r, r.tag), GapTree.EMPTY);
}

/** Points dense enough to make ranges touch and overlap, near 0 and near the top of the space. */
const point = fc.oneof(
  { weight: 4, arbitrary: fc.bigInt({ min: 0n, max: 64n }) },
  { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: 64n }).map((k) => U64_MAX - k) },
  { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: U64_MAX }) },
);
const length = fc.oneof({ weight: 3, arbitrary: fc.bigInt({ min: 1n, max: 3n }) }, { weight: 1, arbitrary: fc.bigInt({ min: 1n, max: 40n }) });
const spanAt = (start: bigint, length: bigint, tag: number): Span => ({ start, last: start + length - 1n > U64_MAX ? U64_MAX : start + length - 1n, tag });
const span = fc.record({ start: point, length, tag: fc.integer({ min: 0, max: 1 }) }).map(({ start, length, tag }) => spanAt(start, length, tag));
/** Disjoint ranges back to back with holes of 0 to 3 bytes, from 0 or near the top: a nearly full space. */
const packed = fc
  .record({ base: fc.constantFrom(0n, U64_MAX - 200n), runs: fc.array(fc.tuple(fc.bigInt({ min: 0n, max: 3n }), fc.bigInt({ min: 1n, max: 3n })), { maxLength: 50 }) })
  .map(({ base, runs }) => {
    let at = base;
    return runs.map(([hole, length], i) => {
      const r = spanAt(at + hole, length, i % 2);
      at = r.last + 1n;
      return r;
    });
  });

type Op =
  | { readonly kind: 'add'; readonly span: Span }
  | { readonly kind: 'resize'; readonly nth: number; readonly length: bigint }
  | { readonly kind: 'removeNth'; readonly nth: number }
  | { readonly kind: 'remove'; readonly start: bigint; readonly tag: number };

/** Inserts, new lengths for ranges inserted before, removals of ranges inserted before or of any key. */
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: span.map((s) => ({ kind: 'add' as const, span: s })) },
  { weight: 1, arbitrary: fc.record({ nth: fc.nat(), length }).map((r) => ({ kind: 'resize' as const, ...r })) },
  { weight: 2, arbitrary: fc.nat().map((nth) => ({ kind: 'removeNth' as const, nth })) },
  { weight: 1, arbitrary: fc.record({ start: point, tag: fc.integer({ min: 0, max: 1 }) }).map((k) => ({ kind: 'remove' as const, ...k })) },
);

/** Runs `ops` on a tree and on a list: every intermediate tree with the list it should hold. */
function replay(ops: readonly Op[]): [GapTree, Span[]][] {
  let tree = GapTree.EMPTY;
  let list: Span[] = [];
  const versions: [GapTree, Span[]][] = [[tree, list]];
  const put = (r: Span): void => {
    tree = tree.with(r, r.tag);
    list = [...list.filter((x) => byKey(x, r) !== 0), r];
  };
  const drop = (start: bigint, tag: number): void => {
    const before = tree;
    tree = tree.without(start, tag);
    const kept = list.filter((r) => r.start !== start || r.tag !== tag);
    if (kept.length === list.length) expect(tree).toBe(before);
    list = kept;
  };
  for (const o of ops) {
    const nth = o.kind === 'resize' || o.kind === 'removeNth' ? list[o.nth % Math.max(list.length, 1)] : undefined;
    if (o.kind === 'add') put(o.span);
    else if (o.kind === 'remove') drop(o.start, o.tag);
    else if (nth !== undefined && o.kind === 'resize') put(spanAt(nth.start, o.length, nth.tag));
    else if (nth !== undefined) drop(nth.start, nth.tag);
    versions.push([tree, list]);
  }
  return versions;
}

describe('GapTree', () => {
  it('holds what a list holds, and every old version keeps what it held', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        for (const [tree, list] of replay(ops)) expect([...tree.entries()]).toEqual([...list].sort(byKey));
      }),
      propertySettings(300),
    );
  });

  it('has one shape per set, whatever the order of updates', () => {
    fc.assert(
      fc.property(fc.array(span, { maxLength: 40 }), fc.array(span, { maxLength: 10 }), (spans, extra) => {
        const unique = [...new Map(spans.map((r) => [`${r.start}/${r.tag}`, r])).values()];
        // Each extra range comes and goes (or replaces one of the set, which then comes back).
        let tree = build(unique);
        for (const r of extra) {
          const original = unique.find((u) => byKey(u, r) === 0);
          tree = tree.with(r, r.tag);
          tree = original === undefined ? tree.without(r.start, r.tag) : tree.with(original, original.tag);
        }
        expect(tree).toEqual(build([...unique].reverse()));
      }),
      propertySettings(200),
    );
  });

  it('asks about exactly the holes of at least the minimum size, in order, up to the first answer', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.array(op, { maxLength: 60 }).map((ops) => replay(ops).pop() as [GapTree, Span[]]),
          packed.map((spans): [GapTree, Span[]] => [build(spans), spans]),
        ),
        point,
        point,
        fc.bigInt({ min: 1n, max: 4n }),
        fc.bigInt({ min: 1n, max: 7n }),
        ([tree, list], a, b, minSize, modulus) => {
          const [lo, hi] = a <= b ? [a, b] : [b, a];
          const asked: [bigint, bigint][] = [];
          // Turns down some holes large enough, as an alignment would.
          const answer = tree.firstHole(lo, hi, minSize, (s, e) => {
            asked.push([s, e]);
            return s % modulus === 0n || e - s + 1n >= minSize + modulus ? s : null;
          });
          const candidates = holesOf(list, lo, hi).filter(([s, e]) => e - s + 1n >= minSize);
          const hit = candidates.findIndex(([s, e]) => s % modulus === 0n || e - s + 1n >= minSize + modulus);
          expect(asked).toEqual(hit < 0 ? candidates : candidates.slice(0, hit + 1));
          expect(answer).toBe(hit < 0 ? null : (candidates[hit] as [bigint, bigint])[0]);
        },
      ),
      propertySettings(500),
    );
  });

  it('finds the hole at either end of the space and none in a full one', () => {
    const first = (t: GapTree, lo: bigint, hi: bigint, minSize = 1n) => t.firstHole(lo, hi, minSize, (s, e) => [s, e]);
    expect(first(GapTree.EMPTY, 0n, U64_MAX)).toEqual([0n, U64_MAX]);
    const middle = GapTree.EMPTY.with({ start: 1n, last: U64_MAX - 1n }, 0);
    expect(first(middle, 0n, U64_MAX)).toEqual([0n, 0n]);
    expect(first(middle, 1n, U64_MAX)).toEqual([U64_MAX, U64_MAX]);
    expect(first(middle, 0n, U64_MAX, 2n)).toBeNull();
    const full = middle.with({ start: 0n, last: 0n }, 1).with({ start: U64_MAX, last: U64_MAX }, 1);
    expect(first(full, 0n, U64_MAX)).toBeNull();
    expect(first(full.without(0n, 1), 0n, U64_MAX)).toEqual([0n, 0n]);
  });

  it('tests only the holes that may answer among many that may not', () => {
    // 10,000 ranges with one-byte holes between them, then a large hole at the end.
    let tree = GapTree.EMPTY;
    for (let i = 0n; i < 10_000n; i++) tree = tree.with({ start: 2n * i, last: 2n * i }, 1);
    let asked = 0;
    const answer = tree.firstHole(0n, U64_MAX, 2n, (s) => {
      asked++;
      return s;
    });
    expect(answer).toBe(20_000n - 1n);
    expect(asked).toBe(1);
  });
});
