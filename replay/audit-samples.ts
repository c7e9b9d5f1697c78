/**
 * The audit's charges over time: a sample of every target after each event that changed one,
 * thinned to a bounded number however long the trace. Past `max` samples every other one is
 * dropped and from then on only every `stride`-th change is kept, always with the latest;
 * each kept sample is still exactly the state after its line's event. Peaks are taken over
 * every change, kept or not.
 */
import type { Targets, TargetKind } from './audit-targets.ts';

/** One accounting target's charge, in pages, after each sampled event. */
export interface AuditSeries {
  readonly target: string;
  readonly kind: TargetKind;
  readonly values: number[];
  peak: number;
  peakLine: number;
}

export class AuditSamples {
  /** The trace line of each sample; sample i of every series is after that line's event. */
  readonly lines: number[] = [];
  readonly ops: string[] = [];
  readonly series = new Map<string, AuditSeries>();
  /** Changes each kept sample stands for (1: every change is kept). */
  stride = 1;
  private changes = 0;
  /** The last sample is the latest change, off the `stride` grid: the next change replaces it. */
  private provisional = false;

  constructor(private readonly max: number) {}

  /**
   * Records the targets after the event on `line`. A target seen for the first time gets a
   * series (zero before), in the order of `ordered` (every target, as the report lists them).
   */
  record(line: number, op: string, values: Targets, ordered: () => Targets): void {
    if (this.provisional) this.dropLast();
    const at = this.lines.length;
    const fresh = [...values.keys()].some((target) => !this.series.has(target));
    for (const [target, { kind }] of fresh ? ordered() : []) {
      if (!this.series.has(target)) this.series.set(target, { target, kind, values: new Array<number>(at).fill(0), peak: 0, peakLine: 0 });
    }
    this.lines.push(line);
    this.ops.push(op);
    for (const s of this.series.values()) {
      const pages = values.get(s.target)?.pages;
      const value = pages === undefined ? 0 : Number(pages);
      s.values.push(value);
      if (value > s.peak) {
        s.peak = value;
        s.peakLine = line;
      }
    }
    this.provisional = this.changes % this.stride !== 0;
    this.changes++;
    if (this.lines.length > this.max) this.thin();
  }

  /** Keeps the samples on a grid twice as wide, and the latest. */
  private thin(): void {
    const last = this.lines.length - 1;
    const keep = (i: number): boolean => i === last || i % 2 === 0;
    const filter = <T>(list: T[]): void => {
      let n = 0;
      for (let i = 0; i < list.length; i++) if (keep(i)) list[n++] = list[i] as T;
      list.length = n;
    };
    filter(this.lines);
    filter(this.ops);
    for (const s of this.series.values()) filter(s.values);
    this.stride *= 2;
    this.provisional = (this.changes - 1) % this.stride !== 0;
  }

  private dropLast(): void {
    this.lines.pop();
    this.ops.pop();
    for (const s of this.series.values()) s.values.pop();
  }
}
