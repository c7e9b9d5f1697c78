/**
 * Pages covered by any of a multiset of page ranges, kept as it changes: runs of consecutive
 * pages covered the same number of times, two neighbours never with the same count, so that
 * adding or removing a range costs the runs it crosses, and ranges added and removed again
 * leave nothing behind.
 */
import { OrderedMap } from '../src/model/ordered-map.ts';

interface Run {
  readonly last: bigint;
  readonly count: number;
}

export class Coverage {
  private runs = OrderedMap.empty<bigint, Run>();

  /** Whether no page is covered. */
  get empty(): boolean {
    return this.runs.size === 0;
  }

  /** Counts pages `[first, last]` once more; how many pages were not covered before. */
  add(first: bigint, last: bigint): bigint {
    this.split(first);
    this.split(last + 1n);
    let fresh = 0n;
    let at = first;
    // The runs as they were: a persistent map's old version stays as it is while `runs` changes.
    for (const [start, run] of this.runs.entriesFrom(first)) {
      if (start > last) break;
      if (start > at) {
        this.runs = this.runs.set(at, { last: start - 1n, count: 1 });
        fresh += start - at;
      }
      this.runs = this.runs.set(start, { ...run, count: run.count + 1 });
      at = run.last + 1n;
    }
    if (at <= last) {
      this.runs = this.runs.set(at, { last, count: 1 });
      fresh += last - at + 1n;
    }
    this.merge(first);
    this.merge(last + 1n);
    return fresh;
  }

  /** Counts pages `[first, last]`, which `add` counted, once less; how many pages are no longer covered. */
  remove(first: bigint, last: bigint): bigint {
    this.split(first);
    this.split(last + 1n);
    let gone = 0n;
    for (const [start, run] of this.runs.entriesFrom(first)) {
      if (start > last) break;
      if (run.count === 1) {
        this.runs = this.runs.delete(start);
        gone += run.last - start + 1n;
      } else {
        this.runs = this.runs.set(start, { ...run, count: run.count - 1 });
      }
    }
    this.merge(first);
    this.merge(last + 1n);
    return gone;
  }

  /** Makes `at` the first page of a run, when a run holds it past its first page. */
  private split(at: bigint): void {
    const below = this.runs.atOrBelow(at);
    if (below === undefined) return;
    const [start, run] = below;
    if (start === at || run.last < at) return;
    this.runs = this.runs.set(start, { ...run, last: at - 1n }).set(at, run);
  }

  /** Joins the run starting at `at` to the one just before it, when they touch and count alike. */
  private merge(at: bigint): void {
    const run = this.runs.get(at);
    const below = at === 0n ? undefined : this.runs.atOrBelow(at - 1n);
    if (run === undefined || below === undefined) return;
    const [start, before] = below;
    if (before.last !== at - 1n || before.count !== run.count) return;
    this.runs = this.runs.delete(at).set(start, { ...before, last: run.last });
  }
}
