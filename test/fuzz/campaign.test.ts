/**
 * A fuzz campaign split into runs: each run is made from the campaign's seed and its index
 * alone, so a run made by itself is the run the whole campaign makes; the campaign's totals and
 * counterexample follow from its runs in order, ending at the first that fails; a failure's
 * printed path goes straight back to it.
 */
import { describe, expect, it } from 'vitest';
import { Campaign, fuzz } from '../../src/fuzz/fuzz.ts';
import { MAX_RUNS, runSeed } from '../../src/fuzz/run-seed.ts';
import { tally } from '../../src/fuzz/tally.ts';
import { bugSet } from '../../src/model/mutants.ts';
import { shardUnits } from '../../src/parallel/shard.ts';

/** A bug that many short runs find (a mock domain attached twice lists the domain twice). */
const OFTEN = { seed: 1, maxSteps: 30, bugs: bugSet(['domain-added-twice']) };

describe('run seeds', () => {
  it('depend on the campaign seed and the run index alone, distinct across a campaign', () => {
    expect(runSeed(5, 7)).toBe(runSeed(5, 7));
    const seeds = new Set(Array.from({ length: 100_000 }, (_, run) => runSeed(5, run)));
    expect(seeds.size).toBe(100_000);
    expect(runSeed(5, 0)).not.toBe(runSeed(6, 0));
    for (const run of [0, 1, MAX_RUNS - 1]) {
      const s = runSeed(2 ** 32 - 1, run);
      expect(Number.isInteger(s) && s >= 0 && s < 2 ** 32).toBe(true);
    }
  });
});

describe('a campaign', () => {
  it('makes each run as that run made alone does', () => {
    const whole = fuzz({ seed: 11, runs: 12, maxSteps: 20 });
    expect(whole.counterexample).toBeNull();
    expect(whole.runSteps).toHaveLength(12);
    const alone = new Campaign({ seed: 11, maxSteps: 20 });
    for (const run of [11, 0, 5]) expect(alone.run(run).steps).toBe(whole.runSteps[run]);
    expect(whole.steps).toBe(whole.runSteps.reduce((a, b) => a + b, 0));
  });

  it('ends at its first failing run, whatever runs after it found', () => {
    const campaign = new Campaign({ ...OFTEN, shrink: false });
    const failing = Array.from({ length: 40 }, (_, run) => run).filter((run) => campaign.run(run).counterexample !== null);
    expect(failing.length).toBeGreaterThan(1);
    const first = failing[0] as number;
    const r = fuzz({ ...OFTEN, runs: 40 });
    expect(r.counterexample?.run).toBe(first);
    expect(r.runSteps).toHaveLength(first + 1);
    expect(r.runs).toBe(first + 1 + (r.counterexample?.shrinkRuns ?? NaN));
    // Shards each stop at their own first failure; their runs taken in order give the same campaign.
    const made = new Map<number, ReturnType<Campaign['run']>>();
    for (const index of [1, 2, 3]) {
      for (const run of shardUnits(40, { index, count: 3 })) {
        const o = new Campaign(OFTEN).run(run);
        made.set(run, o);
        if (o.counterexample !== null) break;
      }
    }
    const inOrder = function* () {
      for (let run = 0; made.has(run); run++) yield made.get(run) as ReturnType<Campaign['run']>;
    };
    expect(tally(inOrder())).toEqual(r);
  }, 60_000);

  it('reruns a failure alone from the path it printed, without shrinking again', () => {
    const found = fuzz({ seed: 3, runs: 50, maxSteps: 200, bugs: bugSet(['double-charge']) }).counterexample;
    expect(found).not.toBeNull();
    if (found === null) return;
    expect(found.path).toMatch(/^\d+(:\d+)+@/);
    const again = new Campaign({ seed: 3, maxSteps: 200, bugs: bugSet(['double-charge']) }).run(found.run, { path: found.path });
    expect(again.counterexample?.trace).toBe(found.trace);
    expect(again.counterexample?.shrinkRuns).toBe(0);
  }, 60_000);
});
