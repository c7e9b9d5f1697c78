/** The runs of a process's private pages (src/mm/anon-runs.ts): cut at the ends of a range, merged where they continue. */
import { describe, expect, it } from 'vitest';
import { clearRuns, putRun, runsWithin } from '../../src/mm/anon-runs.ts';
import { OrderedMap } from '../../src/model/ordered-map.ts';
import type { AnonRun } from '../../src/model/world.ts';

const PAGE = 0x1000n;
const run = (start: bigint, pages: bigint, obj: string, index: bigint, exclusive = true): AnonRun => ({
  start,
  last: start + pages * PAGE - 1n,
  obj,
  index,
  compound: false,
  exclusive,
});
const shape = (runs: OrderedMap<bigint, AnonRun>) => [...runs.values()].map((r) => [r.start, r.last, r.obj, r.index]);

describe('anonymous page runs', () => {
  const ten = putRun(OrderedMap.empty(), run(0x10000n, 10n, 'a', 100n), PAGE);
  it('a run over the middle of another cuts it in three, the page indexes kept in step', () => {
    expect(shape(putRun(ten, run(0x12000n, 3n, 'b', 0n), PAGE))).toEqual([
      [0x10000n, 0x11fffn, 'a', 100n],
      [0x12000n, 0x14fffn, 'b', 0n],
      [0x15000n, 0x19fffn, 'a', 105n],
    ]);
  });
  it('a run that continues its neighbours on both sides becomes one run with them', () => {
    const holed = clearRuns(ten, 0x12000n, 0x14fffn, PAGE);
    expect(shape(holed)).toEqual([
      [0x10000n, 0x11fffn, 'a', 100n],
      [0x15000n, 0x19fffn, 'a', 105n],
    ]);
    expect(shape(putRun(holed, run(0x12000n, 3n, 'a', 102n), PAGE))).toEqual([[0x10000n, 0x19fffn, 'a', 100n]]);
  });
  it('neighbours of another object, other pages of it, or not as exclusive stay apart', () => {
    const holed = clearRuns(ten, 0x12000n, 0x14fffn, PAGE);
    for (const filler of [run(0x12000n, 3n, 'b', 102n), run(0x12000n, 3n, 'a', 103n), run(0x12000n, 3n, 'a', 102n, false)]) {
      expect(putRun(holed, filler, PAGE).size).toBe(3);
    }
  });
  it('runsWithin gives the runs a range meets, cut to it', () => {
    const two = putRun(ten, run(0x20000n, 2n, 'c', 7n), PAGE);
    expect([...runsWithin(two, 0x18000n, 0x20fffn, PAGE)].map((r) => [r.start, r.last, r.index])).toEqual([
      [0x18000n, 0x19fffn, 108n],
      [0x20000n, 0x20fffn, 7n],
    ]);
  });
});
