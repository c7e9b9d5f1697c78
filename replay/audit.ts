/**
 * The pinned-memory audit: replays a trace and follows every accounting target over time —
 * each uid's locked_vm, each process's VmLck and VmPin, the pages each IOAS and each pages
 * object keeps pinned — with peaks, what is left charged once every fd is closed, the
 * invariants an event broke, and what VFIO type1 would have charged for the same workload.
 */
import type { World } from '../src/model/world.ts';
import { AuditSamples, type AuditSeries } from './audit-samples.ts';
import { PagesTable, type PagesRecord } from './audit-pages.ts';
import { TargetTracker, measure, totalOf } from './audit-targets.ts';
import { type FileOptions, exitCode, replayFile, type TraceReport } from './replay-file.ts';
import type { ViolationRecord } from './replayer.ts';

export type { AuditSeries } from './audit-samples.ts';
export type { PagesRecord } from './audit-pages.ts';
export { type1Charges } from './audit-targets.ts';

/** Samples kept per series, at most: a chart's worth. */
export const MAX_SAMPLES = 4096;
/** Rows kept of pages objects that went away, without `history`. */
export const GONE_PAGES_KEPT = 1000;

export interface AuditOptions extends Omit<FileOptions, 'invariants'> {
  /** `--history`: a row for every pages object the trace made, not only the live ones and the largest gone. */
  readonly history?: boolean;
}

export interface AuditReport {
  readonly file: string;
  /** The header's `description`, when it has one. */
  readonly description: string;
  readonly pageSize: number;
  readonly replay: TraceReport;
  /** The trace line of each sample; sample i of every series is after that line's event. */
  readonly lines: number[];
  /** Present when the samples were thinned: each kept sample stands for this many changes. */
  readonly sampleStride?: number;
  readonly ops: string[];
  readonly series: AuditSeries[];
  readonly pages: PagesRecord[];
  /** Present when rows of gone pages objects were left out (without `history`): how many. */
  readonly pagesOmitted?: number;
  /** Targets still charged after the last event while no iommufd context is left: a leak. */
  readonly leaks: { target: string; pages: number }[];
  /** Still charged at the end of the trace, per target (contexts may still be open). */
  readonly remaining: { target: string; pages: number }[];
  readonly violations: readonly ViolationRecord[];
  /** Peak pages charged in total: by iommufd (pinned_vm) and by VFIO type1 for the same mappings. */
  readonly comparison: { iommufdPeak: number; type1Peak: number; iommufdFinal: number; type1Final: number };
}

/** Replays one trace with the invariants on and collects the audit. */
export async function auditFile(file: string, options: AuditOptions): Promise<AuditReport> {
  const { history, ...replayOptions } = options;
  const samples = new AuditSamples(MAX_SAMPLES);
  const targets = new TargetTracker();
  const pages = new PagesTable(history === true ? Infinity : GONE_PAGES_KEPT);
  let pageSize = 4096;
  let description = '';
  let iommufdPeak = 0n;
  let type1Peak = 0n;
  let finalWorld: World | null = null;

  /** Samples every target after the event on `line`, once `targets` has taken in `world`. */
  const sample = (line: number, op: string, world: World) => {
    samples.record(line, op, targets.values, () => measure(world));
    const vmPin = totalOf(targets.values, 'pinned_vm');
    const type1 = totalOf(targets.values, 'type1');
    if (vmPin > iommufdPeak) iommufdPeak = vmPin;
    if (type1 > type1Peak) type1Peak = type1;
  };

  const replay = await replayFile(file, { ...replayOptions, invariants: true }, {
    start: (header, world) => {
      pageSize = Number(header.env.pageSize);
      const d = header.extra['description'];
      if (typeof d === 'string') description = d;
      targets.update(world);
      sample(1, 'start', world);
    },
    event: (event, before, after) => {
      finalWorld = after;
      if (after === before) return;
      if (targets.update(after)) sample(event.line, event.op, after);
      pages.update(after, event.line);
    },
  });

  const end = finalWorld === null ? targets.values : measure(finalWorld);
  const remaining = [...end]
    .filter(([, v]) => v.pages > 0n && v.kind !== 'type1')
    .map(([target, v]) => ({ target, pages: Number(v.pages) }));
  const closed = finalWorld === null || (finalWorld as World).contexts.size === 0;
  return {
    file,
    description,
    pageSize,
    replay,
    lines: samples.lines,
    ...(samples.stride > 1 ? { sampleStride: samples.stride } : {}),
    ops: samples.ops,
    series: [...samples.series.values()],
    pages: pages.rows(),
    ...(pages.omitted > 0 ? { pagesOmitted: pages.omitted } : {}),
    leaks: closed ? remaining : [],
    remaining,
    violations: replay.violations ?? [],
    comparison: {
      iommufdPeak: Number(iommufdPeak),
      type1Peak: Number(type1Peak),
      iommufdFinal: Number(totalOf(end, 'pinned_vm')),
      type1Final: Number(totalOf(end, 'type1')),
    },
  };
}

/** As `replay`'s, a leak counting as a violation: 2 if a file could not be replayed through, else 1 if one diverged or broke an invariant, else 0. */
export function auditExitCode(audits: readonly AuditReport[]): number {
  return exitCode({
    traces: audits.map((a) => a.replay),
    totals: {
      events: 0,
      ok: 0,
      ran: 0,
      unknown: 0,
      unsupported: 0,
      unsure_diverged: 0,
      diverged: audits.reduce((n, a) => n + a.replay.diverged, 0),
      violations: audits.reduce((n, a) => n + a.violations.length + a.leaks.length, 0),
    },
  });
}
