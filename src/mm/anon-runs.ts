/**
 * A process's private pages that are not simply their mapping's own (`Process['anonPages']`),
 * kept as disjoint runs by first VA. Setting the pages of a range cuts the runs across its
 * ends and merges the new run with neighbours it continues, so a fork, a write or a pin costs
 * the runs it meets, whatever the number of pages.
 */
import { intersecting } from '../model/ranges.ts';
import type { AnonRun, Process } from '../model/world.ts';

export type AnonRuns = Process['anonPages'];

const max = (a: bigint, b: bigint): bigint => (a > b ? a : b);
const min = (a: bigint, b: bigint): bigint => (a < b ? a : b);

/** The part `[start, last]` of a run, its page index kept in step. */
export function sliceRun(run: AnonRun, start: bigint, last: bigint, pageSize: bigint): AnonRun {
  if (start === run.start && last === run.last) return run;
  return { ...run, start, last, index: run.index + (start - run.start) / pageSize };
}

/** The runs meeting `[start, last]`, cut to it, ascending. */
export function* runsWithin(runs: AnonRuns, start: bigint, last: bigint, pageSize: bigint): Generator<AnonRun> {
  for (const r of intersecting(runs, start, last)) yield sliceRun(r, max(r.start, start), min(r.last, last), pageSize);
}

/** `runs` without `[start, last]`: a run across one of its ends keeps its part outside. */
export function clearRuns(runs: AnonRuns, start: bigint, last: bigint, pageSize: bigint): AnonRuns {
  let out = runs;
  for (const r of [...intersecting(runs, start, last)]) {
    out = out.delete(r.start);
    if (r.start < start) out = out.set(r.start, sliceRun(r, r.start, start - 1n, pageSize));
    if (r.last > last) out = out.set(last + 1n, sliceRun(r, last + 1n, r.last, pageSize));
  }
  return out;
}

/** Whether run `b` goes on where run `a` ends: the next pages of the same object, alike. */
function continues(a: AnonRun, b: AnonRun, pageSize: bigint): boolean {
  return (
    a.last + 1n === b.start &&
    a.obj === b.obj &&
    a.compound === b.compound &&
    a.exclusive === b.exclusive &&
    a.index + (a.last - a.start + 1n) / pageSize === b.index
  );
}

/** `runs` with `run` over its range, in one run with the neighbours it continues. */
export function putRun(runs: AnonRuns, run: AnonRun, pageSize: bigint): AnonRuns {
  let out = clearRuns(runs, run.start, run.last, pageSize);
  let merged = run;
  const before = out.atOrBelow(run.start - 1n)?.[1];
  if (before !== undefined && continues(before, run, pageSize)) {
    out = out.delete(before.start);
    merged = { ...merged, start: before.start, index: before.index };
  }
  const after = out.get(run.last + 1n);
  if (after !== undefined && continues(merged, after, pageSize)) {
    out = out.delete(after.start);
    merged = { ...merged, last: after.last };
  }
  return out.set(merged.start, merged);
}
