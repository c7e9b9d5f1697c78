/**
 * The persistent ordered map's structural diff: for two versions of a map, `changesSince`
 * reports exactly the keys whose values differ (by identity), ascending, whatever updates —
 * including ones that split or merge nodes and change the tree's height — lie between them.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OrderedMap } from '../../src/model/ordered-map.ts';
import { propertySettings } from '../fc-settings.ts';

type Op = { readonly set: number } | { readonly del: number };

const ops = fc.array(fc.oneof(fc.record({ set: fc.integer({ min: 0, max: 3000 }) }), fc.record({ del: fc.integer({ min: 0, max: 3000 }) })), { maxLength: 200 });

function apply(map: OrderedMap<number, object>, list: readonly Op[]): OrderedMap<number, object> {
  for (const op of list) map = 'set' in op ? map.set(op.set, { v: op.set }) : map.delete(op.del);
  return map;
}

function naive(older: OrderedMap<number, object>, newer: OrderedMap<number, object>): [number, object | undefined, object | undefined][] {
  const keys = [...new Set([...older.keys(), ...newer.keys()])].sort((a, b) => a - b);
  return keys.filter((k) => older.get(k) !== newer.get(k)).map((k) => [k, older.get(k), newer.get(k)]);
}

function diff(older: OrderedMap<number, object>, newer: OrderedMap<number, object>): [number, object | undefined, object | undefined][] {
  const out: [number, object | undefined, object | undefined][] = [];
  newer.changesSince(older, (k, was, now) => out.push([k, was, now]));
  return out;
}

describe('OrderedMap.changesSince', () => {
  it('reports exactly the entries that differ, ascending', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 5000 }), ops, ops, (size, first, second) => {
        const base = apply(OrderedMap.of(Array.from({ length: size }, (_, i) => [i * 2, { v: i }] as const)), first);
        const next = apply(base, second);
        expect(diff(base, next)).toEqual(naive(base, next));
        expect(diff(next, base)).toEqual(naive(next, base));
      }),
      propertySettings(200),
    );
  });

  it('against an unrelated or empty map, reports every entry', () => {
    const a = OrderedMap.of<number, object>([[1, { v: 1 }], [5, { v: 5 }]]);
    const b = OrderedMap.of<number, object>([[1, { v: 1 }], [3, { v: 3 }]]);
    expect(diff(a, b).map(([k, was, now]) => [k, was !== undefined, now !== undefined])).toEqual([
      [1, true, true],
      [3, false, true],
      [5, true, false],
    ]);
    expect(diff(OrderedMap.empty(), a).map(([k]) => k)).toEqual([1, 5]);
    expect(diff(a, a)).toEqual([]);
  });

  it('across updates that change the height of the tree', () => {
    for (const size of [10, 30, 40, 1000, 1100, 5000]) {
      const base = OrderedMap.of<number, object>(Array.from({ length: size }, (_, i) => [i, { v: i }]));
      let grown = base;
      for (let i = size; i < size * 2 + 10; i++) grown = grown.set(i, { v: i });
      let shrunk = base;
      for (let i = 5; i < size; i++) shrunk = shrunk.delete(i);
      for (const [x, y] of [[base, grown], [grown, base], [base, shrunk], [shrunk, base], [shrunk, grown]] as const) expect(diff(x, y)).toEqual(naive(x, y));
    }
  });

  it('costs what changed: a few updates in a large map visit only their leaves', () => {
    let big = OrderedMap.empty<number, object>();
    for (let i = 0; i < 50_000; i++) big = big.set(i, { v: i });
    const next = big.set(7, { v: -7 }).delete(40_000).set(-1, { v: -1 });
    const started = performance.now();
    for (let r = 0; r < 1000; r++) diff(big, next);
    expect(diff(big, next).map(([k]) => k)).toEqual([-1, 7, 40_000]);
    expect((performance.now() - started) / 1000).toBeLessThan(1);
  });
});
