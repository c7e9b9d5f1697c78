/**
 * A campaign's totals from its runs taken in order: a campaign ends at its first failing run,
 * so runs after it do not count, whichever thread or shard made them. The same totals come
 * out whether the runs were made one after the other, by threads, or by shards merged.
 */

/** What a failing run adds beyond itself: the runs and steps spent shrinking it. */
export interface Shrinking {
  readonly shrinkRuns: number;
  readonly shrinkSteps: number;
}

export interface Tally<C extends Shrinking> {
  /** Runs made, shrinking runs included. */
  readonly runs: number;
  /** Steps made, shrinking runs included. */
  readonly steps: number;
  /** The steps of each run counted, in order, the failing one last (shrinking apart). */
  readonly runSteps: readonly number[];
  readonly counterexample: C | null;
}

/** `outcomes` are the campaign's runs in order; those after the first failing one are ignored. */
export function tally<C extends Shrinking>(outcomes: Iterable<{ readonly steps: number; readonly counterexample: C | null }>): Tally<C> {
  const runSteps: number[] = [];
  let steps = 0;
  for (const o of outcomes) {
    runSteps.push(o.steps);
    steps += o.steps;
    const c = o.counterexample;
    if (c !== null) return { runs: runSteps.length + c.shrinkRuns, steps: steps + c.shrinkSteps, runSteps, counterexample: c };
  }
  return { runs: runSteps.length, steps, runSteps, counterexample: null };
}
